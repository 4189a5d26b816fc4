"""The conversation store keeps turns across processes, in order; fails fast and clearly; forgets old turns."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from agent.conversation_store import (
    BUSY_TIMEOUT_S,
    DEFAULT_MAX_AGE_DAYS,
    MAX_AGE_ENV,
    MAX_TURNS,
    ConversationStore,
    StoreError,
    StoreUnavailable,
)
from agent.plan import QueryPlan, Refuse, Turn
from semantic_layer.query import MetricQuery


def turn(i: int) -> Turn:
    query = MetricQuery(metrics=["gmv"], period={"start": dt.date(2025, 1, 1), "end": dt.date(2025, 1, i)})
    return Turn(question=f"q{i}", language="zh", plan=QueryPlan(query=query), status="answer")


def test_turns_survive_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    store.append("a", turn(1))
    store.append(
        "a", Turn(question="hi", language="en", plan=Refuse(reason="out_of_scope", text="x"), status="refusal")
    )
    store.append("b", turn(2))
    store.close()
    again = ConversationStore(path)
    conversation = again.load("a")
    assert [t.question for t in conversation.turns] == ["q1", "hi"]
    assert conversation.last_query() is not None and conversation.last_query().period.end == dt.date(2025, 1, 1)
    assert again.load("missing").turns == []
    again.forget("a")
    assert again.load("a").turns == [] and len(again.load("b").turns) == 1


def test_only_the_latest_turns_are_read_back() -> None:
    store = ConversationStore(":memory:")
    for i in range(1, MAX_TURNS + 6):
        store.append("a", turn(min(i, 28)))
    turns = store.load("a").turns
    assert len(turns) == MAX_TURNS and turns[-1].question == f"q{min(MAX_TURNS + 5, 28)}"


# -- a store that cannot be used must say so, quickly, and never with a path at run time ----


@contextmanager
def locked_by_another_process(path: Path, *, readers_too: bool) -> Iterator[None]:
    """Another connection holding the write lock (readers_too: an exclusive lock nobody can read through)."""
    other = sqlite3.connect(str(path), isolation_level=None, timeout=0.1)
    try:
        if readers_too:
            other.execute("PRAGMA locking_mode=EXCLUSIVE")
        other.execute("BEGIN EXCLUSIVE")
        other.execute("DELETE FROM turn WHERE 0")
    except sqlite3.Error:
        other.close()
        raise
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_write_lock_held_elsewhere_fails_the_save_not_the_reads(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, busy_timeout_s=0.2)
    store.append("a", turn(1))
    with locked_by_another_process(path, readers_too=False):
        with pytest.raises(StoreUnavailable, match="locked by another process") as raised:
            store.append("a", turn(2))
        assert str(tmp_path) not in str(raised.value)
        assert [t.question for t in store.load("a").turns] == ["q1"]
    store.append("a", turn(3))  # the lock is gone: the next save works
    assert [t.question for t in store.load("a").turns] == ["q1", "q3"]


def test_while_the_store_is_open_no_other_process_can_lock_its_readers_out(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, busy_timeout_s=0.2)
    store.append("a", turn(1))
    with pytest.raises(sqlite3.OperationalError, match="locked"), locked_by_another_process(path, readers_too=True):
        pass
    assert len(store.load("a").turns) == 1
    store.close()
    with locked_by_another_process(path, readers_too=True):  # closed: now it can, and a new store says so
        with pytest.raises(StoreError, match="locked by another process") as raised:
            ConversationStore(path, busy_timeout_s=0.1)
        assert str(path) in str(raised.value)


def test_the_default_busy_timeout_is_short() -> None:
    """A follow-up whose history is locked is refused within 2 s, not after SQLite's 5 s or our old 10 s."""
    assert BUSY_TIMEOUT_S <= 1.0
    assert ConversationStore(":memory:").busy_timeout_s == BUSY_TIMEOUT_S


def test_a_file_replaced_by_garbage_while_running_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    store.append("a", turn(1))
    saved = path.read_bytes()
    path.write_bytes(b"not sqlite at all " * 500)
    for operation in (lambda: store.load("a"), store.check, lambda: store.forget("a")):
        with pytest.raises(StoreUnavailable, match="not a database") as raised:
            operation()
        assert str(tmp_path) not in str(raised.value)
    with pytest.raises(StoreUnavailable):
        store.append("a", turn(2))
    path.write_bytes(saved)  # put back: the next operation works again
    assert [t.question for t in store.load("a").turns] == ["q1"]


