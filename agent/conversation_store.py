"""The one conversation store: turns kept in SQLite, so follow-ups work across processes.

`chatbi ask --session ID` runs a new process per question; the API serves many users at
once. Both read and append turns here. Each turn is written in its own transaction, so an
interrupted process loses at most the turn it was answering.

The store must never stop an answer: a file store opens a short-lived connection per
operation (about 0.1 ms), with a short busy timeout, so another process holding a lock, a
file replaced or made unreadable under a running server, or a lock released again are all
seen at the next operation instead of through a stale handle (one idle connection stays
open to keep the WAL open and exclusive lockers out). Failures at run time raise
:class:`StoreUnavailable`, whose message names no path (users may read it); failures when
the store is opened raise :class:`StoreError`, which names the path and the fix (the
operator reads it). Turns older than ``max_age_days`` are not read back and are deleted
when the store opens and then at most once per
:data:`agent.sqlite_store.PRUNE_INTERVAL_S` while it appends.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from agent.plan import Conversation, Turn
from agent.sqlite_store import SqliteFile, StoreError, StoreUnavailable, age_modifier

__all__ = ["ConversationStore", "StoreError", "StoreUnavailable", "default_max_age_days", "default_path"]

#: Turns a planner sees; older ones stay stored but are not read back.
MAX_TURNS = 20
#: How long turns are kept, unless the server config or ``$CHATBI_CONVERSATION_MAX_AGE_DAYS`` says otherwise.
DEFAULT_MAX_AGE_DAYS = 30
MAX_AGE_ENV = "CHATBI_CONVERSATION_MAX_AGE_DAYS"
#: Seconds a read or write waits for another process's lock before giving up.
BUSY_TIMEOUT_S = 1.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS turn ("
    " conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP,"
    " body TEXT NOT NULL, PRIMARY KEY (conversation_id, seq))",
    "CREATE INDEX IF NOT EXISTS turn_created_at ON turn (created_at)",
)


def default_path() -> Path:
    """``$CHATBI_HOME/conversations.sqlite`` (default ``~/.chatbi``)."""
    home = Path(os.environ.get("CHATBI_HOME") or Path.home() / ".chatbi")
    return home / "conversations.sqlite"


def default_max_age_days() -> float:
    """``$CHATBI_CONVERSATION_MAX_AGE_DAYS`` if set (a positive number), else 30."""
    raw = os.environ.get(MAX_AGE_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_AGE_DAYS
    try:
        days = float(raw)
    except ValueError:
        days = 0
    if days <= 0:
        raise StoreError(f"{MAX_AGE_ENV} must be a positive number of days, got '{raw}'")
    return days


class ConversationStore:
    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age_days: float | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        """``path`` ":memory:" keeps conversations in this process only (evals, tests)."""
        self.max_age_days = default_max_age_days() if max_age_days is None else max_age_days
        if self.max_age_days <= 0:
            raise StoreError(f"the conversation max age must be a positive number of days, got {self.max_age_days}")
        self.busy_timeout_s = busy_timeout_s
        self.path = None if path == ":memory:" else Path(path or default_path())
        self._file = SqliteFile(
            self.path, store="conversation", what="conversations", schema=_SCHEMA, prune=self._prune,
            busy_timeout_s=busy_timeout_s,
        )  # fmt: skip
        self._connection = self._file.connection

    def load(self, conversation_id: str) -> Conversation:
        """The latest turns of a conversation (none if unknown or expired); StoreUnavailable if unreadable."""
        try:
            with self._connection() as db:
                rows = db.execute(
                    "SELECT body FROM (SELECT seq, body FROM turn WHERE conversation_id = ? AND created_at >= "
                    "datetime('now', ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                    (conversation_id, self._age_modifier(), MAX_TURNS),
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._file.run_error("read", exc) from None
        return Conversation(id=conversation_id, turns=[Turn.model_validate_json(body) for (body,) in rows])

    def append(self, conversation_id: str, turn: Turn) -> None:
        body = turn.model_dump_json()
        try:
            with self._file.write() as db:
                db.execute(
                    "INSERT INTO turn (conversation_id, seq, body) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?"
                    " FROM turn WHERE conversation_id = ?",
                    (conversation_id, body, conversation_id),
                )
        except sqlite3.Error as exc:
            raise self._file.run_error("save", exc) from None

    def forget(self, conversation_id: str) -> None:
        try:
            with self._connection() as db:
                db.execute("DELETE FROM turn WHERE conversation_id = ?", (conversation_id,))
        except sqlite3.Error as exc:
            raise self._file.run_error("delete", exc) from None

    def check(self) -> None:
        """A trivial read, for health checks; StoreUnavailable when it fails."""
        try:
            with self._connection() as db:
                db.execute("SELECT 1 FROM turn LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise self._file.run_error("read", exc) from None

    def close(self) -> None:
        self._file.close()

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM turn WHERE created_at < datetime('now', ?)", (self._age_modifier(),))

    def _age_modifier(self) -> str:
        return age_modifier(self.max_age_days)
