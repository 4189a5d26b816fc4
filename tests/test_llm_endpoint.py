"""The LLM planner through the real OpenAI client (LangChain's ChatOpenAI) against a loopback endpoint:
the request it sends, streaming, retries on 429/5xx, timeouts, a refused connection, and the key
never showing in an answer or a log line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.assistant import Assistant
from agent.llm.config import LLMConfig
from agent.llm.planner import LLMPlanner
from agent.plan import Conversation, QueryPlan
from api.cli import app
from semantic_layer.query import Principal
from tests.openai_loopback import LoopbackOpenAI, Reply, closed_port, completion, error

TODAY = dt.date(2026, 1, 1)
KEY = "sk-loopback-SECRET-0123456789"
QUESTION = "上个月天猫的毛利率是多少?"
GOOD = {"query": {"metrics": ["gross_margin"], "filters": [{"dimension": "channel", "members": ["tmall"]}],
                  "period": {"start": "2025-12-01", "end": "2025-12-31"}}}  # fmt: skip


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Assistant]:
    opened = Assistant.open(demo_db)
    yield opened
    opened.close()


@pytest.fixture()
def endpoint() -> Iterator[LoopbackOpenAI]:
    server = LoopbackOpenAI([])
    yield server
    server.close()


def planner(assistant: Assistant, base_url: str, **limits: object) -> LLMPlanner:
    config = LLMConfig.model_validate({"model": "loopback-model", "api_key": KEY, "base_url": base_url, **limits})
    return LLMPlanner.from_config(assistant.model, assistant.master, config, dialect="duckdb")


def plan(p: LLMPlanner, question: str = QUESTION) -> object:
    return p.plan(question, Conversation(id=""), Principal(), TODAY)


def test_the_request_carries_the_functions_and_the_plan_comes_back(
    assistant: Assistant, endpoint: LoopbackOpenAI
) -> None:
    endpoint.script = [Reply(completion([("query_metrics", GOOD)], usage=(1500, 30)))]
    p = planner(assistant, endpoint.url)
    result = plan(p)
    assert isinstance(result, QueryPlan) and result.note is None
    assert result.query.filters[0].members == ["tmall"]
    (seen,) = endpoint.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    body = seen.body
    assert body["model"] == "loopback-model" and not body.get("stream") and "timeout" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "2026-01-01" in body["messages"][0]["content"] and "Chinese" in body["messages"][0]["content"]
    names = {t["function"]["name"] for t in body["tools"]}
    assert {"search_catalog", "resolve_members", "query_metrics", "ask_clarification", "refuse", "run_sql"} <= names
    query = next(t for t in body["tools"] if t["function"]["name"] == "query_metrics")["function"]["parameters"]
    assert query["required"] == ["query"] and "MetricQuery" in query["$defs"]
    usage = p.last_usage
    assert usage is not None and (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (1, 1500, 30)


def test_streaming_tool_calls_are_reassembled(assistant: Assistant, endpoint: LoopbackOpenAI) -> None:
    endpoint.script = [Reply(completion([("query_metrics", GOOD)]), stream=True)]
    result = plan(planner(assistant, endpoint.url, streaming=True))
    assert isinstance(result, QueryPlan) and result.query.metrics == ["gross_margin"]
    assert endpoint.seen[0].body["stream"] is True


@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_5xx_is_retried_with_backoff(assistant: Assistant, endpoint: LoopbackOpenAI, status: int) -> None:
    endpoint.script = [
        Reply(error(status), status=status, headers={"retry-after": "0"}),
        Reply(completion([("query_metrics", GOOD)])),
    ]
    result = plan(planner(assistant, endpoint.url, backoff_s=0.05))
    assert isinstance(result, QueryPlan) and result.note is None
    assert len(endpoint.seen) == 2


def test_rate_limiting_that_persists_falls_back_with_a_note(assistant: Assistant, endpoint: LoopbackOpenAI) -> None:
    endpoint.script = [Reply(error(429), status=429) for _ in range(5)]
    p = planner(assistant, endpoint.url, backoff_s=0.01, max_retries=2)
    result = plan(p)
    assert isinstance(result, QueryPlan) and result.note is not None and "429" in result.note
    assert len(endpoint.seen) == 3  # the first try and two retries
    assert p.last_usage is not None and p.last_usage.fallback == "rate_limited"


def test_a_slow_endpoint_hands_over_to_the_embedded_planner_within_the_deadline(
    assistant: Assistant, endpoint: LoopbackOpenAI
) -> None:
    endpoint.script = [Reply(completion([("query_metrics", GOOD)]), delay=3.0)]
    p = planner(assistant, endpoint.url, deadline_s=0.8, request_timeout_s=0.5)
    started = time.perf_counter()
    result = plan(p)
    elapsed = time.perf_counter() - started
    assert elapsed < 3.0, elapsed  # the reply takes 3 s: only the deadline ends it sooner (slack for a busy CI)
    assert isinstance(result, QueryPlan) and result.note is not None and "超时" in result.note
    assert result.query.filters[0].members == ["tmall"]  # the embedded planner's reading


def test_a_refused_connection_falls_back_at_once(assistant: Assistant) -> None:
    p = planner(assistant, f"http://127.0.0.1:{closed_port()}/v1")
    started = time.perf_counter()
    result = plan(p, "What was GMV last month?")
    assert time.perf_counter() - started < 2.0
    assert isinstance(result, QueryPlan) and result.note is not None and "could not be reached" in result.note


def test_the_default_deadline_leaves_room_within_ten_seconds() -> None:
    config = LLMConfig(model="m", api_key="k")
    assert config.deadline_s + 1 < 10 and config.request_timeout_s <= config.deadline_s


def test_the_key_never_shows_in_answers_or_logs(
    assistant: Assistant, endpoint: LoopbackOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    endpoint.script = [Reply(error(401, f"Incorrect API key provided: {KEY}"), status=401)]
    assistant.planner = planner(assistant, endpoint.url)
    try:
        answer = assistant.ask(QUESTION, principal=Principal(), today=TODAY)
    finally:
        assistant.planner = assistant.planner.embedded
    assert answer.status == "answer" and "HTTP 401" in answer.text
    assert KEY not in answer.to_json()
    assert KEY not in caplog.text and "SECRET" not in caplog.text
    assert KEY not in repr(LLMConfig(model="m", api_key=KEY))


def test_chatbi_ask_with_the_llm_planner_end_to_end(demo_db: Path, tmp_path: Path, endpoint: LoopbackOpenAI) -> None:
    endpoint.script = [Reply(completion([("query_metrics", GOOD)]))]
    env = {"CHATBI_HOME": str(tmp_path), "CHATBI_LLM_MODEL": "loopback-model", "OPENAI_API_KEY": KEY,
           "OPENAI_BASE_URL": endpoint.url}  # fmt: skip
    result = CliRunner().invoke(
        app, ["ask", QUESTION, "--db", str(demo_db), "--json", "--today", "2026-01-01"], env=env
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "answer" and answer["plan"]["filters"][0]["members"] == ["tmall"]
    assert len(endpoint.seen) == 1 and KEY not in result.stdout


def test_chatbi_ask_llm_without_configuration_says_how_to_configure(demo_db: Path, tmp_path: Path) -> None:
    env = {"CHATBI_HOME": str(tmp_path), "CHATBI_LLM_MODEL": "", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    result = CliRunner().invoke(app, ["ask", "GMV", "--db", str(demo_db), "--planner", "llm"], env=env)
    assert result.exit_code == 2 and "CHATBI_LLM_MODEL" in result.output


# -- configuration ------------------------------------------------------------------------------------
def test_configuration_comes_from_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    from agent.llm.config import choose_planner, load_config

    (tmp_path / "llm.toml").write_text('model = "qwen-plus"\nbase_url = "http://127.0.0.1:1/v1"\ndeadline_s = 5\n')
    env = {"CHATBI_HOME": str(tmp_path)}
    config = load_config(env)
    assert config is not None and (config.model, config.deadline_s, config.api_key) == ("qwen-plus", 5, None)
    config = load_config({**env, "CHATBI_LLM_MODEL": "deepseek-chat", "OPENAI_API_KEY": KEY})
    assert config is not None and config.model == "deepseek-chat" and KEY not in config.describe() + repr(config)
    assert choose_planner("auto", env) is not None and choose_planner("embedded", env) is None


def test_a_stray_key_without_a_model_is_not_a_configuration(tmp_path: Path) -> None:
    from agent.llm.config import LLMConfigError, choose_planner

    env = {"CHATBI_HOME": str(tmp_path), "OPENAI_API_KEY": KEY}
    assert choose_planner("auto", env) is None
    with pytest.raises(LLMConfigError, match="CHATBI_LLM_MODEL"):
        choose_planner("llm", env)


@pytest.mark.parametrize(
    ("text", "message"),
    [("model = ", "not a readable TOML file"), ('model = "m"\napi_key = "k"\nretries = 3', "retries")],
)
def test_a_broken_configuration_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    from agent.llm.config import LLMConfigError, load_config

    (tmp_path / "llm.toml").write_text(text)
    with pytest.raises(LLMConfigError, match=message) as raised:
        load_config({"CHATBI_HOME": str(tmp_path)})
    assert "llm.toml" in str(raised.value)


def test_missing_llm_libraries_are_a_configuration_error(assistant: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from agent.llm import LLMConfigError, build_planner

    monkeypatch.setitem(sys.modules, "agent.llm.planner", None)  # as if LangChain were not installed
    with pytest.raises(LLMConfigError, match=r"chatbi\[llm\]"):
        build_planner(assistant.model, assistant.master, LLMConfig(model="m", api_key="k"), dialect="duckdb")
