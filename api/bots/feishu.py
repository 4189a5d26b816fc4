"""The Feishu (Lark) bot, in both of Feishu's delivery modes, on the official lark-oapi SDK.

Long-connection mode (:func:`run_long_connection`): the SDK's websocket client dials out to
Feishu, so the server needs no public address; ``chatbi serve`` starts it in a background thread
of every worker when ``feishu.long_connection`` is true. Feishu signs nothing there: the
connection itself is authenticated with the app's id and secret.

Event-callback mode (``POST /feishu/events``, when ``verification_token`` and ``encrypt_key`` are
configured): Feishu encrypts each body with the encrypt key (AES-256-CBC, the SDK decrypts) and
signs the request, X-Lark-Signature = sha256(timestamp + nonce + encrypt_key + raw body). A
missing or wrong signature, or a timestamp farther from now than ``feishu.sign_window_s``, gets
401, as does a body whose verification token is not ours. The one unsigned request Feishu sends
is the ``url_verification`` challenge, which is answered only when it decrypts with the key and
carries the token. The signature covers the body, so a replay is the same event: each message
(``message_id``) and card click (``event_id``) is handled once per deployment
(:mod:`api.shared_state`), whichever worker or mode it reaches.

Both modes hand the SDK's typed events to :class:`FeishuBot`, which acknowledges at once (Feishu
wants an answer within 3 s; a question can take longer) and answers in its own threads: a reply to
the message (in its thread when it is in one) as an interactive card, whose option buttons come back
as ``card.action.trigger`` callbacks and are asked as the next question. An answer with rows is kept
(:mod:`agent.answer_store`): its card links the CSV/XLSX downloads (with the answer's link token, at
``public_url``: a long connection has no request address) and ends with 👍/👎 buttons whose click is
kept as feedback for the clicking user, when the store lets them read that answer, and confirmed
with a toast in the callback's own response. One conversation per chat,
or per thread (``feishu:{chat_id}`` or ``feishu:{chat_id}:{thread_id}``). Senders map to roles through
the server config (``feishu_ids``: open_id, user_id or union_id); a stranger is told they have no
access. The im.v1 API client is the SDK's, pointed at ``feishu.api_base``; it fetches the
tenant_access_token and caches it until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import lark_oapi as lark
from fastapi import APIRouter, Request
from lark_oapi.api.im.v1 import (
    EventMessage,
    P2ImMessageReceiveV1,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
    UserId,
)
from lark_oapi.core.exception import UnmarshalException
from lark_oapi.core.utils import AESCipher
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    CallBackToast,
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from starlette.concurrency import run_in_threadpool

from api.bots.common import (
    ANSWERED_TTL_S,
    ASK_IN_TEXT,
    FEEDBACK_THANKS,
    NO_ACCESS,
    ask_as,
    asker_for,
    clean_text,
    downloads,
    principal_for,
    record_feedback,
    refused,
)
from api.bots.render import FEISHU_ANSWER, FEISHU_FEEDBACK, FEISHU_OPTION, THUMBS, feishu_card
from api.server.answers import ANSWER_ID
from api.server.config import FeishuConfig, User
from api.server.services import Services
from api.shared_state import SharedState
from semantic_layer.query import Principal

log = logging.getLogger(__name__)

#: Seconds since the epoch have 10 digits until the year 2286: anything longer is not a timestamp.
_MAX_TIMESTAMP_DIGITS = 10
#: The button value's keys naming where a click is answered (the option itself is under FEISHU_OPTION).
_CONVERSATION, _IN_THREAD = "chatbi_conversation", "chatbi_in_thread"
#: Questions answered at once per process; more wait in the pool's queue.
_ANSWER_THREADS = 4
MESSAGE_RECEIVED = "im.message.receive_v1"
CARD_ACTION = "card.action.trigger"


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Feishu's request signature: hex sha256 of timestamp + nonce + encrypt key + the raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signature_problem(
    headers: Mapping[str, str], body: bytes, encrypt_key: str, window_s: int, now: float | None = None
) -> str | None:
    """Why the request is not signed by Feishu, or None when it is (constant-time compare)."""
    timestamp = headers.get("x-lark-request-timestamp")
    nonce = headers.get("x-lark-request-nonce")
    sign = headers.get("x-lark-signature")
    if not timestamp or nonce is None or not sign:
        return "missing Feishu signature (X-Lark-Request-Timestamp, X-Lark-Request-Nonce, X-Lark-Signature)"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return "invalid Feishu signature: X-Lark-Request-Timestamp is not seconds since the epoch"
    if abs((time.time() if now is None else now) - int(timestamp)) > window_s:
        return f"invalid Feishu signature: the timestamp is more than {window_s} s from the server's clock"
    if not hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body).encode(), sign.encode()):
        return "invalid Feishu signature"
    return None


def decrypt_body(body: bytes, encrypt_key: str) -> tuple[str, dict[str, Any]]:
    """The callback's plaintext and its JSON object; ValueError when the body is not ``{"encrypt": ...}``
    under this key, or the plaintext is not a JSON object."""
    try:
        outer = json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(outer, dict) or not isinstance(outer.get("encrypt"), str):
        raise ValueError("not an encrypted Feishu event")
    try:
        plaintext = AESCipher(encrypt_key).decrypt_str(outer["encrypt"])  # base64, padding, UTF-8: ValueErrors
        event = json.loads(plaintext)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"does not decrypt with the encrypt key to a JSON event ({type(exc).__name__})") from None
    if not isinstance(event, dict):
        raise ValueError("the decrypted event is not a JSON object")
    return plaintext, event


def event_token(event: dict[str, Any]) -> str | None:
    """The verification token an event carries: in its header (schema 2.0) or at the top (the challenge)."""
    header = event.get("header")
    token = header.get("token") if isinstance(header, dict) else event.get("token")
    return token if isinstance(token, str) else None


def event_type(event: dict[str, Any]) -> str | None:
    header = event.get("header")
    kind = header.get("event_type") if isinstance(header, dict) else event.get("type")
    return kind if isinstance(kind, str) else None


@dataclass(frozen=True)
class _Where:
    """Where a question was asked: the message to reply to, whether in its thread, and the conversation."""

    message_id: str
    in_thread: bool
    conversation_id: str


def question_of(message: EventMessage) -> str:
    """The message's text without the @mentions (``@_user_1`` placeholders); empty for anything but text."""
    if message.message_type != "text" or not isinstance(message.content, str):
        return ""
    try:
        content = json.loads(message.content)
    except (ValueError, RecursionError):
        return ""
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(text, str):
        return ""
    for mention in message.mentions or []:
        if isinstance(mention.key, str) and mention.key:
            text = text.replace(mention.key, "")
    return clean_text(text.replace("@_all", "")).strip()


