"""Whatever reaches the bot routes, signed or not, gets a 400 or 401 JSON error and one log line, never a 500.

Both bots run in one app under uvicorn on loopback; nothing here should ever be answered, so the
chat platforms' stand-ins only have to exist. Each request is signed (or not) independently of
the bots' code, as Slack and DingTalk document it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.assistant import Assistant
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services
from tests.bot_harness import Recorder, chatbi_home, post, serve

SLACK_SECRET = "slack-signing-secret-for-hostile-tests"
DINGTALK_SECRET = "dingtalk-app-secret-for-hostile-tests"
DEEP = 30_000
_stamps = itertools.count()


@pytest.fixture(scope="module")
def stand_in() -> Iterator[Recorder]:
    with Recorder(lambda _: {"ok": True}) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def server(demo_db: Path, stand_in: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = ServerConfig.model_validate(
        {
            "users": [{"name": "alice", "role": "admin", "slack_ids": ["U0ADMIN"], "dingtalk_ids": ["staff-admin"]}],
            "slack": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test", "api_base": stand_in.url + "api/"},
            "dingtalk": {"app_secret": DINGTALK_SECRET, "webhook_hosts": ["127.0.0.1"]},
        }
    )
    assistant = Assistant.open(demo_db)
    with chatbi_home(tmp_path_factory.mktemp("home")):
        app = create_app(Services(assistant=assistant, config=config))
    with serve(app) as url:
        yield url
    assistant.close()


def slack_headers(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    stamp = str(int(time.time())) if timestamp is None else timestamp
    digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def dingtalk_headers(timestamp: str | None = None) -> dict[str, str]:
    stamp = str(int(time.time() * 1000) - next(_stamps)) if timestamp is None else timestamp
    digest = hmac.new(DINGTALK_SECRET.encode(), f"{stamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    return {"timestamp": stamp, "sign": base64.b64encode(digest).decode()}


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
#: Bodies no chat platform sends: (content type, body).
BODIES = {
    "a list": (JSON, b"[1]"),
    "a string": (JSON, b'"s"'),
    "null": (JSON, b"null"),
    "a number": (JSON, b"5"),
    "a form payload that is a list": (FORM, b"payload=%5B1%5D"),
    "a form payload that is not JSON": (FORM, b"payload=%7Bnope"),
    "30,000-deep JSON": (JSON, b"[" * DEEP + b"]" * DEEP),
    "30,000-deep JSON in an object": (JSON, b'{"type": "event_callback", "event": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    "invalid UTF-8": (JSON, b'{"type": "event_callback", "x": "\xff\xfe"}'),
    "invalid UTF-8 in a form": (FORM, b"payload=\xff"),
    "not JSON": (JSON, b"{not json"),
}
#: Objects in the wrong shape for each platform (fields its SDK reads without checking).
SLACK_SHAPES = {
    "an event that is a number": (JSON, b'{"type": "event_callback", "event": 5}'),
    "actions that are not objects": (JSON, b'{"type": "block_actions", "actions": [5]}'),
    "authorizations that are a number": (JSON, b'{"type": "event_callback", "authorizations": 5}'),
    "a team that is a number": (JSON, b'{"type": "event_callback", "team": 5, "enterprise": 5}'),
}
DINGTALK_SHAPES = {
    "an infinite expiry": (JSON, b'{"msgId": "m1", "sessionWebhookExpiredTime": 1e400}'),
    "a NaN expiry": (JSON, b'{"msgId": "m1", "sessionWebhookExpiredTime": NaN}'),
    "at-users that are a number": (JSON, b'{"msgId": "m1", "atUsers": 5}'),
    "rich text that is a number": (JSON, b'{"msgId": "m1", "msgtype": "richText", "content": 5}'),
}
TIMESTAMPS = {"letters": "abc", "empty": "", "a float": "1e3", "5,000 digits": "9" * 5000, "negative": "-5"}


def assert_refused(status: int, answer: object, caplog: pytest.LogCaptureFixture, statuses: tuple[int, ...]) -> None:
    assert status in statuses, (status, answer)
    assert isinstance(answer, dict) and set(answer) == {"error", "message"}, answer
    assert answer["error"] == {400: "bad_request", 401: "unauthorized"}[status]
    assert "Traceback" not in caplog.text and all(r.exc_info is None for r in caplog.records)
    assert len(caplog.records) <= 1, [r.getMessage() for r in caplog.records]


# -- Slack ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(BODIES))
def test_slack_unsigned_hostile_bodies_get_401(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    content_type, body = BODIES[case]
    status, answer = post(server + "/slack/events", body, {"Content-Type": content_type})
    assert_refused(status, answer, caplog, (401,))


@pytest.mark.parametrize("case", list(BODIES | SLACK_SHAPES))
def test_slack_signed_hostile_bodies_get_400(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    content_type, body = (BODIES | SLACK_SHAPES)[case]
    status, answer = post(server + "/slack/events", body, {"Content-Type": content_type, **slack_headers(body)})
    assert_refused(status, answer, caplog, (400,))


@pytest.mark.parametrize("case", list(TIMESTAMPS))
def test_slack_hostile_timestamps_get_401(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    body = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    headers = {"Content-Type": JSON, **slack_headers(body, TIMESTAMPS[case])}
    status, answer = post(server + "/slack/events", body, headers)
    assert_refused(status, answer, caplog, (401,))


def test_slack_a_signature_over_other_bytes_gets_401(server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    body = b'{"type": "url_verification", "challenge": "c"}'
    status, answer = post(server + "/slack/events", body + b" ", {"Content-Type": JSON, **slack_headers(body)})
    assert_refused(status, answer, caplog, (401,))


# -- DingTalk ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(BODIES))
def test_dingtalk_unsigned_hostile_bodies_get_401(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    content_type, body = BODIES[case]
    status, answer = post(server + "/dingtalk/callback", body, {"Content-Type": content_type})
    assert_refused(status, answer, caplog, (401,))


@pytest.mark.parametrize("case", list(BODIES | DINGTALK_SHAPES))
def test_dingtalk_signed_hostile_bodies_get_400(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    content_type, body = (BODIES | DINGTALK_SHAPES)[case]
    status, answer = post(server + "/dingtalk/callback", body, {"Content-Type": content_type, **dingtalk_headers()})
    assert_refused(status, answer, caplog, (400,))


@pytest.mark.parametrize("case", list(TIMESTAMPS))
def test_dingtalk_hostile_timestamps_get_401(server: str, caplog: pytest.LogCaptureFixture, case: str) -> None:
    caplog.set_level(logging.INFO)
    headers = {"Content-Type": JSON, **dingtalk_headers(TIMESTAMPS[case])}
    status, answer = post(server + "/dingtalk/callback", b"{}", headers)
    assert_refused(status, answer, caplog, (401,))


def test_nothing_hostile_was_ever_answered(server: str, stand_in: Recorder) -> None:
    assert stand_in.all(lambda r: "chat.postMessage" in r.path or "session" in r.path) == []


def test_a_bolt_failure_is_this_apis_json_error(demo_db: Path, tmp_path: Path) -> None:
    """Slack's Web API unreachable (auth.test fails inside bolt): a 500 in the API's JSON shape, not bolt's empty body."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = ServerConfig.model_validate(
        {
            "users": [{"name": "alice", "role": "admin", "slack_ids": ["U0ADMIN"]}],
            "slack": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-t", "api_base": f"http://127.0.0.1:{port}/"},
        }
    )
    assistant = Assistant.open(demo_db)
    with chatbi_home(tmp_path):
        app = create_app(Services(assistant=assistant, config=config))
    body = json.dumps({"type": "event_callback", "team_id": "T0", "event": {"type": "app_mention", "ts": "1.0"}})
    with serve(app) as server:
        status, answer = post(
            server + "/slack/events", body.encode(), {"Content-Type": JSON, **slack_headers(body.encode())}
        )
    assistant.close()
    assert status == 500 and answer == {
        "error": "internal",
        "message": "the Slack bot could not handle this request (logged)",
    }
