"""Results of guarded SQL, kept per (SQL, engine identity, data version): a repeated question skips the database.

The key is the guarded text that would run, so it carries everything that shapes the rows: the
metric, the period, the row limit and the asker's row filter (a store manager's SQL names their
store), so an entry never crosses a row filter; two roles with the same SQL share it, as the
compiler (or the SQL fallback's own check) has already let each of them read it. The data version comes from the
engine and changes when the warehouse does (DuckDB: the file's identity and modification time;
PostgreSQL: the model's freshness query); a result is never served past ``ttl_s`` either, the
backstop for changes a version cannot see. Bounded: least recently used entries go first, and a
result bigger than ``max_cells`` is not kept at all.

The same entries keep other values computed only from the data at a version (:meth:`ResultCache.fetch_value`:
an analysis tool's output, seconds of CPU), under keys their owner makes distinct from SQL text.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from semantic_layer.engine import QueryResult

V = TypeVar("V")

#: Defaults: enough entries for a day's distinct questions, a TTL short enough that an
#: unversioned change (a correction to old rows on PostgreSQL) shows within minutes.
MAX_ENTRIES = 1024
TTL_S = 300.0
MAX_CELLS = 200_000

Clock = Callable[[], float]


class ResultCache:
    """A thread-safe LRU of query results with a time-to-live; ``clock`` is injectable for tests."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        ttl_s: float = TTL_S,
        max_cells: int = MAX_CELLS,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("max_entries must be at least 1 and ttl_s positive")
        self.max_entries, self.ttl_s, self.max_cells, self.clock = max_entries, ttl_s, max_cells, clock
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def fetch(self, sql: str, identity: str, version: str | None, run: Callable[[], QueryResult]) -> QueryResult:
        """The result of ``sql`` at ``version``: from the cache when a fresh entry exists, else ``run()``
        (kept for next time). Without a version nothing is cached: a change could not be noticed."""
        if version is None:
            return run()
        result, hit = self.fetch_value(
            sql,
            identity,
            version,
            lambda: replace(run(), cached=False, data_version=version),
            cells=lambda r: len(r.rows) * max(1, len(r.columns)),
            copy=lambda r: replace(r, columns=list(r.columns), rows=list(r.rows)),
        )
        return replace(result, cached=True) if hit else result

    def fetch_value(
        self,
        key: str,
        identity: str,
        version: str,
        run: Callable[[], V],
        *,
        cells: Callable[[V], int],
        copy: Callable[[V], V],
    ) -> tuple[V, bool]:
        """``(value, True)`` from a fresh entry for ``key`` at ``version``, else ``(run(), False)``, kept unless
        ``cells(value)`` exceeds ``max_cells``. ``copy`` makes what is stored and what a hit returns independent
        of the caller's (so a caller changing its rows does not change the cache). ``run()`` raising keeps nothing."""
        entry = (key, identity, version)
        now = self.clock()
        with self._lock:
            hit = self._entries.get(entry)
            if hit is not None and now - hit[0] <= self.ttl_s:
                self._entries.move_to_end(entry)
                return copy(hit[1]), True
            if hit is not None:
                del self._entries[entry]
        value = run()
        if cells(value) <= self.max_cells:
            with self._lock:
                self._entries[entry] = (now, copy(value))
                self._entries.move_to_end(entry)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value, False


class Throttled:
    """A value read at most every ``every_s`` seconds (the PostgreSQL freshness query): between reads,
    the last one stands. A failed read gives None (nothing cached) and is retried at the next interval."""

    def __init__(self, read: Callable[[], str | None], every_s: float, clock: Clock = time.monotonic) -> None:
        self._read, self._every_s, self._clock = read, every_s, clock
        self._value: str | None = None
        self._read_at: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._every_s:
                self._read_at = now
                self._value = self._read()
            return self._value
