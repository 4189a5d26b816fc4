"""The SQLite discipline every store under ``$CHATBI_HOME`` shares, kept in one place so they cannot drift.

Conversations, answers and the servers' shared state are read and written by several processes at
once. Each connection is autocommit (transactions are explicit, so ``BEGIN IMMEDIATE`` takes the
write lock up front) with ``synchronous=NORMAL`` under WAL (a power cut may lose the last writes,
never the file), and waits a short busy timeout for another process's lock. :class:`SqliteFile`
adds what the per-operation stores need: a connection per thread, kept between operations (opening
one costs about 0.25 ms of CPU, three or four times per answer) and opened anew when the file at the
path is another one (replaced) or an operation failed, so a file replaced or repaired is seen at the next
operation, as a file another tool wrote over is (beside one idle connection that keeps the WAL open); ":memory:" for one process; the schema created and expired rows pruned in one write
transaction at open, so an unwritable file shows at start, then pruned at most hourly by writes. Failures at open name the path and the fix (:class:`StoreError`, for the operator); at run
time they name no path (:class:`StoreUnavailable`, users may read it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: Writes prune expired rows at most this often (the store also prunes when it opens): a prune is a
#: DELETE over an index, cheap but not free, and rows a little past their age harm nobody.
PRUNE_INTERVAL_S = 3600.0


class StoreError(ValueError):
    """The store cannot be opened; the message names the file and what to do (a setting to fix, as ValueError)."""


class StoreUnavailable(StoreError):
    """A read or write failed while running (locked, unreadable, unwritable); the message names no path."""


def connect(path: Path, busy_timeout_s: float, *, shared: bool = False) -> sqlite3.Connection:
    """An autocommit connection to ``path``; ``shared`` lets other threads use it (behind the caller's lock)."""
    db = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=not shared)
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def create_schema(db: sqlite3.Connection, schema: Sequence[str], prune: Callable[[sqlite3.Connection], None]) -> None:
    """WAL on, then the schema and a first prune in one write transaction."""
    _wal_on(db)
    db.execute("BEGIN IMMEDIATE")
    for statement in schema:
        db.execute(statement)
    prune(db)
    db.execute("COMMIT")


def _wal_on(db: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """Switch a new file to WAL. SQLite can refuse the switch at once, without its busy handler, while
    another process opens the same new file (two workers starting together): try again until ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Kept:
    """A thread's connection and the identity of the file it opened (a connection cannot be weakly referenced)."""

    __slots__ = ("db", "file", "__weakref__")

    def __init__(self, db: sqlite3.Connection, file: tuple[int, ...]) -> None:
        self.db = db
        self.file = file


def _identity(path: Path) -> tuple[int, ...]:
    """Which file is at ``path`` and whether it was written outside the WAL: device, inode, size and
    modification time (SQLite's own writes reach the file only at checkpoints, so a kept connection is
    reopened about once per checkpoint); () when no file is there (SQLite then creates one)."""
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def age_modifier(max_age_days: float) -> str:
    """SQLite's ``datetime('now', ?)`` modifier for rows older than ``max_age_days``."""
    return f"-{max_age_days * 86400:.0f} seconds"


class SqliteFile:
    """One store's file (or ":memory:"): its connections, its schema, its error messages.

    ``store`` names the store in messages users read ("conversation"), ``what`` what it keeps in
    messages operators read ("conversations").
    """

    def __init__(
        self,
        path: Path | None,
        *,
        store: str,
        what: str,
        schema: Sequence[str],
        prune: Callable[[sqlite3.Connection], None],
        busy_timeout_s: float,
    ) -> None:
        """``path`` None keeps the store in this process only, on one connection behind a lock."""
        self.path = path
        self.store = store
        self.what = what
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        if path is None:
            self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            _make_folder(path, what)
        self._prune = prune
        # This process's writers queue here rather than in SQLite's busy handler, which polls with
        # sleeps of up to 100 ms (a write may sleep on past the lock's release) and counts the wait
        # against the busy timeout, which is then left for other processes' writers.
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._kept: weakref.WeakSet[_Kept] = weakref.WeakSet()  # every thread's, for close()
        self._keeper: sqlite3.Connection | None = None
        try:
            with self.connection() as db:
                create_schema(db, schema, prune)
            if path is not None:
                self._drop()  # the last connection: closing it checkpoints the new schema into the file
            if path is not None:
                # Held open, idle, for the store's life: the WAL stays open between operations (closing
                # the last connection checkpoints it, about 2 ms a write), and no other process can take
                # an exclusive lock that would lock our readers out.
                self._keeper = sqlite3.connect(str(path), check_same_thread=False)
                self._keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise self.open_error(exc) from None
        self._pruned_at = time.monotonic()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), this process's writers one at a time,
        pruning expired rows when :data:`PRUNE_INTERVAL_S` has passed since the last prune."""
        with self._write_lock, self.connection() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            if time.monotonic() - self._pruned_at >= PRUNE_INTERVAL_S:
                self._prune(db)
                self._pruned_at = time.monotonic()
            db.execute("COMMIT")

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """An autocommit connection, rolled back on error: the shared one for ":memory:", else this thread's."""
        with self._lock if self._memory is not None else contextlib.nullcontext():
            db = self._memory if self._memory is not None else self._thread_connection()
            try:
                yield db
            except BaseException as exc:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and db is not self._memory:
                    self._drop()  # the file may be broken or replaced: the next operation opens it anew
                raise

    def _thread_connection(self) -> sqlite3.Connection:
        assert self.path is not None
        file = _identity(self.path)
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None and kept.file == file:
            return kept.db
        if kept is not None:
            self._drop()
        db = connect(self.path, self.busy_timeout_s, shared=True)  # shared: close() may close it from another thread
        kept = self._local.kept = _Kept(db, _identity(self.path))
        self._kept.add(kept)
        return db

    def _drop(self) -> None:
        kept: _Kept | None = getattr(self._local, "kept", None)
        self._local.kept = None
        if kept is not None:
            self._kept.discard(kept)
            with contextlib.suppress(sqlite3.Error):
                kept.db.close()

    def open_error(self, exc: sqlite3.Error) -> StoreError:
        """For the operator: which file, what is wrong, what to do."""
        reason = str(exc)
        if self.path is None:
            return StoreError(f"cannot open the in-memory store of {self.what}: {reason}")
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in reason:
            return StoreError(
                f"{self.path} is not a SQLite database; move it away (a new one is created) or set CHATBI_HOME elsewhere"
            )
        if "locked" in reason or "busy" in reason:
            return StoreError(
                f"{self.path} is locked by another process; stop that process or set CHATBI_HOME elsewhere"
            )
        return StoreError(
            f"cannot write {self.what} to {self.path}: {reason}; make it writable or set CHATBI_HOME to a writable folder"
        )

    def run_error(self, action: str, exc: sqlite3.Error) -> StoreUnavailable:
        """For the user: what could not be done, naming no path."""
        reason = "it is locked by another process" if "locked" in str(exc) or "busy" in str(exc) else str(exc)
        return StoreUnavailable(f"the {self.store} store could not {action} ({reason})")

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
        for kept in list(self._kept):
            with contextlib.suppress(sqlite3.Error):
                kept.db.close()
        if self._keeper is not None:
            self._keeper.close()


def _make_folder(path: Path, what: str) -> None:
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
