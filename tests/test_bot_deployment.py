"""One deployment, several servers: two app instances sharing one CHATBI_HOME behave as one bot.

A captured DingTalk signature is good once for the whole deployment, and an event delivered to
both instances is answered once. The instances run under uvicorn on loopback (as two workers
would), with the chat platforms played by recorders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from agent.assistant import Assistant
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services
from tests.bot_harness import LogWaiter, Recorder, chatbi_home, post, serve

SLACK_SECRET = "slack-signing-secret-for-deployment-tests"
DINGTALK_SECRET = "dingtalk-app-secret-for-deployment-tests"
TEAM, CHANNEL, ADMIN = "T0TEST", "C0SALES", "U0ADMIN"
_ids = itertools.count(1)


def slack_api(path: str) -> dict[str, Any]:
    if path.endswith("auth.test"):
        return {"ok": True, "team_id": TEAM, "user_id": "U0BOT", "bot_id": "B0BOT"}
    return {"ok": True, "channel": CHANNEL, "ts": f"{time.time():.6f}"}


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    with Recorder(slack_api) as stand_in:
        yield stand_in


def config(recorder: Recorder, sign_window_s: int = 3600) -> ServerConfig:
    return ServerConfig.model_validate(
        {
            "users": [{"name": "alice", "role": "admin", "slack_ids": [ADMIN], "dingtalk_ids": ["staff-admin"]}],
            "slack": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test", "api_base": recorder.url + "api/"},
            "dingtalk": {"app_secret": DINGTALK_SECRET, "webhook_hosts": ["127.0.0.1"], "sign_window_s": sign_window_s},
        }
    )


@pytest.fixture(scope="module")
def services(demo_db: Path, recorder: Recorder) -> Iterator[Services]:
    assistant = Assistant.open(demo_db)
    yield Services(assistant=assistant, config=config(recorder))
    assistant.close()


@pytest.fixture(scope="module")
def servers(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two instances of the app, as two worker processes of one deployment would run it."""
    with chatbi_home(tmp_path_factory.mktemp("home")):
        first, second = create_app(services), create_app(services)
    with serve(first) as one, serve(second) as two:
        yield one, two


# -- DingTalk ---------------------------------------------------------------------------------
def dingtalk_headers(stamp: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) - next(_ids) if stamp is None else stamp)
    digest = hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
    return {"Content-Type": "application/json", "timestamp": timestamp, "sign": base64.b64encode(digest).decode()}


def robot_message(recorder: Recorder, text: str, sender: str = "staff-admin") -> dict[str, Any]:
    msg_id = f"deploy-msg{next(_ids)}"
    return {
        "conversationId": f"cid-{msg_id}", "msgId": msg_id, "senderStaffId": sender, "conversationType": "1",
        "isInAtList": False, "sessionWebhook": f"{recorder.url}robot/sendBySession?session={msg_id}",
        "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000, "text": {"content": text}, "msgtype": "text",
    }  # fmt: skip


def dingtalk(server: str, message: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    return post(server + "/dingtalk/callback", json.dumps(message, ensure_ascii=False).encode(), headers)


def webhook_posts(recorder: Recorder, message: dict[str, Any]) -> list[Any]:
    return recorder.all(lambda r: r.path.endswith(f"session={message['msgId']}"))


def test_a_captured_dingtalk_signature_is_accepted_once_by_the_whole_deployment(
    servers: tuple[str, str], recorder: Recorder
) -> None:
    one, two = servers
    headers = dingtalk_headers()
    genuine = robot_message(recorder, "上个月销售额")
    assert dingtalk(one, genuine, headers)[0] == 200
    recorder.wait_for(lambda r: r.path.endswith(f"session={genuine['msgId']}"))
    forged = [robot_message(recorder, "上个月各渠道的销售额") for _ in range(2)]
    for server, message in zip((one, two), forged, strict=True):  # the same instance, and the other one
        status, body = dingtalk(server, message, headers)
        assert status == 401 and body["error"] == "unauthorized" and "once" in body["message"], body
    control = robot_message(recorder, "上个月毛利率")
    assert dingtalk(two, control, dingtalk_headers())[0] == 200
    recorder.wait_for(lambda r: r.path.endswith(f"session={control['msgId']}"))
    assert not any(webhook_posts(recorder, m) for m in forged)


def test_a_dingtalk_message_delivered_to_both_instances_is_answered_once(
    servers: tuple[str, str], recorder: Recorder
) -> None:
    one, two = servers
    message = robot_message(recorder, "上个月销售额")
    with LogWaiter() as log:
        assert dingtalk(one, message, dingtalk_headers())[0] == 200
        recorder.wait_for(lambda r: r.path.endswith(f"session={message['msgId']}"))
        assert dingtalk(two, message, dingtalk_headers())[0] == 200  # a redelivery, newly signed
        log.wait_for(f"{message['msgId']} was answered already")
    assert len(webhook_posts(recorder, message)) == 1


def test_the_signature_window_is_configurable_down_from_an_hour(
    services: Services, recorder: Recorder, tmp_path: Path
) -> None:
    tight = Services(assistant=services.assistant, config=config(recorder, sign_window_s=60))
    with chatbi_home(tmp_path):
        app = create_app(tight)
    with serve(app) as server:
        two_minutes_ago = int(time.time() * 1000) - 120_000
        status, body = dingtalk(server, robot_message(recorder, "上个月销售额"), dingtalk_headers(two_minutes_ago))
        assert status == 401 and "signature" in body["message"]
        assert dingtalk(server, robot_message(recorder, "上个月销售额"), dingtalk_headers())[0] == 200


def test_the_signature_window_cannot_be_wider_than_dingtalks(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="sign_window_s"):
        config(recorder, sign_window_s=7200)


# -- Slack ------------------------------------------------------------------------------------
def slack_event(server: str, event: dict[str, Any]) -> int:
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": f"Ev{next(_ids)}", "event": event})
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": str(signature),
    }
    return post(server + "/slack/events", body.encode(), headers)[0]


def test_a_slack_event_delivered_to_both_instances_is_answered_once(
    servers: tuple[str, str], recorder: Recorder
) -> None:
    one, two = servers
    ts = f"{int(time.time())}.{next(_ids):06d}"
    event = {"type": "app_mention", "user": ADMIN, "text": "<@U0BOT> 上个月销售额", "ts": ts, "channel": CHANNEL}

    def replies() -> list[Any]:
        return recorder.all(lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == ts)

    with LogWaiter() as log:
        assert slack_event(one, event) == 200
        recorder.wait_for(lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == ts)
        assert slack_event(two, event) == 200
        log.wait_for(f"{CHANNEL}:{ts} was answered already")
    assert len(replies()) == 1
