"""The HTTP API on the small demo: every endpoint, every error code, SSE, auth and roles, hostile bodies.

The widget and the bots are replaced by empty routers here (their own tests cover them), so these
tests exercise only the API of api/server/app.py.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from agent.assistant import Assistant
from agent.conversation_store import ConversationStore
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services

ANSWER_FIELDS = {
    "status", "text", "language", "plan", "sql", "columns", "rows", "chart", "definitions", "period", "options",
    "cached", "data_version", "retry_after_s", "answer_id", "verified", "labels", "display", "formats",
}  # fmt: skip
KEYS = {"alice": "k-alice", "bob": "k-bob", "mia": "k-mia", "ivan": "k-ivan", "sam": "k-sam"}
USERS = [
    {"name": "alice", "role": "finance", "api_keys": ["k-alice"]},
    {"name": "bob", "role": "store_manager", "store": "st_sh01", "api_keys": ["k-bob"]},
    {"name": "mia", "role": "marketing", "api_keys": ["k-mia"]},
    {"name": "ivan", "role": "intern", "api_keys": ["k-ivan"]},
    {"name": "sam", "role": "store_manager", "api_keys": ["k-sam"]},
]


def _app(services: Services):  # noqa: ANN202 - a FastAPI app
    """create_app with empty routers standing in for the widget and the bots."""
    stubs = {
        "api.widget": ("widget_router", lambda: APIRouter()),
        "api.bots.slack": ("slack_router", lambda _services: APIRouter()),
        "api.bots.dingtalk": ("dingtalk_router", lambda _services: APIRouter()),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, (factory, fn) in stubs.items():
            module = types.ModuleType(name)
            setattr(module, factory, fn)
            patch.setitem(sys.modules, name, module)
        return create_app(services)


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Assistant]:
    opened = Assistant.open(demo_db, conversations=":memory:")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def demo(assistant: Assistant) -> TestClient:
    return TestClient(_app(Services(assistant, ServerConfig())), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def keyed(assistant: Assistant) -> TestClient:
    config = ServerConfig.model_validate({"users": USERS})
    return TestClient(_app(Services(assistant, config)), raise_server_exceptions=False)


def as_user(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


def error_of(response, status: int) -> str:  # noqa: ANN001 - an httpx response
    """The message of a JSON error response with this status (and no traceback in it)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["message"]


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        name = next(line[len("event: ") :] for line in lines if line.startswith("event: "))
        data = "".join(line[len("data: ") :] for line in lines if line.startswith("data: "))
        events.append((name, json.loads(data)))
    return events


# -- questions and answers ------------------------------------------------------------------


