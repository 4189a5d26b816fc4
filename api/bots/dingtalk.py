"""The DingTalk enterprise robot, in both of DingTalk's delivery modes.

HTTP callback mode: DingTalk posts each message the robot receives to ``POST /dingtalk/callback``
with a ``timestamp`` (ms) and a ``sign`` header, sign = base64(HMAC-SHA256(AppSecret,
"{timestamp}\\n{AppSecret}")). A missing or wrong sign, or a timestamp more than an hour away,
gets 401; a good one is acknowledged at once and answered in the background.

Stream mode (:func:`run_stream`): the dingtalk-stream SDK holds a websocket to DingTalk, so the
server needs no public address; ``chatbi serve`` runs it in a background thread when the config
has a ``client_id``. DingTalk signs nothing there: the connection itself is authenticated.

Both modes parse the message with the SDK's :class:`ChatbotMessage` and answer the same way,
through the message's ``sessionWebhook``: markdown (the text with its numbers, the first rows as
a list, the definitions), or an ActionCard whose buttons send a clarification option back as the
user's next message. One conversation per chat (``dingtalk:{conversationId}``); staff ids map to
roles through the server config, and a stranger is told they have no access.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import dingtalk_stream
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage
from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Request

from api.bots.common import ASK_IN_TEXT, NO_ACCESS, RecentIds, ask_as, principal_for
from api.bots.render import dingtalk_message
from api.server.services import Services

log = logging.getLogger(__name__)

#: How far a callback's timestamp may be from now (DingTalk's own rule: one hour).
SIGN_WINDOW_MS = 60 * 60 * 1000
#: DingTalk's conversationType of a group chat, where the robot answers only when @-mentioned.
GROUP_CHAT = "2"
_WEBHOOK_TIMEOUT_S = 10


def signature(timestamp: str, secret: str) -> str:
    """DingTalk's callback signature: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(timestamp: str | None, sign: str | None, secret: str, now_ms: int | None = None) -> bool:
    """True for a sign that matches a timestamp within :data:`SIGN_WINDOW_MS` of now (constant-time compare)."""
    if not timestamp or not sign or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(timestamp)) > SIGN_WINDOW_MS:
        return False
    return hmac.compare_digest(signature(timestamp, secret).encode(), sign.encode())


def parse_message(data: Any) -> ChatbotMessage:
    """The robot message in a callback body; ValueError when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    try:
        return ChatbotMessage.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a DingTalk robot message ({type(exc).__name__}: {exc})") from None


class DingTalkBot:
    """Turns a robot message into a reply and sends it through the message's session webhook."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.answered = RecentIds()

    def reply_for(self, message: ChatbotMessage) -> dict[str, Any] | None:
        """The message to send back, or None when this one is not for the robot or was answered already."""
        if message.conversation_type == GROUP_CHAT and not message.is_in_at_list:
            return None
        if message.message_id and not self.answered.first_time(str(message.message_id)):
            return None
        config = self.services.config
        principal = principal_for(config, config.by_dingtalk_id(str(message.sender_staff_id or "")))
        if principal is None:
            return {"msgtype": "text", "text": {"content": NO_ACCESS}}
        content = message.text.content if message.message_type == "text" and message.text else None
        question = content.strip() if isinstance(content, str) else ""
        if not question:
            return {"msgtype": "text", "text": {"content": ASK_IN_TEXT}}
        answer = ask_as(self.services, principal, question, f"dingtalk:{message.conversation_id}")
        return dingtalk_message(answer, self.services.assistant.model)

    def answer(self, message: ChatbotMessage) -> None:
        payload = self.reply_for(message)
        if payload is not None:
            post_to_webhook(str(message.session_webhook or ""), payload)


def post_to_webhook(url: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to a session webhook; failures are logged (the user's message has no one else to tell)."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning("DingTalk message without an http(s) sessionWebhook: not answered")
        return
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=_WEBHOOK_TIMEOUT_S) as response:
            response.read()
    except (OSError, ValueError) as exc:
        log.warning("DingTalk session webhook failed: %s", exc)


def dingtalk_router(services: Services) -> APIRouter:
    """``POST /dingtalk/callback``: the robot's HTTP callback, signed with the AppSecret."""
    config = services.config.dingtalk
    if config is None:
        raise ValueError("the server config has no dingtalk section")
    secret = config.app_secret.get_secret_value()
    bot = DingTalkBot(services)
    router = APIRouter(tags=["bots"])

    @router.post("/dingtalk/callback", summary="DingTalk robot messages (HTTP callback mode, signed)")
    async def dingtalk_callback(
        request: Request,
        background: BackgroundTasks,
        timestamp: str | None = Header(default=None),
        sign: str | None = Header(default=None),
    ) -> dict[str, Any]:
        if not verify_signature(timestamp, sign, secret):
            raise HTTPException(status_code=401, detail="missing or invalid DingTalk signature (timestamp, sign)")
        try:
            message = parse_message(json.loads(await request.body()))
        except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too
            raise HTTPException(status_code=400, detail=f"malformed DingTalk callback: {exc}") from None
        background.add_task(bot.answer, message)
        return {}

    return router


class ChatbiChatbotHandler(dingtalk_stream.ChatbotHandler):
    """Stream mode: each robot message the websocket delivers is answered like an HTTP callback."""

    def __init__(self, bot: DingTalkBot) -> None:
        super().__init__()
        self.bot = bot

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        try:
            message = parse_message(callback.data)
        except ValueError as exc:
            log.warning("DingTalk stream message skipped: %s", exc)
            return AckMessage.STATUS_BAD_REQUEST, str(exc)
        await asyncio.to_thread(self.bot.answer, message)  # the planner blocks; the websocket must not
        return AckMessage.STATUS_OK, "OK"


def run_stream(services: Services) -> None:
    """Connect to DingTalk in Stream mode and answer robot messages; blocks for good (run it in a daemon thread)."""
    config = services.config.dingtalk
    if config is None or not config.client_id:
        raise ValueError("Stream mode needs dingtalk.client_id and dingtalk.app_secret in the server config")
    credential = dingtalk_stream.Credential(config.client_id, config.app_secret.get_secret_value())
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_callback_handler(ChatbotMessage.TOPIC, ChatbiChatbotHandler(DingTalkBot(services)))
    client.start_forever()
