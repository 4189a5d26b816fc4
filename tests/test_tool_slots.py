"""Analysis tools run in a small bounded pool: a metric question never waits behind a tool run, a tool
question past the pool and its queue is answered "busy" at once, and a tool's output is cached per data
version like a query result. Deterministic: the tool blocks on an Event while the rest is asked; no timings.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

import tools.registry
from agent.assistant import Assistant
from agent.tool_slots import RETRY_AFTER_S, ToolsBusy, ToolSlots
from api.server.config import ServerConfig
from api.server.services import Services
from tests.test_server_api import ANSWER_FIELDS, _app
from tools.base import ToolContext, ToolOutput
from tools.replenishment.tool import Arguments

TOOL_ZH = "给面膜做一份补货建议"
TOOL_EN = "which Face mask SKUs should we reorder now?"
METRIC = "上个月天猫的毛利率是多少?"


class BlockingTool:
    """Stands in for the replenishment tool: holds its slot until ``release`` is set, counts its runs."""

    name: ClassVar[str] = "replenishment"
    reads: ClassVar[tuple[str, ...]] = ()
    Arguments: ClassVar[type[BaseModel]] = Arguments

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.runs = 0
        self.threads: list[tuple[str, int]] = []  # (thread name, nice value) of each run

    def run(self, arguments: BaseModel, context: ToolContext) -> ToolOutput:
        self.runs += 1
        self.threads.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
        self.started.set()
        assert self.release.wait(30), "the test never released the tool"
        return ToolOutput(text=f"plan as of {context.today}", columns=["sku"], rows=[["s1"]])


@pytest.fixture
def tool(monkeypatch: pytest.MonkeyPatch) -> BlockingTool:
    blocking = BlockingTool()
    real = tools.registry.load
    monkeypatch.setattr(tools.registry, "load", lambda name: blocking if name == "replenishment" else real(name))
    return blocking


@pytest.fixture
def open_assistant(demo_db: Path) -> Iterator[Callable[..., Assistant]]:
    opened: list[Assistant] = []

    def make(**options: Any) -> Assistant:
        opened.append(Assistant.open(demo_db, conversations=":memory:", **options))
        return opened[-1]

    yield make
    for assistant in opened:
        assistant.close()


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll for a state another thread reaches (a bound, not a measurement: the test fails if never)."""
    for _ in range(3000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("the state was never reached")


# -- the slots on their own --------------------------------------------------------------------


def test_slots_run_queue_and_refuse_past_the_queue() -> None:
    slots, release = ToolSlots(running=1, waiting=1), threading.Event()
    order: list[str] = []

    def work(name: str) -> Callable[[], str]:
        def run() -> str:
            order.append(name)
            release.wait(30)
            return name

        return run

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(slots.run, work("first"))
        wait_until(lambda: order == ["first"])
        second = pool.submit(slots.run, work("second"))  # waits for the slot
        wait_until(lambda: slots.admitted == 2)
        with pytest.raises(ToolsBusy):
            slots.run(work("third"))  # the slot and the queue are full: refused at once
        assert order == ["first"]
        release.set()
        assert (first.result(30), second.result(30)) == ("first", "second")
    assert slots.admitted == 0 and slots.run(lambda: "again") == "again"


def test_a_failing_run_frees_its_slot() -> None:
    slots = ToolSlots(running=1, waiting=0)
    with pytest.raises(ZeroDivisionError):
        slots.run(lambda: 1 / 0)
    assert slots.admitted == 0 and slots.run(lambda: 1) == 1


def test_slots_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ToolSlots(running=0)
    with pytest.raises(ValueError):
        ToolSlots(running=1, waiting=-1)


# -- through the assistant ------------------------------------------------------------------------


def test_a_metric_question_is_answered_while_a_tool_holds_the_slot_and_another_tool_is_busy(
    tool: BlockingTool, open_assistant: Callable[..., Assistant]
) -> None:
    assistant = open_assistant(tool_slots=ToolSlots(running=1, waiting=0))
    with ThreadPoolExecutor(1) as pool:
        running: Future = pool.submit(assistant.ask, TOOL_ZH)
        assert tool.started.wait(30)
        metric = assistant.ask(METRIC)  # the tool is still running: the metric question does not wait
        assert metric.status == "answer" and metric.plan and metric.plan["metrics"] == ["gross_margin"]
        busy = assistant.ask(TOOL_EN, conversation_id="c1")
        assert not running.done()
        tool.release.set()
        done = running.result(30)
    assert busy.status == "error" and busy.retry_after_s == RETRY_AFTER_S and busy.language == "en"
    assert "busy" in busy.text and busy.plan and busy.plan["tool"] == "replenishment"
    assert done.status == "answer" and done.retry_after_s is None and tool.runs == 1
    again = assistant.ask(TOOL_EN, conversation_id="c1")  # asking again once the slot is free works
    assert again.status == "answer" and tool.runs == 2
    # the tool ran on a tool thread, nicer than the thread that asked (Linux: nice is per thread)
    asker = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(name.startswith("chatbi-tool") for name, _ in tool.threads)
    if sys.platform == "linux":
        assert all(nice > asker or nice == 19 for _, nice in tool.threads)


def test_the_busy_answer_in_chinese(tool: BlockingTool, open_assistant: Callable[..., Assistant]) -> None:
    assistant = open_assistant(tool_slots=ToolSlots(running=1, waiting=0), cache=False)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(assistant.ask, TOOL_EN)
        assert tool.started.wait(30)
        busy = assistant.ask(TOOL_ZH)
        tool.release.set()
        running.result(30)
    assert busy.status == "error" and busy.language == "zh" and f"约 {RETRY_AFTER_S} 秒后再问" in busy.text


def test_a_tool_output_is_cached_per_data_version(tool: BlockingTool, open_assistant: Callable[..., Assistant]) -> None:
    tool.release.set()
    assistant = open_assistant(tool_slots=ToolSlots(running=1, waiting=0))
    first = assistant.ask(TOOL_ZH)
    slots = assistant.tool_slots
    assert slots is not None
    hold = threading.Event()
    with ThreadPoolExecutor(1) as pool:  # every slot taken: a cached answer needs none
        holding = pool.submit(slots.run, lambda: hold.wait(30))
        wait_until(lambda: slots.admitted == 1)
        again = assistant.ask(TOOL_ZH)
        hold.set()
        holding.result(30)
    assert tool.runs == 1 and first.cached is False and again.cached is True
    assert first.data_version and again.data_version == first.data_version
    assert again.rows == first.rows == [["s1"]] and again.text == first.text
    assistant.ask(TOOL_EN)  # another language is another output
    assert tool.runs == 2


def test_without_the_result_cache_every_tool_question_runs(
    tool: BlockingTool, open_assistant: Callable[..., Assistant]
) -> None:
    tool.release.set()
    assistant = open_assistant(cache=False)  # and no slots: the CLI's assistant
    answers = [assistant.ask(TOOL_ZH) for _ in range(2)]
    assert tool.runs == 2 and [a.cached for a in answers] == [False, False]
    assert answers[0].data_version is None


def test_over_http_the_busy_answer_is_the_answer_object_and_metric_questions_go_on(
    tool: BlockingTool, open_assistant: Callable[..., Assistant]
) -> None:
    assistant = open_assistant(tool_slots=ToolSlots(running=1, waiting=0))
    client = TestClient(_app(Services(assistant, ServerConfig())), raise_server_exceptions=False)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(client.post, "/v1/ask", json={"question": TOOL_ZH})
        assert tool.started.wait(30)
        metric = client.post("/v1/ask", json={"question": METRIC})
        busy = client.post("/v1/ask", json={"question": TOOL_EN})
        tool.release.set()
        done = running.result(30)
    assert metric.status_code == busy.status_code == done.status_code == 200
    assert metric.json()["status"] == "answer" and done.json()["status"] == "answer"
    body = busy.json()
    assert set(body) == ANSWER_FIELDS | {"conversation_id"}
    assert body["status"] == "error" and body["retry_after_s"] == RETRY_AFTER_S and body["rows"] == []


# -- the command line ---------------------------------------------------------------------------------


def test_serve_gives_each_process_the_slots_it_was_told(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import api.serve_cli
    from api.cli import app
    from api.server import worker

    seen: list[ToolSlots | None] = []
    monkeypatch.setenv("CHATBI_HOME", str(tmp_path))
    monkeypatch.setattr(api.serve_cli, "_run", lambda assistant, *args, **kwargs: seen.append(assistant.tool_slots))
    serve = ["serve", "--db", str(demo_db), "--planner", "embedded", "--workers", "1"]
    for flags in ([], ["--tool-slots", "2", "--tool-queue", "0"]):
        result = CliRunner().invoke(app, [*serve, *flags])
        assert result.exit_code == 0, result.output
    assert [(s.running, s.waiting) for s in seen if s] == [(1, 1), (2, 0)]

    # --workers N: each spawned worker builds its own slots from the environment the parent wrote
    env = worker.worker_environment(demo_db, "embedded", None, None, tools=(3, 2))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    services = worker._build().state.services
    try:
        slots = services.assistant.tool_slots
        assert slots is not None and (slots.running, slots.waiting) == (3, 2)
    finally:
        services.assistant.close()


def test_with_workers_the_slots_are_the_deployments(tmp_path: Path) -> None:
    """Two workers (two slot pools on one shared folder, as two processes would be) never run two tools at
    once when the deployment has one slot: the second waits for the first to finish."""
    first, second = ToolSlots(1, 1, shared=tmp_path), ToolSlots(1, 1, shared=tmp_path)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def long_run() -> str:
        started.set()
        release.wait(10)
        order.append("first done")
        return "first"

    def short_run() -> str:
        order.append("second ran")
        return "second"

    runner = threading.Thread(target=first.run, args=(long_run,))
    runner.start()
    assert started.wait(10)
    waiting = threading.Thread(target=second.run, args=(short_run,))
    waiting.start()
    waiting.join(0.3)
    assert order == []  # the second worker's tool is waiting for the deployment's only slot
    release.set()
    runner.join(10)
    waiting.join(10)
    assert order == ["first done", "second ran"]
    first.close()
    second.close()