def test_opening_a_file_that_is_not_sqlite_names_it_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    path.write_text("hello, I am a text file\n" * 100, encoding="utf-8")
    with pytest.raises(StoreError, match="not a SQLite database") as raised:
        ConversationStore(path)
    assert str(path) in str(raised.value) and "CHATBI_HOME" in str(raised.value)


def test_opening_where_the_folder_cannot_be_made_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where CHATBI_HOME should be", encoding="utf-8")
    with pytest.raises(StoreError, match="CHATBI_HOME") as raised:
        ConversationStore(blocker / "conversations.sqlite")
    assert str(blocker) in str(raised.value) and not isinstance(raised.value, StoreUnavailable)


def test_opening_with_an_unwritable_wal_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    (tmp_path / "conversations.sqlite-wal").mkdir()  # works as root too, unlike chmod
    with pytest.raises(StoreError, match="writable") as raised:
        ConversationStore(path)
    assert str(path) in str(raised.value)


def test_opening_a_locked_file_says_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite"
    ConversationStore(path).append("a", turn(1))
    with locked_by_another_process(path, readers_too=False), pytest.raises(StoreError, match="locked") as raised:
        ConversationStore(path, busy_timeout_s=0.1)
    assert str(path) in str(raised.value)


# -- old turns are pruned ------------------------------------------------------------------


def _age(path: Path, conversation_id: str, days: float) -> None:
    with sqlite3.connect(str(path)) as db:
        db.execute(
            "UPDATE turn SET created_at = datetime('now', ?) WHERE conversation_id = ?",
            (f"-{days * 86400:.0f} seconds", conversation_id),
        )
    db.close()


def _stored(path: Path) -> list[str]:
    with sqlite3.connect(str(path)) as db:
        rows = db.execute("SELECT DISTINCT conversation_id FROM turn ORDER BY 1").fetchall()
    db.close()
    return [r[0] for r in rows]


def test_turns_older_than_the_max_age_are_not_read_and_pruned_at_open(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, max_age_days=30)
    store.append("old", turn(1))
    store.append("new", turn(2))
    _age(path, "old", 31)
    _age(path, "new", 29)
    assert store.load("old").turns == [] and len(store.load("new").turns) == 1
    assert _stored(path) == ["new", "old"]
    ConversationStore(path, max_age_days=30)
    assert _stored(path) == ["new"]
    ConversationStore(path, max_age_days=7)
    assert _stored(path) == []


def test_appends_prune_periodically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path, max_age_days=1)
    store.append("old", turn(1))
    _age(path, "old", 2)
    store.append("b", turn(2))  # within the prune interval: nothing deleted yet
    assert _stored(path) == ["b", "old"]
    monkeypatch.setattr("agent.sqlite_store.PRUNE_INTERVAL_S", 0.0)
    store.append("b", turn(3))
    assert _stored(path) == ["b"]


def test_the_max_age_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_AGE_ENV, "7")
    assert ConversationStore(":memory:").max_age_days == 7
    monkeypatch.setenv(MAX_AGE_ENV, "soon")
    with pytest.raises(StoreError, match=MAX_AGE_ENV):
        ConversationStore(":memory:")
    monkeypatch.delenv(MAX_AGE_ENV)
    assert ConversationStore(":memory:").max_age_days == DEFAULT_MAX_AGE_DAYS == 30


def test_writers_in_one_process_wait_for_each_other_not_for_the_busy_timeout(tmp_path: Path) -> None:
    """Many threads saving at once, with no busy timeout at all: each waits for this process's other writers on a
    lock, so every turn is kept (SQLite's busy handler would have refused the ones that found the file locked)."""
    store = ConversationStore(tmp_path / "c.sqlite", busy_timeout_s=0)
    turn = Turn(question="q", language="en", plan=Refuse(reason="out_of_scope", text="x"), status="refusal")

    def save(writer: int) -> None:
        for _ in range(25):
            store.append(f"w{writer}", turn)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, range(8)))
    assert [len(store.load(f"w{w}").turns) for w in range(8)] == [MAX_TURNS] * 8
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM turn").fetchone() == (200,)
    store.close()
