"""The one conversation store: turns kept in SQLite, so follow-ups work across processes.

`chatbi ask --session ID` runs a new process per question; the API serves many users at
once. Both read and append turns here. Each turn is written in its own transaction, so an
interrupted process loses at most the turn it was answering.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from agent.plan import Conversation, Turn

#: Turns a planner sees; older ones stay stored but are not read back.
MAX_TURNS = 20


def default_path() -> Path:
    """``$CHATBI_HOME/conversations.sqlite`` (default ``~/.chatbi``)."""
    home = Path(os.environ.get("CHATBI_HOME") or Path.home() / ".chatbi")
    return home / "conversations.sqlite"


class ConversationStore:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        """``path`` ":memory:" keeps conversations in this process only (evals, tests)."""
        target = ":memory:" if path == ":memory:" else Path(path or default_path())
        if isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(target), check_same_thread=False, timeout=10)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS turn ("
                " conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, created_at TEXT DEFAULT CURRENT_TIMESTAMP,"
                " body TEXT NOT NULL, PRIMARY KEY (conversation_id, seq))"
            )

    def load(self, conversation_id: str) -> Conversation:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM (SELECT seq, body FROM turn WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?)"
                " ORDER BY seq",
                (conversation_id, MAX_TURNS),
            ).fetchall()
        return Conversation(id=conversation_id, turns=[Turn.model_validate_json(body) for (body,) in rows])

    def append(self, conversation_id: str, turn: Turn) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO turn (conversation_id, seq, body) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?"
                " FROM turn WHERE conversation_id = ?",
                (conversation_id, turn.model_dump_json(), conversation_id),
            )

    def forget(self, conversation_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM turn WHERE conversation_id = ?", (conversation_id,))

    def close(self) -> None:
        self._db.close()