class FeishuBot:
    """Turns the SDK's events into replies through the im.v1 API, each event once per deployment."""

    def __init__(self, services: Services, state: SharedState) -> None:
        if services.config.feishu is None:
            raise ValueError("the server config has no feishu section")
        self.services = services
        self.config: FeishuConfig = services.config.feishu
        self.state = state
        self.client = (
            lark.Client.builder()
            .app_id(self.config.app_id)
            .app_secret(self.config.app_secret.get_secret_value())
            .domain(self.config.api_base.rstrip("/"))
            .log_level(lark.LogLevel.WARNING)
            .build()
        )
        self._pool = ThreadPoolExecutor(_ANSWER_THREADS, thread_name_prefix="feishu-answer")

    # -- events (called by the SDK's dispatcher or the callback route; must return at once) ------
    def on_message(self, data: P2ImMessageReceiveV1) -> None:
        event = data.event
        message = event.message if event is not None else None
        sender = event.sender if event is not None else None
        if message is None or sender is None or not message.message_id or not message.chat_id:
            log.warning("Feishu message event without a message, sender or chat skipped")
            return
        if sender.sender_type not in (None, "user"):
            return  # other bots and apps: not questions
        if message.chat_type == "group" and not message.mentions:
            return  # in a group the bot answers when it is @-mentioned (Feishu only delivers those by default)
        if not self.state.seen_once("feishu-message", message.message_id, ANSWERED_TTL_S):
            log.info("Feishu message %s was answered already", message.message_id)
            return
        conversation = f"feishu:{message.chat_id}" + (f":{message.thread_id}" if message.thread_id else "")
        where = _Where(message.message_id, bool(message.thread_id), conversation)
        self._pool.submit(self._answer, sender.sender_id, question_of(message), where, False)

    def on_card_action(self, data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        """An option button was clicked: answer the option in the card's conversation; a toast says so.
        A thumbs button: keep the verdict at once (one SQLite write), so the toast can say whether it was."""
        event = data.event
        value = event.action.value if event is not None and event.action is not None else None
        context = event.context if event is not None else None
        if isinstance(value, dict) and FEISHU_FEEDBACK in value:
            return self._on_feedback(data, value)
        if (
            not isinstance(value, dict)
            or not isinstance(value.get(FEISHU_OPTION), str)
            or context is None
            or not context.open_message_id
            or not context.open_chat_id
        ):
            return _toast(None)  # not one of chatbi's option buttons
        option: str = value[FEISHU_OPTION]
        conversation = value.get(_CONVERSATION)
        chat = f"feishu:{context.open_chat_id}"
        if not isinstance(conversation, str) or not (conversation == chat or conversation.startswith(chat + ":")):
            log.warning("Feishu card action on %s names another chat's conversation", context.open_message_id)
            return _toast(None)
        if not self._first_delivery(data):
            return _toast(None)
        where = _Where(context.open_message_id, bool(value.get(_IN_THREAD)), conversation)
        self._pool.submit(self._answer, _operator(data), clean_text(option).strip(), where, True)
        return _toast(f"› {option}")

    def _on_feedback(self, data: P2CardActionTrigger, value: dict[str, Any]) -> P2CardActionTriggerResponse:
        rating, answer_id = value.get(FEISHU_FEEDBACK), value.get(FEISHU_ANSWER)
        if not isinstance(rating, str) or rating not in THUMBS or not isinstance(answer_id, str) or not re.fullmatch(ANSWER_ID, answer_id):
            return _toast(None)  # not one of chatbi's thumbs buttons
        if not self._first_delivery(data):
            return _toast(None)
        user, principal = self._who(_operator(data))
        if principal is None:
            return _toast(NO_ACCESS, "error")
        told = record_feedback(
            self.services, asker_for(user, principal), answer_id, "up" if rating == "up" else "down", None
        )
        return _toast(told, "success" if told == FEEDBACK_THANKS else "warning")

    def _first_delivery(self, data: P2CardActionTrigger) -> bool:
        """Whether this click (``event_id``) reaches the deployment for the first time: a replay is not handled."""
        event_id = data.header.event_id if data.header is not None else None
        if event_id and not self.state.seen_once("feishu-card-action", event_id, ANSWERED_TTL_S):
            log.info("Feishu card action %s was answered already", event_id)
            return False
        return True

    def _who(self, sender: UserId | None) -> tuple[User | None, Principal | None]:
        """The configured user a Feishu sender is and their principal (None for a stranger)."""
        config = self.services.config
        ids = (sender.open_id, sender.user_id, sender.union_id) if sender is not None else ()
        user = config.by_feishu_ids(*ids)
        return user, principal_for(config, user)

    # -- answering (in the pool) --------------------------------------------------------------
    def _answer(self, sender: UserId | None, question: str, where: _Where, picked: bool) -> None:
        try:
            self._send(where, *self.reply_for(sender, question, where, picked))
        except Exception:  # a thread of the pool has no one else to tell
            log.exception("answering Feishu message %s failed", where.message_id)

    def reply_for(
        self, sender: UserId | None, question: str, where: _Where, picked: bool = False
    ) -> tuple[str, dict[str, Any]]:
        """The reply's msg_type and content: a card with the answer, or a text saying why there is none."""
        user, principal = self._who(sender)
        if principal is None:
            return "text", {"text": NO_ACCESS}
        if not question:
            return "text", {"text": ASK_IN_TEXT}
        answer = ask_as(self.services, principal, question, where.conversation_id, asker_for(user, principal))
        chart_url = f"{self.config.public_url.rstrip('/')}/?q={quote(question)}" if self.config.public_url else None
        action = {_CONVERSATION: where.conversation_id, _IN_THREAD: where.in_thread}
        card = feishu_card(
            answer,
            self.services.assistant.model,
            action=action,
            chart_url=chart_url,
            picked=question if picked else None,
            downloads=downloads(self.services, self.config.public_url, answer),
        )
        return "interactive", card

    def _send(self, where: _Where, msg_type: str, content: dict[str, Any]) -> None:
        body = (
            ReplyMessageRequestBody.builder()
            .msg_type(msg_type)
            .content(json.dumps(content, ensure_ascii=False))
            .reply_in_thread(where.in_thread)
            .build()
        )
        request = ReplyMessageRequest.builder().message_id(where.message_id).request_body(body).build()
        response = self.client.im.v1.message.reply(request)
        if not response.success():
            log.warning("Feishu reply to %s failed: %s %s", where.message_id, response.code, response.msg)


def _operator(data: P2CardActionTrigger) -> UserId | None:
    """The clicking user's ids, whoever the card was for."""
    operator = data.event.operator if data.event is not None else None
    if operator is None:
        return None
    return UserId({"open_id": operator.open_id, "user_id": operator.user_id, "union_id": operator.union_id})


def _toast(content: str | None, kind: str = "info") -> P2CardActionTriggerResponse:
    """The card callback's answer: a toast (info, success, warning or error) with ``content``, or nothing to show."""
    response = P2CardActionTriggerResponse()
    if content:
        toast = CallBackToast()
        toast.type, toast.content = kind, content[:200]
        response.toast = toast
    return response


def dispatcher(bot: FeishuBot) -> lark.EventDispatcherHandler:
    """The SDK's event dispatcher for the long connection: messages and card clicks to the bot."""
    return (
        lark.EventDispatcherHandler.builder("", "")
        .register_p2_im_message_receive_v1(bot.on_message)
        .register_p2_card_action_trigger(bot.on_card_action)
        .build()
    )


def handle_event(bot: FeishuBot, plaintext: str, kind: str | None) -> dict[str, Any]:
    """A decrypted, verified callback handled as the long connection would; the response body."""
    if kind == MESSAGE_RECEIVED:
        bot.on_message(lark.JSON.unmarshal(plaintext, P2ImMessageReceiveV1))
        return {}
    if kind == CARD_ACTION:
        result: dict[str, Any] = json.loads(
            lark.JSON.marshal(bot.on_card_action(lark.JSON.unmarshal(plaintext, P2CardActionTrigger)))
        )
        return result
    log.info("Feishu event %s ignored (not subscribed by chatbi)", kind)
    return {}


def feishu_router(services: Services, state: SharedState | None = None) -> APIRouter:
    """``POST /feishu/events``: Feishu's event and card-action callbacks, encrypted and signed.

    ``state`` is the deployment's shared state (default: the one in ``$CHATBI_HOME``).
    """
    config = services.config.feishu
    if config is None or config.encrypt_key is None or config.verification_token is None:
        raise ValueError("event-callback mode needs feishu.verification_token and feishu.encrypt_key")
    key = config.encrypt_key.get_secret_value()
    token = config.verification_token.get_secret_value()
    bot = FeishuBot(services, state or SharedState())
    router = APIRouter(tags=["bots"])

    @router.post("/feishu/events", summary="Feishu events and card actions (event-callback mode, encrypted, signed)")
    async def feishu_events(request: Request) -> dict[str, Any]:
        body = await request.body()
        signed = "x-lark-signature" in request.headers
        if signed:
            problem = signature_problem(request.headers, body, key, config.sign_window_s)
            if problem is not None:
                raise refused(401, problem)
        try:
            plaintext, event = decrypt_body(body, key)
        except ValueError as exc:  # unsigned and undecryptable: a stranger's body, not a broken Feishu one
            raise refused(400 if signed else 401, f"malformed Feishu callback: {exc}") from None
        given = event_token(event)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise refused(401, "invalid Feishu verification token")
        kind = event_type(event)
        if kind == "url_verification":
            return {"challenge": str(event.get("challenge") or "")}
        if not signed:
            raise refused(
                401, "missing Feishu signature (X-Lark-Signature): only the url_verification challenge is unsigned"
            )
        try:
            return await run_in_threadpool(handle_event, bot, plaintext, kind)
        except (UnmarshalException, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            raise refused(400, f"malformed Feishu event ({type(exc).__name__})") from None

    return router


def run_long_connection(services: Services, state: SharedState | None = None) -> None:
    """Connect to Feishu over the SDK's long connection and answer events; blocks for good (a daemon thread).

    ``state`` is the deployment's shared state (default: the one in ``$CHATBI_HOME``), so an event
    is answered once whichever worker's connection, or callback, it reaches.
    """
    config = services.config.feishu
    if config is None or not config.long_connection:
        raise ValueError("the long connection needs feishu.long_connection: true (and app_id, app_secret)")
    from lark_oapi.ws import client as ws_client

    # The SDK's websocket code runs on a module-level loop taken when it was imported, which in a
    # worker is uvicorn's running loop: this thread gets a loop of its own instead.
    ws_client.loop = asyncio.new_event_loop()
    asyncio.set_event_loop(ws_client.loop)
    bot = FeishuBot(services, state or SharedState())
    client = lark.ws.Client(
        config.app_id,
        config.app_secret.get_secret_value(),
        event_handler=dispatcher(bot),
        domain=config.api_base.rstrip("/"),
        log_level=lark.LogLevel.WARNING,
    )
    client.start()
