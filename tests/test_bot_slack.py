"""The Slack bot end to end: the real app under uvicorn on loopback, Slack's Web API played by a recorder.

Requests are signed with the signing secret as Slack signs them; unsigned, wrongly signed and
stale ones must get 401. Replies are read from what the bot posts to chat.postMessage.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from slack_sdk.signature import SignatureVerifier

from agent.answer import Answer, Definition
from agent.assistant import Assistant
from api.bots.common import FEEDBACK_GONE, FEEDBACK_THANKS, NO_ACCESS
from api.bots.render import SLACK_MAX_BLOCKS, SLACK_MAX_TEXT, slack_blocks
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services
from semantic_layer.query import Principal
from semantic_layer.semantic_model import load_model
from tests.bot_harness import Received, Recorder, chatbi_home, post, serve

SECRET = "slack-signing-secret-for-tests"
TEAM, CHANNEL, BOT = "T0TEST", "C0SALES", "U0BOT"
ADMIN, MANAGER, STRANGER = "U0ADMIN", "U0MGR", "U0NOBODY"
STORE = "st_sh01"
_ts = itertools.count(1)


def next_ts() -> str:
    """A fresh Slack message timestamp: each test message starts its own thread."""
    return f"{int(time.time())}.{next(_ts):06d}"


def slack_api(path: str) -> dict[str, Any]:
    if path.endswith("auth.test"):
        return {"ok": True, "url": "https://t.slack.com/", "team": "t", "user": "chatbi", "team_id": TEAM,
                "user_id": BOT, "bot_id": "B0BOT"}  # fmt: skip
    return {"ok": True, "channel": CHANNEL, "ts": next_ts()}


@pytest.fixture(scope="module")
def slack() -> Iterator[Recorder]:
    with Recorder(slack_api) as recorder:
        yield recorder


@pytest.fixture(scope="module")
def services(demo_db: Path, slack: Recorder) -> Iterator[Services]:
    config = ServerConfig.model_validate(
        {
            "users": [
                {"name": "alice", "role": "admin", "api_keys": ["k-alice"], "slack_ids": [ADMIN]},
                {"name": "bob", "role": "store_manager", "store": STORE, "slack_ids": [MANAGER]},
            ],
            "slack": {"signing_secret": SECRET, "bot_token": "xoxb-test", "api_base": slack.url + "api/"},
        }
    )
    assistant = Assistant.open(demo_db)
    yield Services(assistant=assistant, config=config)
    assistant.close()


@pytest.fixture(scope="module")
def server(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chatbi_home(tmp_path_factory.mktemp("home")):
        app = create_app(services)
    with serve(app) as url:
        yield url


def signed(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": str(signature)}


def send_event(server: str, event: dict[str, Any], **headers: str) -> tuple[int, Any]:
    envelope = {"token": "x", "team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback",
                "event_id": f"Ev{next(_ts)}", "event_time": int(time.time()), "event": event}  # fmt: skip
    body = json.dumps(envelope).encode()
    return post(server + "/slack/events", body, {"Content-Type": "application/json", **signed(body), **headers})


def mention(text: str, user: str = ADMIN, thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT}> {text}", "ts": next_ts(), "channel": CHANNEL}
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def reply_to(slack: Recorder, thread_ts: str, count: int = 1) -> Received:
    """The ``count``-th reply posted in the thread, waiting for it."""
    return slack.wait_for(
        lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == thread_ts, count
    )[-1]


def replies_to(slack: Recorder, thread_ts: str) -> list[Received]:
    return slack.all(lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == thread_ts)


def texts(message: Received, kind: str) -> list[str]:
    """The mrkdwn texts of the message's blocks of one kind (section or context)."""
    out = []
    for block in message.body.get("blocks") or []:
        if block["type"] == kind:
            out += [block["text"]["text"]] if kind == "section" else [e["text"] for e in block["elements"]]
    return out


def expected(services: Services, *questions: str, principal: Principal | None = None) -> Answer:
    """What the assistant answers to the last question after the others, in a fresh conversation."""
    conversation = f"expected-{next(_ts)}"
    answer = None
    for question in questions:
        answer = services.assistant.ask(question, conversation_id=conversation, principal=principal)
    assert answer is not None
    return answer


# -- the door ---------------------------------------------------------------------------------
def test_url_verification_answers_the_challenge(server: str) -> None:
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"}).encode()  # fmt: skip
    status, answer = post(server + "/slack/events", body, {"Content-Type": "application/json", **signed(body)})
    assert status == 200 and answer == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


