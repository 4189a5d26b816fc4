"""The Slack bot: a slack-bolt app behind ``POST /slack/events`` (Events API and interactivity).

The route checks Slack's signature over the raw bytes before anything parses them (an unsigned
request, a wrong signature, a timestamp that is not one or older than five minutes gets 401),
then requires the body to parse as a JSON object the way bolt will parse it (else 400): bolt
itself would parse first and crash on ``[1]`` or deep nesting. Bolt checks the signature again,
answers Slack's url_verification challenge, and acknowledges each event at once while the
listener answers in its thread pool: Slack wants a 200 within 3 seconds, and a question can take
longer. Deliveries Slack marks as retries (``X-Slack-Retry-Num``) are acknowledged and dropped,
since the first delivery is already being answered; a message is answered once per deployment
(the shared state of :mod:`api.shared_state`), whichever worker each delivery reaches.

The bot answers app mentions and direct messages in the message's thread, one conversation per
thread (``slack:{team}:{channel}:{thread_ts}``), so "那京东呢?" in the thread follows up on the
question before it. Clarification options are buttons; a click comes back as a ``block_actions``
interaction and is asked as the next question in the same thread. Slack user ids map to roles
through the server config; a user it does not know is told they have no access, and gets no data.

The chart link points at the server's demo page with the question (``/?q=...``), where the widget
asks it and draws the chart: a chat message cannot draw one itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.request.internals import parse_body
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

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
from api.bots.render import FEEDBACK_ACTION, OPTION_ACTION, THUMBS, slack_blocks, slack_text
from api.server.config import SlackConfig
from api.server.errors import error_response
from api.server.services import Services
from api.shared_state import SharedState

log = logging.getLogger(__name__)

#: Bolt context key: the URL this server was reached at, for the chart link.
BASE_URL = "chatbi_base_url"
#: Slack's rule: a request signed more than five minutes from now is refused.
SIGN_WINDOW_S = 5 * 60
#: Seconds since the epoch have 10 digits until the year 2286: anything longer is not a timestamp.
_MAX_TIMESTAMP_DIGITS = 10
#: The payload fields bolt reads without checking their type, with the shape Slack gives them (absent or null is fine).
_SHAPES: dict[str, type] = {
    "event": dict, "team": dict, "enterprise": dict, "user": dict, "channel": dict, "container": dict,
    "message": dict, "view": dict, "authorizations": list, "actions": list,
}  # fmt: skip
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def signature_problem(body: bytes, headers: Mapping[str, str], secret: str, now: float | None = None) -> str | None:
    """Why the request is not signed by Slack, or None when it is: HMAC-SHA256 over the raw bytes, constant-time."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing Slack signature (X-Slack-Request-Timestamp, X-Slack-Signature)"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return "invalid Slack signature: X-Slack-Request-Timestamp is not seconds since the epoch"
    if abs((time.time() if now is None else now) - int(timestamp)) > SIGN_WINDOW_S:
        return "invalid Slack signature: the request is more than five minutes old (or ahead)"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "invalid Slack signature"
    return None


