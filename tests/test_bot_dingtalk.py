"""The DingTalk robot end to end: HTTP callbacks to the real app under uvicorn on loopback, with a
recorder standing in for the session webhook; Stream mode through the SDK handler's process().

Callbacks are signed here the way DingTalk documents it (computed independently of the bot's code).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from dingtalk_stream import AckMessage, CallbackMessage, ChatbotMessage

from agent.answer import Answer, Definition
from agent.assistant import Assistant
from api.bots.common import FEEDBACK_GONE, FEEDBACK_THANKS, NO_ACCESS
from api.bots.dingtalk import ChatbiChatbotHandler, DingTalkBot, run_stream
from api.bots.render import DINGTALK_MAX_TEXT, dingtalk_message
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services
from api.shared_state import SharedState
from semantic_layer.query import Principal
from semantic_layer.semantic_model import load_model
from tests.bot_harness import Received, Recorder, chatbi_home, post, serve

SECRET = "dingtalk-app-secret-for-tests"
ADMIN, MANAGER, STRANGER = "staff-admin", "staff-manager", "staff-nobody"
STORE = "st_sh01"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def webhook() -> Iterator[Recorder]:
    with Recorder() as recorder:
        yield recorder


@pytest.fixture(scope="module")
def services(demo_db: Path) -> Iterator[Services]:
    config = ServerConfig.model_validate(
        {
            "users": [
                {"name": "alice", "role": "admin", "api_keys": ["k-alice"], "dingtalk_ids": [ADMIN]},
                {"name": "bob", "role": "store_manager", "store": STORE, "dingtalk_ids": [MANAGER]},
            ],
            "dingtalk": {"app_secret": SECRET, "webhook_hosts": ["127.0.0.1"]},  # the recorder's host
        }
    )
    assistant = Assistant.open(demo_db)
    yield Services(assistant=assistant, config=config)
    assistant.close()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> SharedState:
    return SharedState(tmp_path_factory.mktemp("state") / "server_state.sqlite")


@pytest.fixture(scope="module")
def server(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chatbi_home(tmp_path_factory.mktemp("home")):
        app = create_app(services)
    with serve(app) as url:
        yield url


def sign(timestamp: str, secret: str = SECRET) -> str:
    """DingTalk's documented signature, written out here rather than imported from the bot."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), digestmod=hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def now_ms() -> int:
    return int(time.time() * 1000)


_last_stamp = [0]


def fresh_stamp() -> str:
    """A timestamp no callback of this module used yet: a (timestamp, sign) pair is accepted once."""
    _last_stamp[0] = max(now_ms(), _last_stamp[0] + 1)
    return str(_last_stamp[0])


def robot_message(
    webhook: Recorder, text: str, *, sender: str = ADMIN, chat: str = "cid-group-1", group: bool = True, at: bool = True
) -> dict[str, Any]:
    """A robot callback body as DingTalk sends it; its sessionWebhook is the recorder, tagged per message."""
    msg_id = f"msg{next(_ids)}"
    return {
        "conversationId": chat,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
        "chatbotCorpId": "ding-corp",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": msg_id,
        "senderNick": "测试用户",
        "isAdmin": False,
        "senderStaffId": sender,
        "sessionWebhookExpiredTime": now_ms() + 3_600_000,
        "createAt": now_ms(),
        "senderCorpId": "ding-corp",
        "conversationType": "2" if group else "1",
        "senderId": f"$:LWCP_v1:${sender}",
        "conversationTitle": "销售群",
        "isInAtList": at,
        "sessionWebhook": f"{webhook.url}robot/sendBySession?session={msg_id}",
        "text": {"content": f" {text}"},
        "robotCode": "ding-robot",
        "msgtype": "text",
    }


