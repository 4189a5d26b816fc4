"""The DingTalk enterprise robot, in both of DingTalk's delivery modes.

HTTP callback mode: DingTalk posts each message the robot receives to ``POST /dingtalk/callback``
with a ``timestamp`` (ms) and a ``sign`` header, sign = base64(HMAC-SHA256(AppSecret,
"{timestamp}\\n{AppSecret}")). A missing or wrong sign, or a timestamp farther from now than
``dingtalk.sign_window_s`` (at most DingTalk's hour), gets 401; a good one is acknowledged at
once and answered in the background.

The sign covers the timestamp only, not the body: whoever captures one signed callback could
send any body under it until the window closes, as any staff id, naming any reply URL. So a
(timestamp, sign) pair is accepted once by the whole deployment (:mod:`api.shared_state`), and a
reply goes only to a ``sessionWebhook`` on ``dingtalk.webhook_hosts`` (DingTalk's own by default)
that has not expired (``sessionWebhookExpiredTime``).

Stream mode (:func:`run_stream`): the dingtalk-stream SDK holds a websocket to DingTalk, so the
server needs no public address; ``chatbi serve`` runs it in a background thread when the config
has a ``client_id``. DingTalk signs nothing there: the connection itself is authenticated.

Both modes parse the message with the SDK's :class:`ChatbotMessage`, answer each ``msgId`` once
per deployment (DingTalk redelivers, possibly to another worker) and answer the same way,
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
import re
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import dingtalk_stream
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage
from fastapi import APIRouter, BackgroundTasks, Header, Request
from starlette.concurrency import run_in_threadpool

from agent.answer_store import Rating
from api.bots.common import (
    ANSWERED_TTL_S,
    ASK_IN_TEXT,
    NO_ACCESS,
    ask_as,
    asker_for,
    clean_text,
    downloads,
    principal_for,
    record_feedback,
    refused,
)
from api.bots.render import DINGTALK_FEEDBACK, THUMBS, dingtalk_message
from api.server.config import DingTalkConfig
from api.server.services import Services
from api.shared_state import SharedState

log = logging.getLogger(__name__)

#: DingTalk's conversationType of a group chat, where the robot answers only when @-mentioned.
GROUP_CHAT = "2"
#: A timestamp in ms has 13 digits until the year 2286: anything longer is not one (and int() of it is costly).
_MAX_TIMESTAMP_DIGITS = 13
_WEBHOOK_TIMEOUT_S = 10


def signature(timestamp: str, secret: str) -> str:
    """DingTalk's callback signature: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_problem(
    timestamp: str | None, sign: str | None, secret: str, window_s: int, now_ms: int | None = None
) -> str | None:
    """Why the callback's (timestamp, sign) is not DingTalk's, or None when it is (constant-time compare)."""
    if not timestamp or not sign:
        return "missing DingTalk signature (timestamp and sign headers)"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return "invalid DingTalk signature: the timestamp is not milliseconds since the epoch"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(timestamp)) > window_s * 1000:
        return f"invalid DingTalk signature: the timestamp is more than {window_s} s from the server's clock"
    if not hmac.compare_digest(signature(timestamp, secret).encode(), sign.encode()):
        return "invalid DingTalk signature (timestamp, sign)"
    return None