def parse_payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The request's payload, parsed by bolt's own rule (JSON, or a form with a JSON ``payload``); ValueError
    when it is not an object, not UTF-8 or nested too deeply, so that bolt is only given what it can handle."""
    try:
        data = parse_body(body.decode("utf-8"), content_type.split(";")[0].strip() if content_type else None)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and json.JSONDecodeError
        raise ValueError(type(exc).__name__) from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    for key, kind in _SHAPES.items():
        value = data.get(key)
        if value is None:
            continue
        if kind is dict and not isinstance(value, dict):
            raise ValueError(f"{key} is not an object")
        if kind is list and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise ValueError(f"{key} is not a list of objects")
    return data


def slack_router(services: Services, state: SharedState | None = None) -> APIRouter:
    """``POST /slack/events``: every Events API and interactivity request of the Slack app.

    ``state`` is the deployment's shared state (default: the one in ``$CHATBI_HOME``).
    """
    app = build_app(services, state or SharedState())
    secret = _config(services).signing_secret.get_secret_value()
    router = APIRouter(tags=["bots"])

    @router.post("/slack/events", summary="Slack Events API and interactivity (signed by Slack)")
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        problem = signature_problem(body, request.headers, secret)
        if problem is not None:
            raise refused(401, problem)
        try:
            parse_payload(body, request.headers.get("content-type"))
        except ValueError as exc:
            raise refused(400, f"the signed request body does not parse ({exc})") from None
        bolt_request = to_bolt_request(request, body, {BASE_URL: str(request.base_url)})
        # dispatch blocks (signature check, auth.test once, waiting for ack): keep it off the event loop
        bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
        if bolt_response.status >= 500:  # bolt logged why; the client gets this API's JSON error, not bolt's empty body
            return error_response(500, "the Slack bot could not handle this request (logged)")
        return to_starlette_response(bolt_response)

    return router


def build_app(services: Services, state: SharedState) -> App:
    """The bolt app: signature verification, retries dropped, mention / DM / option-button listeners."""
    config = _config(services)
    client = WebClient(token=config.bot_token.get_secret_value(), base_url=config.api_base)
    app = App(
        name="chatbi",
        client=client,
        signing_secret=config.signing_secret.get_secret_value(),
        token_verification_enabled=False,  # auth.test on the first event, not while the server starts
        before_authorize=_drop_retries,
    )

    def answer(client: WebClient, context: BoltContext, question: str, where: _Thread, picked: bool = False) -> None:
        user = services.config.by_slack_id(where.user)
        principal = principal_for(services.config, user)
        if principal is None:
            client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=NO_ACCESS)
            return
        if not question:
            client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=ASK_IN_TEXT)
            return
        reply = ask_as(services, principal, question, where.conversation_id, asker_for(user, principal))
        base_url = context.get(BASE_URL)
        chart_url = f"{base_url or '/'}?q={quote(question)}"
        client.chat_postMessage(
            channel=where.channel,
            thread_ts=where.thread_ts,
            text=slack_text(reply),
            blocks=slack_blocks(
                reply,
                services.assistant.model,
                chart_url=chart_url,
                picked=question if picked else None,
                downloads=downloads(services, base_url, reply),
            ),
            unfurl_links=False,
            unfurl_media=False,
        )

    def on_message_event(event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, deletions, joins, other bots: not questions
        if event.get("type") == "message" and event.get("channel_type") != "im":
            return  # in channels the bot answers mentions (an app_mention event) only
        where = _Thread.of_event(event, body)
        message = f"{where.team}:{event.get('channel')}:{event.get('ts')}"
        if not state.seen_once("slack-message", message, ANSWERED_TTL_S):
            log.info("Slack message %s was answered already", message)
            return  # the same message as a mention and as a message, or a redelivery (to any worker)
        question = clean_text(_unescape(_MENTION.sub("", str(event.get("text") or "")))).strip()
        answer(client, context, question, where)

    def on_option(ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        answer(
            client, context, clean_text(str(action.get("value") or "")).strip(), _Thread.of_action(body), picked=True
        )

    def on_feedback(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        """A thumbs button: kept for the clicking user (who must be allowed that answer), told in an ephemeral."""
        ack()
        action = (body.get("actions") or [{}])[0]
        rating = str(action.get("action_id") or "").removeprefix(FEEDBACK_ACTION)
        where = _Thread.of_action(body)
        user = services.config.by_slack_id(where.user)
        principal = principal_for(services.config, user)
        if principal is None:
            text = NO_ACCESS
        else:
            text = record_feedback(
                services,
                asker_for(user, principal),
                str(action.get("value") or ""),
                "up" if rating == "up" else "down",
                None,
            )
        client.chat_postEphemeral(channel=where.channel, user=where.user, thread_ts=where.thread_ts, text=text)

    app.event("app_mention")(on_message_event)
    app.event("message")(on_message_event)
    app.action(re.compile("^" + re.escape(OPTION_ACTION) + r"\d+$"))(on_option)
    app.action(re.compile("^" + re.escape(FEEDBACK_ACTION) + f"({'|'.join(THUMBS)})$"))(on_feedback)
    return app


def _config(services: Services) -> SlackConfig:
    if services.config.slack is None:
        raise ValueError("the server config has no slack section")
    return services.config.slack


def _drop_retries(req: BoltRequest, next_: Callable[[], BoltResponse]) -> BoltResponse:
    """A signed delivery that Slack marks as a retry was already acknowledged and is being answered."""
    if req.headers.get("x-slack-retry-num"):
        log.info(
            "dropping Slack retry %s (%s)", req.headers["x-slack-retry-num"], req.headers.get("x-slack-retry-reason")
        )
        return BoltResponse(status=200, body="")
    return next_()


def _unescape(text: str) -> str:
    """Slack sends ``&``, ``<`` and ``>`` in message text as HTML entities."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class _Thread:
    """Where a question was asked and by whom: the reply goes to the thread, the context is the thread's."""

    team: str
    channel: str
    thread_ts: str
    user: str

    @property
    def conversation_id(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"

    @classmethod
    def of_event(cls, event: dict[str, Any], body: dict[str, Any]) -> _Thread:
        team = body.get("team_id") or event.get("team") or ""
        return cls(team, event["channel"], event.get("thread_ts") or event["ts"], event["user"])

    @classmethod
    def of_action(cls, body: dict[str, Any]) -> _Thread:
        message = body.get("message") or {}
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        thread_ts = message.get("thread_ts") or container.get("thread_ts") or message.get("ts") or ""
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or ""
        return cls(team, channel, thread_ts, (body.get("user") or {}).get("id") or "")