def callback(server: str, message: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    body = message if isinstance(message, bytes) else json.dumps(message, ensure_ascii=False).encode()
    if headers is None:
        stamp = fresh_stamp()
        headers = {"timestamp": stamp, "sign": sign(stamp)}
    return post(server + "/dingtalk/callback", body, {"Content-Type": "application/json", **headers})


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def reply_to(webhook: Recorder, message: dict[str, Any]) -> Received:
    return webhook.wait_for(lambda r: r.path.endswith(f"session={message['msgId']}"))[0]


def replies_to(webhook: Recorder, message: dict[str, Any]) -> list[Received]:
    return webhook.all(lambda r: r.path.endswith(f"session={message['msgId']}"))


def expected(services: Services, *questions: str, principal: Principal | None = None) -> Answer:
    """What the assistant answers to the last question after the others, in a fresh conversation."""
    conversation = f"expected-{next(_ids)}"
    answer = None
    for question in questions:
        answer = services.assistant.ask(question, conversation_id=conversation, principal=principal)
    assert answer is not None
    return answer


def answered_and_nothing_else(server: str, webhook: Recorder, services: Services, *silent: dict[str, Any]) -> None:
    """A control question gets its answer, and the ``silent`` messages none (they were handled before it)."""
    control = robot_message(webhook, "上个月毛利率", chat=f"cid-control-{next(_ids)}")
    assert callback(server, control)[0] == 200
    reply_to(webhook, control)
    assert not any(replies_to(webhook, m) for m in silent)


# -- the door ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case", ["missing sign", "missing timestamp", "wrong secret", "stale", "future", "not a number"]
)
def test_callbacks_not_signed_with_the_app_secret_get_401(
    server: str, webhook: Recorder, services: Services, case: str
) -> None:
    stamp = str(now_ms())
    old = str(now_ms() - 61 * 60 * 1000)
    ahead = str(now_ms() + 61 * 60 * 1000)
    headers = {
        "missing sign": {"timestamp": stamp},
        "missing timestamp": {"sign": sign(stamp)},
        "wrong secret": {"timestamp": stamp, "sign": sign(stamp, "another-secret")},
        "stale": {"timestamp": old, "sign": sign(old)},
        "future": {"timestamp": ahead, "sign": sign(ahead)},
        "not a number": {"timestamp": "soon", "sign": sign("soon")},
    }[case]
    message = robot_message(webhook, "上个月销售额")
    status, body = callback(server, message, headers)
    assert status == 401 and body["error"] == "unauthorized" and "signature" in body["message"]
    answered_and_nothing_else(server, webhook, services, message)


def test_a_signed_but_malformed_callback_is_a_400(server: str) -> None:
    for body in (b"{not json", b"[1, 2]", json.dumps({"msgtype": "text", "text": None}).encode()):
        status, answer = callback(server, body)
        assert status == 400 and "malformed DingTalk callback" in answer["message"], (body, answer)


# -- answers ----------------------------------------------------------------------------------
def test_a_question_is_answered_in_an_action_card_through_the_session_webhook(
    server: str, webhook: Recorder, services: Services
) -> None:
    message = robot_message(webhook, "上个月各渠道的销售额")
    started = time.monotonic()
    status, body = callback(server, message)
    assert status == 200 and body == {} and time.monotonic() - started < 3
    reply = reply_to(webhook, message).body
    want = expected(services, "上个月各渠道的销售额")
    assert reply["msgtype"] == "actionCard" and reply["actionCard"]["title"] == "各渠道销售额"
    text = reply["actionCard"]["text"]
    assert text.startswith(want.text.split("\n")[0])
    assert "- 天猫：¥51.32万" in text and "- 京东：¥22.32万" in text and "tmall" not in text
    assert "> **销售额**：订单日期在期间内的订单行销售金额之和" in text
    links = dict(re.findall(r"\[下载 (Excel|CSV)\]\((http[^)]+)\)", text))
    assert set(links) == {"Excel", "CSV"} and links["CSV"].startswith(server + "/v1/answers/")
    buttons = reply["actionCard"]["btns"]
    assert [b["title"] for b in buttons] == ["👍", "👎"]
    answer_id = links["CSV"].split("/v1/answers/")[1].split(".csv")[0]
    assert unquote(buttons[1]["actionURL"].split("content=")[1]) == f"反馈 👎 {answer_id}"
    status, _ = get(links["CSV"])  # the link works without an API key: its token stands for the asker
    assert status == 200