@pytest.mark.parametrize("case", ["unsigned", "wrong secret", "stale", "tampered", "unsigned garbage"])
def test_requests_not_signed_by_slack_get_401_and_no_answer(server: str, slack: Recorder, case: str) -> None:
    event = mention("上个月销售额")
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event": event}).encode()
    headers = {
        "unsigned": {},
        "wrong secret": signed(body, secret="not-the-secret"),
        "stale": signed(body, timestamp=int(time.time()) - 6 * 60),
        "tampered": signed(body),
        "unsigned garbage": {},
    }[case]
    sent = {"tampered": body.replace(b"\\u4e0a", b"\\u4e0b"), "unsigned garbage": b'{"type": "event_'}.get(case, body)
    assert sent != body or case not in ("tampered", "unsigned garbage")
    status, answer = post(server + "/slack/events", sent, {"Content-Type": "application/json", **headers})
    assert status == 401, answer
    assert isinstance(answer, dict) and "error" in answer
    # a real question afterwards is answered, and the refused one never was
    control = mention("上个月销售额")
    assert send_event(server, control)[0] == 200
    reply_to(slack, control["ts"])
    assert replies_to(slack, event["ts"]) == []


def test_signed_garbage_is_a_400_not_a_crash(server: str) -> None:
    body = b'{"type": "event_callback", '
    status, answer = post(server + "/slack/events", body, {"Content-Type": "application/json", **signed(body)})
    assert status == 400 and "does not parse" in answer["message"]


# -- answers ----------------------------------------------------------------------------------
def test_a_mention_is_acknowledged_at_once_and_answered_in_its_thread(
    server: str, slack: Recorder, services: Services
) -> None:
    question = "上个月各渠道的销售额"
    event = mention(question)
    started = time.monotonic()
    status, _ = send_event(server, event)
    assert status == 200 and time.monotonic() - started < 3  # Slack's deadline for the acknowledgement
    reply = reply_to(slack, event["ts"])
    want = expected(services, question)
    assert reply.body["channel"] == CHANNEL and reply.headers["Authorization"] == "Bearer xoxb-test"
    assert reply.body["text"] == want.text
    sections, notes = texts(reply, "section"), texts(reply, "context")
    assert sections[0] == want.text
    table = sections[1]
    assert table.startswith("```\n") and table.endswith("\n```")
    header, rule, *rows = table.strip("`\n").split("\n")
    assert header.split() == ["渠道", "销售额"] and set(rule) == {"-", " "}
    assert len(rows) == 5 and rows[0].split() == ["抖音", "¥19.41万"]  # display names, formatted as in the text
    assert "天猫" in table and "¥51.32万" in table and "tmall" not in table
    link = next(n for n in notes if "查看图表" in n)
    url = link[link.index("<") + 1 : link.index("|")]
    assert urlsplit(url).path == "/" and parse_qs(urlsplit(url).query)["q"] == [question]
    assert url.startswith(server) and quote(question) in url
    assert any(n.startswith("销售额: ") and "SUM(fact_sales.revenue)" in n for n in notes)


def test_a_follow_up_in_the_thread_keeps_the_context(server: str, slack: Recorder, services: Services) -> None:
    first = mention("上个月天猫的销售额")
    send_event(server, first)
    reply_to(slack, first["ts"])
    follow_up = mention("那京东呢?", thread_ts=first["ts"])
    send_event(server, follow_up)
    second = reply_to(slack, first["ts"], count=2)
    want = expected(services, "上个月天猫的销售额", "那京东呢?")
    assert second.body["text"] == want.text and "京东" in want.text and "¥22.32万" in want.text
    turns = services.assistant.conversations.load(f"slack:{TEAM}:{CHANNEL}:{first['ts']}").turns
    assert [t.question for t in turns] == ["上个月天猫的销售额", "那京东呢?"]
    # the same words in a new thread have no context to follow
    assert expected(services, "那京东呢?").text != want.text


def test_a_message_with_a_lone_surrogate_is_still_answered(server: str, slack: Recorder, services: Services) -> None:
    event = mention("上个月各渠道的销售额\udfff")  # JSON may carry "\udfff"; UTF-8 (and URL quoting) cannot
    assert "\\udfff" in json.dumps(event)
    assert send_event(server, event)[0] == 200
    reply = reply_to(slack, event["ts"])
    assert reply.body["text"] == expected(services, "上个月各渠道的销售额?").text
    link = next(n for n in texts(reply, "context") if "查看图表" in n)
    assert parse_qs(urlsplit(link[link.index("<") + 1 : link.index("|")]).query)["q"] == ["上个月各渠道的销售额?"]


