"""Answers with rows, and the feedback on them, kept in SQLite so any worker can serve either.

A download link or a thumbs-up arrives later than the answer and may reach another process of
``chatbi serve --workers N`` (or come from a chat platform): the answer is therefore kept beside the
conversations (``$CHATBI_HOME/answers.sqlite``) with whom it was answered for, the question, plan,
SQL, definitions and its full rows (within the row limit). Who may read it back is decided here
(:meth:`AnswerStore.load_for`), in one place for every route: the same user, or the same role and
store scope; anyone else is told it does not exist, so ids cannot be probed.

Answers expire like conversation turns (``--keep-conversations``); feedback is kept with its own
copy of the question, plan and SQL, so a verdict outlives the rows it judged. The connection
discipline is agent/sqlite_store.py's, shared with the conversation store: a short-lived connection per
operation, WAL, a short busy timeout, run-time errors as :class:`StoreUnavailable` naming no path.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import secrets
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from agent.answer import Answer
from agent.conversation_store import BUSY_TIMEOUT_S, default_max_age_days
from agent.conversation_store import default_path as conversations_path
from agent.sqlite_store import SqliteFile, StoreError, age_modifier
from semantic_layer.query import Principal

if TYPE_CHECKING:
    from semantic_layer.semantic_model import SemanticModel

Rating = Literal["up", "down"]
#: Longest feedback comment kept (characters); the API refuses longer ones.
MAX_COMMENT_CHARS = 2000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answer ("
    " answer_id TEXT PRIMARY KEY, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, user TEXT NOT NULL,"
    " role TEXT NOT NULL, store TEXT, conversation_id TEXT, question TEXT NOT NULL, channel TEXT NOT NULL,"
    " link_token TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS answer_created_at ON answer (created_at)",
    "CREATE TABLE IF NOT EXISTS feedback ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " answer_id TEXT NOT NULL, rating TEXT NOT NULL, comment TEXT, user TEXT NOT NULL, role TEXT NOT NULL,"
    " store TEXT, channel TEXT NOT NULL, conversation_id TEXT, question TEXT NOT NULL, language TEXT NOT NULL,"
    " plan TEXT, sql TEXT)",
    "CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at)",
)


class Asker(BaseModel):
    """Whom an answer was given to: the user's name and the scope their role reads."""

    user: str
    role: str
    store: str | None = None

    @classmethod
    def of(cls, user: str, principal: Principal) -> Asker:
        return cls(user=user, role=principal.role, store=principal.store_id)

    def may_read(self, other: Asker) -> bool:
        """The same user, or one whose role and store scope read exactly the same rows."""
        return self.user == other.user or (self.role == other.role and self.store == other.store)


class StoredAnswer(BaseModel):
    answer_id: str
    created_at: dt.datetime
    asker: Asker
    conversation_id: str | None
    question: str
    channel: str
    answer: Answer


class Feedback(BaseModel):
    """One thumbs up or down, with what was asked and how it was answered (for review and certification)."""

    id: int
    created_at: dt.datetime
    answer_id: str
    rating: Rating
    comment: str | None
    user: str
    role: str
    store: str | None
    channel: str
    conversation_id: str | None
    question: str
    language: str
    plan: dict[str, Any] | None
    sql: str | None


def default_path() -> Path:
    """``$CHATBI_HOME/answers.sqlite``, beside the conversations."""
    return conversations_path().with_name("answers.sqlite")