def test_ask_returns_the_answer_object_with_a_conversation_id(demo: TestClient) -> None:
    response = demo.post("/v1/ask", json={"question": "上个月天猫的毛利率是多少?"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert set(answer) == ANSWER_FIELDS | {"conversation_id"}
    assert answer["status"] == "answer" and answer["language"] == "zh" and "天猫" in answer["text"]
    assert answer["columns"] == ["gross_margin"] and isinstance(answer["rows"][0][0], float)
    assert answer["period"] == {"start": "2025-12-01", "end": "2025-12-31"}
    assert answer["definitions"][0]["metric"] == "gross_margin" and "fact_sales" in answer["sql"]
    assert len(answer["conversation_id"]) >= 16


def test_follow_ups_across_requests_and_the_conversation_routes(demo: TestClient) -> None:
    first = demo.post("/v1/ask", json={"question": "上个月天猫的销售额", "conversation_id": "t-follow"}).json()
    second = demo.post("/v1/ask", json={"question": "那京东呢?", "conversation_id": "t-follow"}).json()
    assert second["conversation_id"] == "t-follow" and second["status"] == "answer"
    assert second["plan"]["filters"][0]["members"] == ["jd"] and second["period"] == first["period"]

    history = demo.get("/v1/conversations/t-follow")
    assert history.status_code == 200
    turns = history.json()["turns"]
    assert history.json()["conversation_id"] == "t-follow"
    assert [t["question"] for t in turns] == ["上个月天猫的销售额", "那京东呢?"]
    assert turns[1]["status"] == "answer" and turns[1]["plan"]["kind"] == "query"

    assert demo.delete("/v1/conversations/t-follow").status_code == 204
    assert "t-follow" in error_of(demo.get("/v1/conversations/t-follow"), 404)
    error_of(demo.delete("/v1/conversations/t-follow"), 404)
    fresh = demo.post("/v1/ask", json={"question": "那京东呢?", "conversation_id": "t-follow"}).json()
    assert fresh["status"] != "answer" or fresh["period"] != first["period"] or fresh["plan"]["metrics"] != ["gmv"]


def test_a_clarification_then_the_picked_option(demo: TestClient) -> None:
    asked = demo.post("/v1/ask", json={"question": "上个月周转怎么样?", "conversation_id": "t-clarify"}).json()
    assert asked["status"] == "clarification" and len(asked["options"]) >= 2
    picked = next(o for o in asked["options"] if "天数" in o)
    answered = demo.post("/v1/ask", json={"question": picked, "conversation_id": "t-clarify"}).json()
    assert answered["status"] == "answer" and answered["plan"]["metrics"] == ["dio"]


def test_sse_streams_plan_sql_rows_text_done(demo: TestClient) -> None:
    question = {"question": "GMV by channel last month", "conversation_id": "t-sse"}
    with demo.stream("POST", "/v1/ask", json=question, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        text = response.read().decode()
    assert text.startswith(":")  # a comment opens the stream before the answer is ready
    events = sse_events(text)
    assert [name for name, _ in events] == ["plan", "sql", "rows", "text", "done"]
    data = dict(events)
    assert data["plan"]["status"] == "answer" and data["plan"]["plan"]["dimensions"] == ["channel"]
    assert data["plan"]["definitions"][0]["metric"] == "gmv" and data["plan"]["language"] == "en"
    assert "fact_sales" in data["sql"]["sql"]
    assert data["rows"]["columns"][0] == "channel" and len(data["rows"]["rows"]) == 5
    assert data["rows"]["chart"]["type"] == "bar"
    assert data["text"]["text"].startswith("December 2025") and data["text"]["options"] == []
    done = data["done"]
    assert set(done) == ANSWER_FIELDS | {"conversation_id"} and done["conversation_id"] == "t-sse"
    assert done["rows"] == data["rows"]["rows"] and done["text"] == data["text"]["text"]
    as_json = demo.post("/v1/ask", json={"question": "GMV by channel last month"}).json()
    assert as_json["cached"] is True  # asked just before: the same SQL at the same data version
    assert {k: v for k, v in done.items() if k not in ("conversation_id", "cached", "answer_id")} == {
        k: v for k, v in as_json.items() if k not in ("conversation_id", "cached", "answer_id")
    }
    assert done["answer_id"] and as_json["answer_id"] and done["answer_id"] != as_json["answer_id"]


def test_sse_sends_the_plan_before_the_query_has_run(
    demo: TestClient, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress is real: the query waits until the client has read the plan event (no clock involved;
    the wait's bound only keeps a broken stream from hanging the test)."""
    import threading

    assert assistant.today  # the reference date is read once, before planning; read it now
    execute = assistant.engine.execute
    plan_read = threading.Event()
    order: list[str] = []

    def after_the_plan(*args: Any, **kwargs: Any) -> Any:
        order.append("query ran after the plan was read" if plan_read.wait(30) else "query ran first")
        return execute(*args, **kwargs)

    monkeypatch.setattr(assistant.engine, "execute", after_the_plan)
    events = []
    question = {"question": "GMV by channel last month"}
    with demo.stream("POST", "/v1/ask", json=question, headers={"Accept": "text/event-stream"}) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                plan_read.set()
    assert events == ["plan", "sql", "rows", "text", "done"]
    assert order and set(order) == {"query ran after the plan was read"}


def test_sse_for_a_refusal_still_sends_every_event(demo: TestClient) -> None:
    response = demo.post("/v1/ask", json={"question": "how are we doing?"}, headers={"Accept": "text/event-stream"})
    events = sse_events(response.text)
    assert [name for name, _ in events] == ["plan", "sql", "rows", "text", "done"]
    assert dict(events)["sql"] == {"sql": None} and dict(events)["done"]["status"] == "refusal"


def test_health_docs_and_openapi(demo: TestClient, keyed: TestClient) -> None:
    healthy = {"status": "ok", "warehouse": "ok", "conversations": "ok"}
    assert demo.get("/healthz").json() == {**healthy, "demo_mode": True}
    assert keyed.get("/healthz").json() == {**healthy, "demo_mode": False}  # no key needed
    spec = demo.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/conversations/{conversation_id}", "/v1/metrics", "/healthz"} <= set(spec["paths"])
    assert "text/event-stream" in spec["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]
    assert spec["components"]["schemas"]["AskRequest"]["properties"]["question"]["minLength"] == 1
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            guarded = path.startswith("/v1/")
            assert guarded == ({"401", "403"} <= set(operation["responses"])), (method, path)
    for method in ("post", "delete", "get"):
        operation = spec["paths"]["/v1/ask" if method == "post" else "/v1/conversations/{conversation_id}"][method]
        assert "503" in operation["responses"], method
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]
    docs = demo.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "cdn" not in docs.text.lower()  # closed networks: the docs' assets are served by the app
    script = next(part.split('"')[0] for part in docs.text.split('src="')[1:] if "swagger" in part)
    assert demo.get(script).status_code == 200


def test_the_metric_catalog_follows_the_role(demo: TestClient, keyed: TestClient) -> None:
    everything = demo.get("/v1/metrics").json()
    ids = {m["id"] for m in everything}
    assert {"gmv", "gross_margin", "dio", "ccc"} <= ids
    gmv = next(m for m in everything if m["id"] == "gmv")
    assert gmv["name_zh"] and gmv["name_en"] and "channel" in gmv["can_break_down_by"]
    marketing = {m["id"] for m in keyed.get("/v1/metrics", headers=as_user("mia")).json()}
    assert "gmv" in marketing and not {"dio", "ccc", "dso"} & marketing
    error_of(keyed.get("/v1/metrics"), 401)


# -- auth and roles -------------------------------------------------------------------------


def test_no_or_unknown_credentials_are_401(keyed: TestClient) -> None:
    question = {"question": "上个月销售额"}
    missing = keyed.post("/v1/ask", json=question)
    assert "X-API-Key" in error_of(missing, 401) and missing.headers["www-authenticate"].startswith("Bearer")
    assert error_of(keyed.post("/v1/ask", json=question, headers={"X-API-Key": "nope"}), 401) == "unknown API key"
    for header in ("Bearer", "Bearer ", "Basic k-alice", "k-alice"):
        error_of(keyed.post("/v1/ask", json=question, headers={"Authorization": header}), 401)
    error_of(keyed.get("/v1/conversations/anything"), 401)
    error_of(keyed.delete("/v1/conversations/anything"), 401)


def test_api_key_and_bearer_token_both_identify_the_user(keyed: TestClient) -> None:
    by_key = keyed.post("/v1/ask", json={"question": "上个月销售额"}, headers=as_user("alice"))
    by_token = keyed.post("/v1/ask", json={"question": "上个月销售额"}, headers={"Authorization": "Bearer k-alice"})
    assert by_key.status_code == by_token.status_code == 200
    assert by_key.json()["rows"] == by_token.json()["rows"]


def test_a_store_manager_sees_only_their_store(keyed: TestClient, demo: TestClient) -> None:
    question = {"question": "上个月各门店的销售额"}
    mine = keyed.post("/v1/ask", json=question, headers=as_user("bob")).json()
    assert mine["status"] == "answer" and [row[0] for row in mine["rows"]] == ["st_sh01"]
    everyone = demo.post("/v1/ask", json=question).json()
    assert len(everyone["rows"]) > 1


def test_marketing_asking_for_dio_gets_a_refusal_answer(keyed: TestClient) -> None:
    response = keyed.post("/v1/ask", json={"question": "DIO last quarter"}, headers=as_user("mia"))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "refusal" and "marketing" in answer["text"] and answer["rows"] == []


def test_users_whose_role_cannot_ask_are_403(keyed: TestClient) -> None:
    question = {"question": "上个月销售额"}
    assert "intern" in error_of(keyed.post("/v1/ask", json=question, headers=as_user("ivan")), 403)
    assert "store" in error_of(keyed.post("/v1/ask", json=question, headers=as_user("sam")), 403)
    error_of(keyed.get("/v1/metrics", headers=as_user("ivan")), 403)


def test_conversations_are_kept_per_user(keyed: TestClient) -> None:
    asked = keyed.post(
        "/v1/ask", json={"question": "上个月销售额", "conversation_id": "shared-id"}, headers=as_user("alice")
    )
    assert asked.status_code == 200
    assert keyed.get("/v1/conversations/shared-id", headers=as_user("alice")).status_code == 200
    error_of(keyed.get("/v1/conversations/shared-id", headers=as_user("mia")), 404)
    error_of(keyed.delete("/v1/conversations/shared-id", headers=as_user("mia")), 404)
    assert keyed.get("/v1/conversations/shared-id", headers=as_user("alice")).status_code == 200


def test_demo_mode_refuses_pages_from_other_sites(demo: TestClient, keyed: TestClient) -> None:
    question = {"question": "上个月销售额"}
    assert "demo mode" in error_of(demo.post("/v1/ask", json=question, headers={"Origin": "https://evil.example"}), 403)
    local = demo.post("/v1/ask", json=question, headers={"Origin": "http://localhost:5173"})
    assert local.status_code == 200 and local.headers["access-control-allow-origin"] == "http://localhost:5173"
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in demo.options("/v1/ask", headers=preflight).headers
    allowed = keyed.options("/v1/ask", headers={**preflight, "Access-Control-Request-Headers": "x-api-key"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "*"


# -- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ('{"question": ', 400, "not valid JSON"),
        ("{}", 422, "question: Field required"),
        ('{"question": 5}', 422, "question: Input should be a valid string"),
        ('{"question": "   "}', 422, "empty"),
        (json.dumps({"question": "x" * 2001}), 422, "at most 2000 characters"),
        ('{"question": "hi", "conversation_id": "no spaces allowed"}', 422, "conversation_id"),
        ('["question"]', 422, "JSON object"),
        ("null", 422, "JSON object"),
        ("", 422, "JSON object"),
    ],
)
def test_malformed_json_and_missing_fields(demo: TestClient, body: str, status: int, words: str) -> None:
    response = demo.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert words in error_of(response, status)


def test_a_body_without_a_json_content_type_is_explained(demo: TestClient) -> None:
    response = demo.post("/v1/ask", content='{"question": "hi"}', headers={"Content-Type": "text/plain"})
    assert "Content-Type: application/json" in error_of(response, 422)


def test_oversize_bodies_are_413_declared_or_streamed(demo: TestClient) -> None:
    big = json.dumps({"question": "销" * 30_000})  # 90 KB in UTF-8
    assert "64 KiB" in error_of(demo.post("/v1/ask", content=big, headers={"Content-Type": "application/json"}), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    error_of(demo.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"}), 413)
    error_of(demo.post("/healthz", content=b"x" * 70_000), 413)  # whichever route


def test_unknown_routes_methods_and_conversation_ids(demo: TestClient) -> None:
    assert "/docs" in error_of(demo.get("/v2/nothing"), 404)
    error_of(demo.put("/v1/ask", json={"question": "x"}), 405)
    error_of(demo.get("/v1/ask"), 405)
    assert "never-seen" in error_of(demo.get("/v1/conversations/never-seen"), 404)
    for method, path, allowed in [
        ("PUT", "/v1/ask", "POST"),
        ("GET", "/v1/ask", "POST"),
        ("PUT", "/v1/conversations/c1", "GET, DELETE"),  # two routes share the path: both methods
        ("POST", "/v1/conversations/c1", "GET, DELETE"),
        ("DELETE", "/healthz", "GET"),
    ]:
        response = demo.request(method, path)
        error_of(response, 405)
        assert response.headers["allow"] == allowed, (method, path)
    assert "conversation_id" in error_of(demo.get("/v1/conversations/" + "x" * 65), 422)
    error_of(demo.get("/v1/conversations/%00bad"), 422)


def _garbage() -> list[tuple[bytes, str]]:
    rng = random.Random(7)
    bodies: list[tuple[bytes, str]] = [(bytes(rng.randrange(256) for _ in range(n)), "random") for n in (1, 64, 4096)]
    bodies += [
        (b"[" * 60_000, "deep array"),
        (b'{"question": ' + b"{" * 30_000, "deep unclosed object"),
        (json.dumps({"question": "q", "x": _nested(400)}).encode(), "nested extra field"),
        (json.dumps({"question": _nested(400)}).encode(), "nested question"),
        (b'{"question": "\xff\xfe"}', "invalid utf-8"),
        (b'{"question": "\\ud800"}', "lone surrogate"),
        (json.dumps({"question": "问" * 20_000}, ensure_ascii=False).encode(), "huge string"),
        (json.dumps({"question": "问" * 20_000}).encode(), "huge escaped string"),
        (json.dumps({"question": "上个月销售额", "conversation_id": ["a"]}).encode(), "list id"),
        (json.dumps({"question": None}).encode(), "null question"),
        (b'{"question": 1e999}', "infinite number"),
        (b'{"question": "a", "question": {"b": 1}}', "duplicate key"),
        (b"\x00" * 1000, "nul bytes"),
        (b"", "empty"),
    ]
    return bodies


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(("body", "kind"), _garbage(), ids=[kind for _, kind in _garbage()])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_garbage_never_gets_a_5xx(demo: TestClient, body: bytes, kind: str, content_type: str) -> None:
    for accept in ("application/json", "text/event-stream"):
        response = demo.post("/v1/ask", content=body, headers={"Content-Type": content_type, "Accept": accept})
        assert response.status_code < 500, (kind, response.status_code, response.text[:200])
        if response.status_code >= 400:
            error_of(response, response.status_code)
        else:  # extra fields are ignored: a valid question was still asked
            assert kind == "nested extra field" and response.text


def test_a_failure_inside_the_server_is_logged_not_shown(
    assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding:
        model = assistant.model
        conversations = assistant.conversations
        warehouse_check = assistant.warehouse_check

        def ask(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internals at /srv/chatbi")

    client = TestClient(_app(Services(Exploding(), ServerConfig())), raise_server_exceptions=False)  # type: ignore[arg-type]
    response = client.post("/v1/ask", json={"question": "上个月销售额"})
    message = error_of(response, 500)
    assert "incident" in message and "secret" not in response.text
    incident = message.split("incident ")[1].split(",")[0]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)

    streamed = client.post("/v1/ask", json={"question": "上个月销售额"}, headers={"Accept": "text/event-stream"})
    assert streamed.status_code == 200 and "secret" not in streamed.text
    [(name, data)] = sse_events(streamed.text)
    assert name == "error" and data["error"] == "internal" and "incident" in data["message"]
    assert client.get("/healthz").status_code == 200  # still serving


# -- the conversation store never stops an answer; health tells what is broken -------------


@pytest.fixture
def on_files(demo_db: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    """A demo-mode server whose conversations live in a real file, with SQLite's lock wait kept short."""
    path = tmp_path / "conversations.sqlite"
    opened = Assistant.open(demo_db, conversations=":memory:")
    opened.conversations = ConversationStore(path, busy_timeout_s=0.2)
    yield TestClient(_app(Services(opened, ServerConfig())), raise_server_exceptions=False), path
    opened.close()


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another connection (as another process would) holding the write lock on the conversations file."""
    other = sqlite3.connect(str(path), isolation_level=None, timeout=0.1)
    try:
        other.execute("BEGIN EXCLUSIVE")
        other.execute("DELETE FROM turn WHERE 0")
    except sqlite3.Error:
        other.close()
        raise
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_locked_store_still_answers_and_says_the_turn_was_not_kept(
    on_files: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, path = on_files
    assert client.post("/v1/ask", json={"question": "上个月天猫的销售额", "conversation_id": "k1"}).status_code == 200
    with write_locked(path), caplog.at_level(logging.WARNING):
        fresh = client.post("/v1/ask", json={"question": "上个月天猫的销售额"})
        follow = client.post("/v1/ask", json={"question": "那京东呢?", "conversation_id": "k1"})
        english = client.post("/v1/ask", json={"question": "GMV last month"})
    assert fresh.status_code == follow.status_code == english.status_code == 200
    assert fresh.json()["status"] == "answer" and "未能保存" in fresh.json()["text"]
    assert follow.json()["plan"]["filters"][0]["members"] == ["jd"] and "未能保存" in follow.json()["text"]
    assert "could not be saved" in english.json()["text"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("not kept" in r.getMessage() and not r.exc_info for r in warnings)
    assert str(path.parent) not in fresh.text
    kept = client.get("/v1/conversations/k1").json()["turns"]
    assert [t["question"] for t in kept] == ["上个月天猫的销售额"]  # the locked turn was not kept


@contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """The conversations file overwritten with garbage under the running server, then put back."""
    saved = path.read_bytes()
    path.write_bytes(b"this is not a SQLite file " * 400)
    try:
        yield
    finally:
        path.write_bytes(saved)


def test_an_unreadable_store_is_503_for_follow_ups_but_new_questions_are_answered(
    on_files: tuple[TestClient, Path],
) -> None:
    client, path = on_files
    assert client.post("/v1/ask", json={"question": "上个月天猫的销售额", "conversation_id": "k2"}).status_code == 200
    with unreadable(path):
        follow = client.post("/v1/ask", json={"question": "那京东呢?", "conversation_id": "k2"})
        message = error_of(follow, 503)
        assert "not a database" in message and "without conversation_id" in message
        assert str(path.parent) not in message and follow.headers["retry-after"].isdigit()
        for response in (client.get("/v1/conversations/k2"), client.delete("/v1/conversations/k2")):
            error_of(response, 503)
        streamed = client.post(
            "/v1/ask",
            json={"question": "那京东呢?", "conversation_id": "k2"},
            headers={"Accept": "text/event-stream"},
        )
        [(name, data)] = sse_events(streamed.text)
        assert name == "error" and data["error"] == "unavailable" and "not a database" in data["message"]
        fresh = client.post("/v1/ask", json={"question": "上个月天猫的销售额"})
        assert fresh.status_code == 200 and fresh.json()["status"] == "answer" and "未能保存" in fresh.json()["text"]
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert health.json()["warehouse"] == "ok" and "not a database" in health.json()["conversations"]
    assert client.get("/healthz").status_code == 200  # the file is back: healthy again
    again = client.post("/v1/ask", json={"question": "那京东呢?", "conversation_id": "k2"}).json()
    assert again["status"] == "answer" and again["plan"]["filters"][0]["members"] == ["jd"]


def test_a_broken_warehouse_makes_health_degraded_and_names_no_path(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semantic_layer.engine import EngineError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise EngineError('DuckDB: IO Error: Could not read from file "/srv/secret/data/chatbi.duckdb": I/O error')

    client = TestClient(_app(Services(assistant, ServerConfig())), raise_server_exceptions=False)
    monkeypatch.setattr(assistant.engine, "execute", broken)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "I/O error" in health.json()["warehouse"] and health.json()["conversations"] == "ok"
    assert "/srv/secret" not in health.text and "chatbi.duckdb" in health.text
    answer = client.post("/v1/ask", json={"question": "上个月天猫的销售额"}).json()
    assert answer["status"] == "error" and "I/O error" in answer["text"] and "/srv/secret" not in answer["text"]
