"""A small bounded pool for analysis-tool runs, so a long analysis never holds up a metric question.

A metric question costs milliseconds; an analysis tool (a replenishment plan over every SKU) costs
seconds of CPU alone and took over 100 s under load, when several ran at once on the server's
threads while simple questions queued behind them. :class:`ToolSlots` lets ``running`` tool runs
go at once per process and ``waiting`` more wait for a slot; a run beyond that is refused at once
with :class:`ToolsBusy`, which the assistant answers with "busy, ask again shortly" (status
``error`` with ``retry_after_s``) instead of making the asker wait behind the queue. Metric
questions never pass through here, so they are answered however many tool runs are in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: What a refused asker is told to wait: about one uncached replenishment run on the case demo.
RETRY_AFTER_S = 10


class ToolsBusy(Exception):
    """Every tool slot is taken and the queue behind them is full."""


class ToolSlots:
    """At most ``running`` tool runs at once and ``waiting`` more queued for a slot; thread-safe."""

    def __init__(self, running: int = 1, waiting: int = 1) -> None:
        if running < 1 or waiting < 0:
            raise ValueError("tool slots: running must be at least 1 and waiting at least 0")
        self.running, self.waiting = running, waiting
        self._slots = threading.Semaphore(running)
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting

    @property
    def admitted(self) -> int:
        """Tool runs in progress or waiting for a slot right now."""
        return self._admitted

    def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a slot, after waiting for one if the queue has room; else :class:`ToolsBusy` at once."""
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise ToolsBusy(f"{self.running} tool run(s) in progress and {self.waiting} waiting")
            self._admitted += 1
        try:
            with self._slots:
                return work()
        finally:
            with self._lock:
                self._admitted -= 1