def test_a_thumbs_message_is_kept_as_feedback_for_its_asker_only(
    server: str, webhook: Recorder, services: Services
) -> None:
    chat = f"cid-thumbs-{next(_ids)}"
    asked = robot_message(webhook, "上个月各渠道的销售额", chat=chat)
    callback(server, asked)
    button = reply_to(webhook, asked).body["actionCard"]["btns"][1]
    verdict = unquote(button["actionURL"].split("content=")[1])
    answer_id = verdict.split()[-1]
    stranger = robot_message(webhook, verdict + " 别人的", sender=MANAGER, chat=f"cid-thumbs-{next(_ids)}")
    callback(server, stranger)
    assert reply_to(webhook, stranger).body == {"msgtype": "text", "text": {"content": FEEDBACK_GONE}}
    thumbs = robot_message(webhook, verdict + " 少了小红书", chat=chat)
    callback(server, thumbs)
    assert reply_to(webhook, thumbs).body == {"msgtype": "text", "text": {"content": FEEDBACK_THANKS}}
    kept = [f for f in services.answers.feedback() if f.answer_id == answer_id]
    assert [(f.rating, f.comment, f.user, f.role, f.channel, f.question) for f in kept] == [
        ("down", "少了小红书", "alice", "admin", "dingtalk", "上个月各渠道的销售额")
    ]
    assert kept[0].conversation_id == f"dingtalk:{chat}" and kept[0].sql and kept[0].plan


def test_a_follow_up_in_the_same_chat_keeps_the_context(server: str, webhook: Recorder, services: Services) -> None:
    chat = f"cid-follow-{next(_ids)}"
    first = robot_message(webhook, "上个月天猫的销售额", chat=chat)
    callback(server, first)
    reply_to(webhook, first)
    follow_up = robot_message(webhook, "那京东呢?", chat=chat)
    callback(server, follow_up)
    text = reply_to(webhook, follow_up).body["actionCard"]["text"]
    want = expected(services, "上个月天猫的销售额", "那京东呢?")
    assert text.startswith(want.text.split("口径")[0]) and "京东" in text and "¥22.32万" in text
    turns = services.assistant.conversations.load(f"dingtalk:{chat}").turns
    assert [t.question for t in turns] == ["上个月天猫的销售额", "那京东呢?"]


def test_a_clarification_is_an_action_card_whose_buttons_send_the_option(
    server: str, webhook: Recorder, services: Services
) -> None:
    message = robot_message(webhook, "上个月周转怎么样", group=False, at=False)
    callback(server, message)
    reply = reply_to(webhook, message).body
    options = expected(services, "上个月周转怎么样").options
    assert reply["msgtype"] == "actionCard" and len(options) == 2
    card = reply["actionCard"]
    assert [b["title"] for b in card["btns"]] == options
    assert [b["actionURL"] for b in card["btns"]] == [
        f"dtmd://dingtalkclient/sendMessage?content={quote(o)}" for o in options
    ]
    assert "周转" in card["text"] and card["title"]


def test_group_messages_not_at_the_robot_and_redeliveries_are_not_answered(
    server: str, webhook: Recorder, services: Services
) -> None:
    not_for_us = robot_message(webhook, "上个月销售额", at=False)
    once = robot_message(webhook, "上个月销售额")
    for message in (not_for_us, once, once):
        assert callback(server, message)[0] == 200
    reply_to(webhook, once)
    answered_and_nothing_else(server, webhook, services, not_for_us)
    assert len(replies_to(webhook, once)) == 1