def parse_message(data: Any) -> ChatbotMessage:
    """The robot message in a callback body; ValueError when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    try:
        return ChatbotMessage.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # the SDK trusts the shape
        raise ValueError(f"not a DingTalk robot message ({type(exc).__name__}: {exc})") from None


def parse_body(body: bytes) -> ChatbotMessage:
    """The robot message in a raw callback body; ValueError for anything else, however deep or undecodable."""
    try:
        data = json.loads(body)  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
    except RecursionError:
        raise ValueError("the body is nested too deeply") from None
    return parse_message(data)


def webhook_problem(message: ChatbotMessage, config: DingTalkConfig, now_ms: int | None = None) -> str | None:
    """Why the message's sessionWebhook must not be posted to, or None when it may.

    The URL comes from the message body, which in callback mode only the (body-blind) signature
    vouches for: a reply goes to DingTalk's own hosts only, and only while the webhook is alive.
    """
    url = str(message.session_webhook or "")
    try:
        parts = urlsplit(url)
    except ValueError:
        return "its sessionWebhook is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it has no http(s) sessionWebhook"
    if parts.hostname.lower() not in {host.lower() for host in config.webhook_hosts}:
        return f"its sessionWebhook host {parts.hostname!r} is not in dingtalk.webhook_hosts"
    expires = message.session_webhook_expired_time
    if not isinstance(expires, int):
        return "it has no sessionWebhookExpiredTime"
    if expires <= (int(time.time() * 1000) if now_ms is None else now_ms):
        return "its sessionWebhook has expired"
    return None


#: The message an ActionCard thumbs button sends: ``反馈 👍 <answer_id>``, optionally followed by a comment.
_FEEDBACK = re.compile(
    rf"^{DINGTALK_FEEDBACK}\s*(?P<thumb>{'|'.join(THUMBS.values())})\s*(?P<answer_id>[A-Za-z0-9_-]{{8,64}})\s*(?P<comment>.*)$",
    re.DOTALL,
)


class DingTalkBot:
    """Turns a robot message into a reply and sends it through the message's session webhook."""

    def __init__(self, services: Services, state: SharedState) -> None:
        if services.config.dingtalk is None:
            raise ValueError("the server config has no dingtalk section")
        self.services = services
        self.config = services.config.dingtalk
        self.state = state

    def reply_for(self, message: ChatbotMessage, base_url: str | None = None) -> dict[str, Any]:
        """The message to send back: the answer (download links relative to ``base_url``, else the config's
        public_url), the thanks for a thumbs verdict, or why there is none."""
        config = self.services.config
        user = config.by_dingtalk_id(str(message.sender_staff_id or ""))
        principal = principal_for(config, user)
        if principal is None:
            return {"msgtype": "text", "text": {"content": NO_ACCESS}}
        content = message.text.content if message.message_type == "text" and message.text else None
        question = clean_text(content).strip() if isinstance(content, str) else ""
        if not question:
            return {"msgtype": "text", "text": {"content": ASK_IN_TEXT}}
        asker = asker_for(user, principal)
        verdict = _FEEDBACK.match(question)
        if verdict is not None:
            rating: Rating = "up" if verdict["thumb"] == THUMBS["up"] else "down"
            text = record_feedback(self.services, asker, verdict["answer_id"], rating, verdict["comment"])
            return {"msgtype": "text", "text": {"content": text}}
        answer = ask_as(self.services, principal, question, f"dingtalk:{message.conversation_id}", asker)
        return dingtalk_message(answer, self.services.assistant.model, downloads(self.services, base_url, answer))

    def answer(self, message: ChatbotMessage, base_url: str | None = None) -> None:
        """Answer the message once per deployment, if it is for the robot and its webhook may be used."""
        if message.conversation_type == GROUP_CHAT and not message.is_in_at_list:
            return
        problem = webhook_problem(message, self.config)
        if problem is not None:
            log.warning("DingTalk message %s not answered: %s", message.message_id, problem)
            return
        if message.message_id and not self.state.seen_once("dingtalk-message", str(message.message_id), ANSWERED_TTL_S):
            log.info("DingTalk message %s was answered already", message.message_id)
            return
        post_to_webhook(str(message.session_webhook), self.reply_for(message, base_url))


def post_to_webhook(url: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` to a session webhook; failures are logged (the user's message has no one else to tell)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=_WEBHOOK_TIMEOUT_S) as response:
            response.read()
    except (OSError, ValueError) as exc:
        log.warning("DingTalk session webhook failed: %s", exc)


def dingtalk_router(services: Services, state: SharedState | None = None) -> APIRouter:
    """``POST /dingtalk/callback``: the robot's HTTP callback, signed with the AppSecret.

    ``state`` is the deployment's shared state (default: the one in ``$CHATBI_HOME``).
    """
    config = services.config.dingtalk
    if config is None:
        raise ValueError("the server config has no dingtalk section")
    secret = config.app_secret.get_secret_value()
    shared = state or SharedState()
    bot = DingTalkBot(services, shared)
    router = APIRouter(tags=["bots"])

    @router.post("/dingtalk/callback", summary="DingTalk robot messages (HTTP callback mode, signed)")
    async def dingtalk_callback(
        request: Request,
        background: BackgroundTasks,
        timestamp: str | None = Header(default=None),
        sign: str | None = Header(default=None),
    ) -> dict[str, Any]:
        problem = signature_problem(timestamp, sign, secret, config.sign_window_s)
        if problem is not None:
            raise refused(401, problem)
        # the sign does not cover the body: a pair seen before is a replay, whatever body it comes with
        pair = f"{timestamp}:{sign}"  # remembered for two windows: the longest it can be acceptable
        if not await run_in_threadpool(shared.seen_once, "dingtalk-sign", pair, 2 * config.sign_window_s):
            raise refused(401, "this DingTalk signature (timestamp, sign) was used already: each is accepted once")
        try:
            message = parse_body(await request.body())
        except ValueError as exc:
            raise refused(400, f"malformed DingTalk callback: {exc}") from None
        background.add_task(bot.answer, message, str(request.base_url))
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


def run_stream(services: Services, state: SharedState | None = None) -> None:
    """Connect to DingTalk in Stream mode and answer robot messages; blocks for good (run it in a daemon thread).

    ``state`` is the deployment's shared state (default: the one in ``$CHATBI_HOME``), so a
    message is answered once whether it came by the stream or by a callback to another worker.
    """
    config = services.config.dingtalk
    if config is None or not config.client_id:
        raise ValueError("Stream mode needs dingtalk.client_id and dingtalk.app_secret in the server config")
    credential = dingtalk_stream.Credential(config.client_id, config.app_secret.get_secret_value())
    client = dingtalk_stream.DingTalkStreamClient(credential)
    bot = DingTalkBot(services, state or SharedState())
    client.register_callback_handler(ChatbotMessage.TOPIC, ChatbiChatbotHandler(bot))
    client.start_forever()