def test_direct_messages_are_answered_and_edits_and_bots_are_not(
    server: str, slack: Recorder, services: Services
) -> None:
    dm: dict[str, Any] = {"type": "message", "channel_type": "im", "channel": "D0DM", "user": ADMIN, "text": "上个月销售额",
          "ts": next_ts()}  # fmt: skip
    edit: dict[str, Any] = {"type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D0DM",
            "ts": next_ts(), "message": {"user": ADMIN, "text": "上个月毛利率"}}  # fmt: skip
    other_bot = {**dm, "ts": next_ts(), "bot_id": "B0OTHER", "subtype": "bot_message"}
    in_channel = {**dm, "ts": next_ts(), "channel": CHANNEL, "channel_type": "channel"}  # no mention: not for us
    for event in (edit, other_bot, in_channel, dm):
        assert send_event(server, event)[0] == 200
    reply = reply_to(slack, dm["ts"])
    assert reply.body["channel"] == "D0DM" and reply.body["text"] == expected(services, "上个月销售额").text
    assert not any(replies_to(slack, e["ts"]) for e in (edit, other_bot, in_channel))


def test_retries_and_duplicate_deliveries_are_not_answered_twice(server: str, slack: Recorder) -> None:
    event = mention("上个月销售额")
    send_event(server, event)
    reply_to(slack, event["ts"])
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(server, event, **retry)[0] == 200
    only_retried = mention("上个月销售额")  # every retry is dropped, as its first delivery was acknowledged
    assert send_event(server, only_retried, **retry)[0] == 200
    # the same message as a channel message event (Slack sends both for a mention) is not a second question
    assert send_event(server, {**event, "type": "message", "channel_type": "channel"})[0] == 200
    control = mention("上个月毛利率")
    send_event(server, control)
    reply_to(slack, control["ts"])
    assert len(replies_to(slack, event["ts"])) == 1 and replies_to(slack, only_retried["ts"]) == []


