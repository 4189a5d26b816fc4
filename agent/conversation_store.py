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
when the store opens and then at most once per :data:`PRUNE_INTERVAL_S` while it appends.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.plan import Conversation, Turn

#: Turns a planner sees; older ones stay stored but are not read back.
MAX_TURNS = 20
#: How long turns are kept, unless the server config or ``$CHATBI_CONVERSATION_MAX_AGE_DAYS`` says otherwise.
DEFAULT_MAX_AGE_DAYS = 30
MAX_AGE_ENV = "CHATBI_CONVERSATION_MAX_AGE_DAYS"
#: Seconds a read or write waits for another process's lock before giving up.
BUSY_TIMEOUT_S = 1.0
#: Appends delete expired turns at most this often (the delete uses the created_at index).
PRUNE_INTERVAL_S = 3600.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS turn ("
    " conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP,"
    " body TEXT NOT NULL, PRIMARY KEY (conversation_id, seq))",
    "CREATE INDEX IF NOT EXISTS turn_created_at ON turn (created_at)",
)


class StoreError(ValueError):
    """The store cannot be opened; the message names the file and what to do (a setting to fix, as ValueError)."""


class StoreUnavailable(StoreError):
    """A read or write failed while running (locked, unreadable, unwritable); the message names no path."""


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
        self._lock = threading.Lock()
        # This process's writers queue here rather than in SQLite's busy handler, which polls
        # with sleeps of up to 100 ms (a save may sleep on past the lock's release) and counts the wait against
        # the 1 s busy timeout, which is then left for other processes' writers.
        self._write_lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        if path == ":memory:":
            self.path: Path | None = None
            self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            self.path = Path(path or default_path())
            _make_folder(self.path)
        try:
            with self._connection() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("BEGIN IMMEDIATE")  # a write lock now: an unwritable file or folder shows at start
                for statement in _SCHEMA:
                    db.execute(statement)
                self._prune(db)
                db.execute("COMMIT")
            # Held open, idle, for the store's life: the WAL stays open between operations (closing the
            # last connection checkpoints it, about 2 ms a question), and no other process can take an
            # exclusive lock that would lock our readers out.
            self._keeper = None if self.path is None else sqlite3.connect(str(self.path), check_same_thread=False)
            if self._keeper is not None:
                self._keeper.execute("SELECT 1 FROM turn LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(_open_problem(self.path, exc)) from None
        self._pruned_at = time.monotonic()

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
            raise StoreUnavailable(_run_problem("read", exc)) from None
        return Conversation(id=conversation_id, turns=[Turn.model_validate_json(body) for (body,) in rows])

    def append(self, conversation_id: str, turn: Turn) -> None:
        body = turn.model_dump_json()
        try:
            with self._write_lock, self._connection() as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO turn (conversation_id, seq, body) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?"
                    " FROM turn WHERE conversation_id = ?",
                    (conversation_id, body, conversation_id),
                )
                if time.monotonic() - self._pruned_at >= PRUNE_INTERVAL_S:
                    self._prune(db)
                    self._pruned_at = time.monotonic()
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailable(_run_problem("save", exc)) from None

    def forget(self, conversation_id: str) -> None:
        try:
            with self._connection() as db:
                db.execute("DELETE FROM turn WHERE conversation_id = ?", (conversation_id,))
        except sqlite3.Error as exc:
            raise StoreUnavailable(_run_problem("delete", exc)) from None

    def check(self) -> None:
        """A trivial read, for health checks; StoreUnavailable when it fails."""
        try:
            with self._connection() as db:
                db.execute("SELECT 1 FROM turn LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(_run_problem("read", exc)) from None

    def close(self) -> None:
        for db in (self._memory, self._keeper):
            if db is not None:
                db.close()

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM turn WHERE created_at < datetime('now', ?)", (self._age_modifier(),))

    def _age_modifier(self) -> str:
        return f"-{self.max_age_days * 86400:.0f} seconds"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """An autocommit connection (transactions are explicit): the shared one for ":memory:", else a new one."""
        with self._lock if self._memory is not None else contextlib.nullcontext():
            if self._memory is not None:
                db = self._memory
            else:
                assert self.path is not None
                db = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, isolation_level=None)
                db.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut may lose the last turns, never the file
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
            finally:
                if db is not self._memory:
                    db.close()


def _make_folder(path: Path, what: str = "conversations") -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise StoreError(
            f"cannot keep {what} under {path.parent}: a file is in the way of that folder; "
            "set CHATBI_HOME to a writable folder"
        ) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StoreError(
            f"cannot create the folder for {what} {path.parent}: {reason}; set CHATBI_HOME to a writable folder"
        ) from None


def _open_problem(path: Path | None, exc: sqlite3.Error, what: str = "conversations") -> str:
    """One line for the operator: which file, what is wrong, what to do."""
    reason = str(exc)
    if path is None:
        return f"cannot open the in-memory store of {what}: {reason}"
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
        return f"{path} is not a SQLite database; move it away (a new one is created) or set CHATBI_HOME elsewhere"
    if "locked" in reason or "busy" in reason:
        return f"{path} is locked by another process; stop that process or set CHATBI_HOME elsewhere"
    return f"cannot write {what} to {path}: {reason}; make it writable or set CHATBI_HOME to a writable folder"


def _run_problem(action: str, exc: sqlite3.Error, store: str = "conversation") -> str:
    reason = "it is locked by another process" if "locked" in str(exc) or "busy" in str(exc) else str(exc)
    return f"the {store} store could not {action} ({reason})"
