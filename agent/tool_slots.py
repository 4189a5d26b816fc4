"""A small bounded pool for analysis-tool runs, so a long analysis never holds up a metric question.

A metric question costs milliseconds; an analysis tool (a replenishment plan over every SKU) costs
seconds of CPU alone and took over 100 s under load, when several ran at once on the server's
threads while simple questions queued behind them. :class:`ToolSlots` runs tools on its own
``running`` threads per process and lets ``waiting`` more runs queue for them; a run beyond that
is refused at once with :class:`ToolsBusy`, which the assistant answers with "busy, ask again
shortly" (status ``error`` with ``retry_after_s``) instead of making the asker wait behind the
queue. Metric questions never pass through here, so they are answered however many tool runs are
in flight. On Linux the tool threads also run at a lower priority (nice +10, those threads only):
a tool run then takes the CPU the questions leave rather than an equal share of it
(benchmarks/tool_priority_bench.py measures what that gives). With several worker processes the
slots are the deployment's, not each worker's: a run holds one of ``running`` lock files beside the
shared state (``shared``), so two workers on two cores never run two tools while questions wait.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: What a refused asker is told to wait: about one uncached replenishment run on the case demo.
RETRY_AFTER_S = 10
#: How much nicer than the server the tool threads are (Linux: a thread's own nice value).
TOOL_NICENESS = 10


class ToolsBusy(Exception):
    """Every tool slot is taken and the queue behind them is full."""


class ToolSlots:
    """At most ``running`` tool runs at once, on threads of their own, and ``waiting`` more queued; thread-safe."""

    def __init__(self, running: int = 1, waiting: int = 1, shared: Path | None = None) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("tool slots: running must be at least 1 and waiting at least 0")
        self.running, self.waiting = running, waiting
        self.shared = shared  # a folder every worker of the deployment sees: the slots are machine-wide
        self._pool = ThreadPoolExecutor(running, thread_name_prefix="chatbi-tool", initializer=_lower_priority)
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting

    @property
    def admitted(self) -> int:
        """Tool runs in progress or waiting for a slot right now."""
        return self._admitted

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` on a tool thread, after waiting for one if the queue has room; else :class:`ToolsBusy`
        at once. The caller waits for the result; what ``work`` raises is raised here."""
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise ToolsBusy(f"{self.running} tool run(s) in progress and {self.waiting} waiting")
            self._admitted += 1
        try:
            return self._pool.submit(self._in_a_slot, work).result()
        finally:
            with self._lock:
                self._admitted -= 1

    def _in_a_slot(self, work: Callable[[], T]) -> T:
        with self._deployment_slot():
            return work()

    @contextlib.contextmanager
    def _deployment_slot(self) -> Iterator[None]:
        """One of the deployment's ``running`` slot files, locked (flock) for the run: a free one if any,
        else wait for this process's own. Without ``shared`` (one process) the pool alone bounds runs."""
        if self.shared is None or sys.platform == "win32":
            yield
            return
        import fcntl

        self.shared.mkdir(parents=True, exist_ok=True)
        files = [open(self.shared / f"tool-slot-{i}.lock", "a+b") for i in range(self.running)]  # noqa: SIM115
        try:
            held = None
            for f in files:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = f
                    break
                except BlockingIOError:
                    continue
            if held is None:
                held = files[os.getpid() % self.running]
                fcntl.flock(held, fcntl.LOCK_EX)
            yield
        finally:
            for f in files:
                f.close()  # closing releases the lock

    def close(self) -> None:
        """Stop the tool threads once the runs in progress are done; queued runs are cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    """Make the calling tool thread nicer. Only on Linux, where the nice value is the thread's own (elsewhere
    it would slow the whole server); a thread cannot be made less nice again, hence threads of its own."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0) + TOOL_NICENESS)