class AnswerStore:
    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        max_age_days: float | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        model: SemanticModel | None = None,
    ) -> None:
        """``path`` ":memory:" keeps answers in this process only (the CLI, tests). With ``model``, an answer
        stored before answers carried their labels and display cells gets them computed as it is read."""
        self.model = model
        self.max_age_days = default_max_age_days() if max_age_days is None else max_age_days
        if self.max_age_days <= 0:
            raise StoreError(f"the answer max age must be a positive number of days, got {self.max_age_days}")
        self.busy_timeout_s = busy_timeout_s
        self.path = None if path == ":memory:" else Path(path or default_path())
        self._file = SqliteFile(
            self.path, store="answer", what="answers", schema=_SCHEMA, prune=self._prune,
            busy_timeout_s=busy_timeout_s,
        )  # fmt: skip
        self._connection = self._file.connection

    def save(
        self, answer: Answer, asker: Asker, question: str, *, conversation_id: str | None = None, channel: str = "api"
    ) -> str:
        """Keep ``answer`` for ``asker`` and return its new id (also set on ``answer.answer_id``)."""
        answer_id = secrets.token_urlsafe(12)
        answer.answer_id = answer_id
        row = (
            answer_id, asker.user, asker.role, asker.store, conversation_id, question, channel,
            secrets.token_urlsafe(24), answer.model_dump_json(),
        )  # fmt: skip
        try:
            with self._file.write() as db:
                db.execute(
                    "INSERT INTO answer (answer_id, user, role, store, conversation_id, question, channel,"
                    " link_token, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
        except sqlite3.Error as exc:
            raise self._file.run_error("save", exc) from None
        return answer_id

    def load_for(self, answer_id: str, asker: Asker) -> StoredAnswer | None:
        """The answer if ``asker`` may read it; None when unknown, expired or someone else's (the same reply)."""
        stored = self._load(answer_id)
        return stored if stored is not None and stored.asker.may_read(asker) else None

    def load_by_link(self, answer_id: str, token: str) -> StoredAnswer | None:
        """The answer behind a chat reply's download link (its token stands for the asker); None otherwise."""
        stored = self._load(answer_id, with_token=True)
        if stored is None or not hmac.compare_digest(stored[1].encode(), token.encode()):
            return None
        return stored[0]

    def link_token(self, answer_id: str) -> str | None:
        """The token of ``answer_id``'s download links, for replies in chats (where callers carry no API key)."""
        stored = self._load(answer_id, with_token=True)
        return stored[1] if stored is not None else None

    def add_feedback(self, stored: StoredAnswer, rating: Rating, comment: str | None, asker: Asker) -> Feedback:
        comment = (comment or "").strip() or None
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"the comment is longer than {MAX_COMMENT_CHARS} characters")
        answer = stored.answer
        row = (
            stored.answer_id, rating, comment, asker.user, asker.role, asker.store, stored.channel,
            stored.conversation_id, stored.question, answer.language,
            json.dumps(answer.plan, ensure_ascii=False) if answer.plan is not None else None, answer.sql,
        )  # fmt: skip
        try:
            with self._connection() as db:
                cursor = db.execute(
                    "INSERT INTO feedback (answer_id, rating, comment, user, role, store, channel, conversation_id,"
                    " question, language, plan, sql) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                new_id = cursor.lastrowid
                found = db.execute(f"SELECT {_FEEDBACK_COLUMNS} FROM feedback WHERE id = ?", (new_id,)).fetchone()
        except sqlite3.Error as exc:
            raise self._file.run_error("save feedback", exc) from None
        return _feedback(found)

    def feedback(self, rating: Rating | None = None, limit: int | None = None) -> list[Feedback]:
        """Feedback, newest first; only ``rating`` when given."""
        where, params = ("WHERE rating = ?", [rating]) if rating else ("", [])
        sql = f"SELECT {_FEEDBACK_COLUMNS} FROM feedback {where} ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            with self._connection() as db:
                rows = db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._file.run_error("read feedback", exc) from None
        return [_feedback(row) for row in rows]

    def close(self) -> None:
        self._file.close()

    def _load(self, answer_id: str, with_token: bool = False) -> Any:
        try:
            with self._connection() as db:
                row = db.execute(
                    "SELECT answer_id, created_at, user, role, store, conversation_id, question, channel, body,"
                    " link_token FROM answer WHERE answer_id = ? AND created_at >= datetime('now', ?)",
                    (answer_id, self._age_modifier()),
                ).fetchone()
        except sqlite3.Error as exc:
            raise self._file.run_error("read", exc) from None
        if row is None:
            return None
        stored = StoredAnswer(
            answer_id=row[0],
            created_at=_utc(row[1]),
            asker=Asker(user=row[2], role=row[3], store=row[4]),
            conversation_id=row[5],
            question=row[6],
            channel=row[7],
            answer=Answer.model_validate_json(row[8]),
        )
        if self.model is not None:
            stored.answer.ensure_cells(self.model)
        return (stored, row[9]) if with_token else stored

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM answer WHERE created_at < datetime('now', ?)", (self._age_modifier(),))

    def _age_modifier(self) -> str:
        return age_modifier(self.max_age_days)


_FEEDBACK_COLUMNS = (
    "id, created_at, answer_id, rating, comment, user, role, store, channel, conversation_id, question, language,"
    " plan, sql"
)


def _feedback(row: tuple[Any, ...]) -> Feedback:
    names = [n.strip() for n in _FEEDBACK_COLUMNS.split(",")]
    values = dict(zip(names, row, strict=True))
    values["created_at"] = _utc(values["created_at"])
    values["plan"] = json.loads(values["plan"]) if values["plan"] else None
    return Feedback.model_validate(values)


def _utc(text: str) -> dt.datetime:
    """SQLite's CURRENT_TIMESTAMP (UTC, without an offset) as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
