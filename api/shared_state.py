"""What every worker process of one deployment must agree on: which things it has already seen.

A chat platform delivers at least once and may reach any worker (several ``chatbi serve``
processes behind one address, or Stream mode beside the HTTP callback); a captured DingTalk
signature must be accepted once, whichever process sees the replay. Memory in one process cannot
answer "did anyone see this?", so the answer lives in SQLite beside the conversation store
(``$CHATBI_HOME/server_state.sqlite``): every process of a deployment shares ``CHATBI_HOME``.

Each :meth:`SharedState.seen_once` is one write transaction (``BEGIN IMMEDIATE``): SQLite lets
one writer in at a time, so of two processes racing on the same key exactly one inserts it.
The connection discipline is agent/sqlite_store.py's; WAL keeps readers off the writers' backs and the busy timeout makes a contended writer wait
instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from agent.sqlite_store import connect, create_schema

#: How long a contended write waits for the lock before failing (seconds).
BUSY_TIMEOUT_S = 10.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS seen ("
    " kind TEXT NOT NULL, key TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (kind, key))",
    "CREATE INDEX IF NOT EXISTS seen_expiry ON seen (expires_at)",
)


def default_path() -> Path:
    """``$CHATBI_HOME/server_state.sqlite``: beside the conversation store, so one home means one deployment."""
    from agent.conversation_store import default_path as conversations_path

    return conversations_path().with_name("server_state.sqlite")


class SharedStateError(ValueError):
    """The shared state cannot be opened; the message names the file and what to do."""


class SharedState:
    """Keys seen by any process sharing the file, each remembered until its time to live runs out."""

    def __init__(self, path: str | os.PathLike[str] | None = None, clock: Callable[[], float] = time.time) -> None:
        target = Path(path) if path is not None else default_path()
        self.path = target
        self._clock = clock
        self._lock = threading.Lock()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(target, BUSY_TIMEOUT_S, shared=True)
            create_schema(self._db, _SCHEMA, self._prune)
        except (OSError, sqlite3.Error) as exc:
            raise SharedStateError(
                f"cannot open the server's shared state {target}: {exc}; set CHATBI_HOME to a writable directory"
            ) from None

    def seen_once(self, kind: str, key: str, ttl_s: float) -> bool:
        """True for the first sighting of ``(kind, key)`` within ``ttl_s`` seconds, in any process; False after.

        Expired keys are pruned in the same transaction, so the file holds only what can still recur.
        """
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._prune(self._db, now)
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO seen (kind, key, expires_at) VALUES (?, ?, ?)", (kind, key, now + ttl_s)
                ).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return inserted == 1

    def _prune(self, db: sqlite3.Connection, now: float | None = None) -> None:
        db.execute("DELETE FROM seen WHERE expires_at <= ?", (self._clock() if now is None else now,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