@pytest.mark.parametrize("case", ["another host", "the server itself", "not http", "expired", "no expiry"])
def test_replies_go_only_to_a_live_webhook_on_dingtalks_hosts(
    server: str, webhook: Recorder, services: Services, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = robot_message(webhook, "上个月销售额", sender=ADMIN)
    hook = message["sessionWebhook"]
    message.update(
        {
            "another host": {"sessionWebhook": hook.replace("127.0.0.1", "localhost")},  # the same recorder
            "the server itself": {"sessionWebhook": f"{server.replace('127.0.0.1', 'localhost')}/v1/ask"},
            "not http": {"sessionWebhook": "file:///etc/passwd"},
            "expired": {"sessionWebhookExpiredTime": now_ms() - 1000},
            "no expiry": {"sessionWebhookExpiredTime": None},
        }[case]
    )
    if message["sessionWebhookExpiredTime"] is None:
        del message["sessionWebhookExpiredTime"]
    with caplog.at_level(logging.WARNING, logger="api.bots.dingtalk"):
        assert callback(server, message)[0] == 200
        answered_and_nothing_else(server, webhook, services, message)
    assert webhook.all(lambda r: "localhost" in r.headers.get("Host", "")) == []
    lines = [
        r.getMessage() for r in caplog.records if r.name == "api.bots.dingtalk" and message["msgId"] in r.getMessage()
    ]
    assert len(lines) == 1 and "not answered" in lines[0], lines


def test_a_message_with_a_lone_surrogate_is_still_answered(server: str, webhook: Recorder, services: Services) -> None:
    message = robot_message(webhook, "上个月销售额\udfff", group=False, at=False)
    assert callback(server, json.dumps(message).encode())[0] == 200  # JSON may carry "\udfff"; UTF-8 cannot
    text = reply_to(webhook, message).body["actionCard"]["text"]
    assert text.startswith(expected(services, "上个月销售额?").text.split("口径")[0])


# -- who may ask ------------------------------------------------------------------------------
def test_a_store_manager_gets_their_store_only(server: str, webhook: Recorder, services: Services) -> None:
    message = robot_message(webhook, "上个月销售额", sender=MANAGER, chat=f"cid-mgr-{next(_ids)}")
    callback(server, message)
    text = reply_to(webhook, message).body["actionCard"]["text"]
    own = expected(services, "上个月销售额", principal=Principal(role="store_manager", store_id=STORE))
    everyone = expected(services, "上个月销售额")
    assert own.status == "answer" and text.startswith(own.text.split("口径")[0])
    assert not text.startswith(everyone.text.split("口径")[0])


def test_an_unknown_staff_member_is_told_politely_and_gets_no_data(server: str, webhook: Recorder) -> None:
    message = robot_message(webhook, "上个月各渠道的销售额", sender=STRANGER)
    callback(server, message)
    reply = reply_to(webhook, message).body
    assert reply == {"msgtype": "text", "text": {"content": NO_ACCESS}}


# -- Stream mode ------------------------------------------------------------------------------
def stream_callback(data: dict[str, Any]) -> CallbackMessage:
    """A callback frame as the dingtalk-stream websocket delivers it (its data is a JSON string)."""
    return CallbackMessage.from_dict(
        {
            "specVersion": "1.0",
            "type": "CALLBACK",
            "headers": {
                "topic": ChatbotMessage.TOPIC,
                "messageId": f"frame-{next(_ids)}",
                "contentType": "application/json",
                "time": str(now_ms()),
            },
            "data": json.dumps(data, ensure_ascii=False),
        }
    )


def test_stream_mode_answers_a_callback_through_the_session_webhook(
    webhook: Recorder, services: Services, state: SharedState
) -> None:
    handler = ChatbiChatbotHandler(DingTalkBot(services, state))
    message = robot_message(webhook, "上个月各渠道的销售额", group=False, at=False, chat=f"cid-stream-{next(_ids)}")
    assert asyncio.run(handler.process(stream_callback(message))) == (AckMessage.STATUS_OK, "OK")
    reply = reply_to(webhook, message).body
    assert reply["msgtype"] == "actionCard" and "- 天猫：¥51.32万" in reply["actionCard"]["text"]
    assert "/v1/answers/" not in reply["actionCard"]["text"]  # Stream mode: no address to link to without public_url
    assert services.assistant.conversations.load(f"dingtalk:{message['conversationId']}").turns


def test_stream_mode_acknowledges_a_malformed_frame_as_a_bad_request(services: Services, state: SharedState) -> None:
    handler = ChatbiChatbotHandler(DingTalkBot(services, state))
    frame = stream_callback({"msgtype": "text", "text": None})
    code, _ = asyncio.run(handler.process(frame))
    assert code == AckMessage.STATUS_BAD_REQUEST


# -- rendering within DingTalk's limits -------------------------------------------------------
def test_markdown_stays_within_the_limit_and_keeps_the_definitions() -> None:
    answer = Answer(
        status="answer", text="很长的一段话。" * 2000, language="zh", columns=["channel", "channel_name", "gmv"],
        rows=[["tmall", "天猫", 513232.19]] * 50, chart={"type": "bar", "title": "各渠道销售额"},
        definitions=[Definition(metric="gmv", name="销售额", definition="订单行销售金额之和。")],
    )  # fmt: skip
    text = dingtalk_message(answer, load_model())["markdown"]["text"]
    assert len(text) <= DINGTALK_MAX_TEXT
    assert "- 天猫：¥51.32万" in text and text.endswith("> **销售额**：订单行销售金额之和。")
    assert "前 10 行，共 50 行" in text


def test_stream_mode_needs_a_client_id(services: Services) -> None:
    with pytest.raises(ValueError, match="client_id"):
        run_stream(services)