def test_clarification_options_are_buttons_and_a_click_is_the_next_question(
    server: str, slack: Recorder, services: Services
) -> None:
    event = mention("上个月周转怎么样")
    send_event(server, event)
    reply = reply_to(slack, event["ts"])
    actions = [b for b in reply.body["blocks"] if b["type"] == "actions"]
    buttons = actions[0]["elements"]
    assert [b["value"] for b in buttons] == expected(services, "上个月周转怎么样").options
    assert [b["action_id"] for b in buttons] == ["chatbi_option_0", "chatbi_option_1"]
    picked = buttons[1]
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "t"},
        "user": {"id": ADMIN, "team_id": TEAM},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL, "thread_ts": event["ts"]},
        "message": {"type": "message", "ts": "1.0", "thread_ts": event["ts"], "user": BOT},
        "actions": [
            {
                "type": "button",
                "action_id": picked["action_id"],
                "block_id": "b",
                "value": picked["value"],
                "text": picked["text"],
                "action_ts": "2.0",
            }
        ],  # fmt: skip
        "response_url": slack.url + "response",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = post(
        server + "/slack/events", body, {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
    )
    assert status == 200
    answer = reply_to(slack, event["ts"], count=2)
    want = expected(services, "上个月周转怎么样", picked["value"])
    assert want.status == "answer" and answer.body["text"] == want.text and "库存周转天数" in want.text
    assert texts(answer, "context")[0] == f"› {picked['value']}"


# -- who may ask ------------------------------------------------------------------------------
def test_a_store_manager_gets_their_store_only(server: str, slack: Recorder, services: Services) -> None:
    event = mention("上个月销售额", user=MANAGER)
    send_event(server, event)
    reply = reply_to(slack, event["ts"])
    own = expected(services, "上个月销售额", principal=Principal(role="store_manager", store_id=STORE))
    assert reply.body["text"] == own.text
    assert own.status == "answer" and own.text != expected(services, "上个月销售额").text


def test_an_unknown_user_is_told_politely_and_gets_no_data(server: str, slack: Recorder) -> None:
    event = mention("上个月各渠道的销售额", user=STRANGER)
    send_event(server, event)
    reply = reply_to(slack, event["ts"])
    assert reply.body["text"] == NO_ACCESS and "blocks" not in reply.body
    assert "¥" not in json.dumps(reply.body, ensure_ascii=False)


# -- rendering within Slack's limits ----------------------------------------------------------
def test_blocks_stay_within_slack_limits_however_big_the_answer() -> None:
    model = load_model()
    columns = ["channel", "channel_name", "gmv", "gross_margin"] + [f"extra_{i}" for i in range(30)]
    rows = [["tmall", "天猫" * 40, 513232.19 * i, 0.2915] + ["x" * 50] * 30 for i in range(200)]
    answer = Answer(
        status="clarification", text=("很长的一段话 & <b> " * 40 + "\n") * 300, language="zh", columns=columns,
        rows=rows, chart={"type": "bar", "title": "各渠道销售额"}, options=[f"选项 {i} " + "长" * 100 for i in range(40)],
        definitions=[Definition(metric=f"m{i}", name=f"指标{i}", definition="口径" * 2000) for i in range(20)],
    )  # fmt: skip
    blocks = slack_blocks(answer, model, chart_url="http://127.0.0.1/?q=x", picked="选项" * 3000)
    assert len(blocks) <= SLACK_MAX_BLOCKS
    for block in blocks:
        items = [block["text"]] if block["type"] == "section" else block["elements"]
        assert len(items) <= (25 if block["type"] == "actions" else 10)
        for item in items:
            text = item["text"]["text"] if block["type"] == "actions" else item["text"]
            assert len(text) <= (75 if block["type"] == "actions" else SLACK_MAX_TEXT)
    assert "&lt;b&gt;" in blocks[1]["text"]["text"] and "<b>" not in blocks[1]["text"]["text"]
    assert blocks[-1]["type"] == "actions" and len(blocks[-1]["elements"]) == 10


# -- downloads and feedback -------------------------------------------------------------------
def click(server: str, slack: Recorder, user: str, thread_ts: str, button: dict[str, Any]) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "t"},
        "user": {"id": user, "team_id": TEAM},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": "1.0", "channel_id": CHANNEL, "thread_ts": thread_ts},
        "message": {"type": "message", "ts": "1.0", "thread_ts": thread_ts, "user": BOT},
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "b", "value": button["value"],
                     "text": button["text"], "action_ts": "2.0"}],  # fmt: skip
        "response_url": slack.url + "response",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = post(server + "/slack/events", body, {"Content-Type": "application/x-www-form-urlencoded", **signed(body)})
    assert status == 200


def test_an_answer_links_its_files_and_thumbs_are_kept_for_who_may_see_it(
    server: str, slack: Recorder, services: Services
) -> None:
    event = mention("上个月各渠道的销售额")
    send_event(server, event)
    reply = reply_to(slack, event["ts"])
    links = dict((label, url) for url, label in re.findall(r"<(http[^|>]+)\|下载 (Excel|CSV)>", " ".join(texts(reply, "context"))))
    assert set(links) == {"Excel", "CSV"} and links["CSV"].startswith(server + "/v1/answers/")
    with urllib.request.urlopen(links["CSV"], timeout=10) as response:  # no API key: the link's token
        assert response.read().decode("utf-8-sig").splitlines()[0] == "渠道代码,渠道,销售额"
    thumbs = [b for b in reply.body["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [b["action_id"] for b in thumbs] == ["chatbi_feedback_up", "chatbi_feedback_down"]
    answer_id = thumbs[0]["value"]
    assert links["CSV"].split("/v1/answers/")[1].startswith(answer_id + ".csv?token=")
    click(server, slack, MANAGER, event["ts"], thumbs[1])  # a store manager may not see the whole company's answer
    click(server, slack, ADMIN, event["ts"], thumbs[0])
    told = slack.wait_for(lambda r: r.path.endswith("chat.postEphemeral") and r.body.get("thread_ts") == event["ts"], 2)
    assert {r.body["user"]: r.body["text"] for r in told} == {MANAGER: FEEDBACK_GONE, ADMIN: FEEDBACK_THANKS}
    kept = [f for f in services.answers.feedback() if f.answer_id == answer_id]
    assert [(f.rating, f.user, f.role, f.channel, f.question) for f in kept] == [
        ("up", "alice", "admin", "slack", "上个月各渠道的销售额")
    ]
    assert kept[0].conversation_id == f"slack:{TEAM}:{CHANNEL}:{event['ts']}" and kept[0].sql
