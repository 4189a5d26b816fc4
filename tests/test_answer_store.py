"""The answer store: who may read an answer back, expiry, feedback with all its fields, sharing across processes."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from agent.answer import Answer, Definition
from agent.answer_store import AnswerStore, Asker
from agent.conversation_store import StoreError

BOB = Asker(user="bob", role="store_manager", store="st_sh01")


def answer() -> Answer:
    return Answer(
        status="answer",
        text="上个月销售额 ¥1.00万",
        language="zh",
        plan={"kind": "query", "metrics": ["gmv"]},
        sql="SELECT 1",
        columns=["channel", "gmv"],
        rows=[["tmall", 10000.5], ["jd", 0.25]],
        definitions=[Definition(metric="gmv", name="销售额", definition="SUM(revenue)")],
    )


def test_the_asker_and_callers_with_the_same_scope_read_it_others_get_nothing(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path / "answers.sqlite")
    answer_id = store.save(answer(), BOB, "上个月销售额", conversation_id="c1")
    assert store.load_for(answer_id, BOB) is not None
    colleague = Asker(user="bea", role="store_manager", store="st_sh01")
    assert store.load_for(answer_id, colleague) is not None  # same role and store: the same rows
    other_store = Asker(user="carl", role="store_manager", store="st_bj01")
    assert store.load_for(answer_id, other_store) is None
    assert store.load_for(answer_id, Asker(user="alice", role="finance")) is None
    assert store.load_for("no-such-answer", BOB) is None
    stored = store.load_for(answer_id, BOB)
    assert stored is not None and stored.answer.rows == [["tmall", 10000.5], ["jd", 0.25]]
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert stored.answer.answer_id == answer_id and stored.question == "上个月销售额" and stored.conversation_id == "c1"


def test_link_tokens_open_only_their_own_answer(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path / "answers.sqlite")
    first = store.save(answer(), BOB, "q1")
    second = store.save(answer(), BOB, "q2")
    token = store.link_token(first)
    assert token and store.load_by_link(first, token) is not None
    assert store.load_by_link(second, token) is None
    assert store.load_by_link(first, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_answers_expire_like_conversations(tmp_path: Path) -> None:
    path = tmp_path / "answers.sqlite"
    store = AnswerStore(path, max_age_days=1)
    old = store.save(answer(), BOB, "old")
    new = store.save(answer(), BOB, "new")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE answer SET created_at = datetime('now', '-2 days') WHERE answer_id = ?", (old,))
    assert store.load_for(old, BOB) is None and store.load_for(new, BOB) is not None
    AnswerStore(path, max_age_days=1)  # opening prunes what expired
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT answer_id FROM answer")] == [new]


def test_saves_prune_what_expired_at_most_once_an_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "answers.sqlite"
    store = AnswerStore(path, max_age_days=1)
    old = store.save(answer(), BOB, "old")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE answer SET created_at = datetime('now', '-2 days') WHERE answer_id = ?", (old,))

    def kept() -> int:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM answer").fetchone()[0])

    store.save(answer(), BOB, "within the interval")
    assert kept() == 2  # the expired one is unreadable (above) but not yet deleted
    monkeypatch.setattr("agent.sqlite_store.PRUNE_INTERVAL_S", 0.0)
    store.save(answer(), BOB, "after it")
    assert kept() == 2 and store.load_for(old, BOB) is None


def test_feedback_keeps_question_conversation_plan_sql_user_and_role(tmp_path: Path) -> None:
    store = AnswerStore(tmp_path / "answers.sqlite")
    answer_id = store.save(answer(), BOB, "上个月销售额", conversation_id="c9", channel="slack")
    stored = store.load_for(answer_id, BOB)
    assert stored is not None
    colleague = Asker(user="bea", role="store_manager", store="st_sh01")
    kept = store.add_feedback(stored, "down", "  漏了退货  ", colleague)
    assert kept.model_dump(exclude={"id", "created_at"}) == {
        "answer_id": answer_id, "rating": "down", "comment": "漏了退货", "user": "bea", "role": "store_manager",
        "store": "st_sh01", "channel": "slack", "conversation_id": "c9", "question": "上个月销售额", "language": "zh",
        "plan": {"kind": "query", "metrics": ["gmv"]}, "sql": "SELECT 1",
    }  # fmt: skip
    store.add_feedback(stored, "up", "", BOB)
    assert [f.rating for f in store.feedback()] == ["up", "down"]  # newest first
    assert [f.user for f in store.feedback(rating="down")] == ["bea"]
    assert store.feedback(rating="up")[0].comment is None
    with pytest.raises(ValueError, match="longer than"):
        store.add_feedback(stored, "up", "x" * 2001, BOB)


def test_another_process_sees_the_answers_and_the_feedback(tmp_path: Path) -> None:
    path = tmp_path / "answers.sqlite"
    one, two = AnswerStore(path), AnswerStore(path)
    answer_id = one.save(answer(), BOB, "q")
    stored = two.load_for(answer_id, BOB)
    assert stored is not None
    two.add_feedback(stored, "up", None, BOB)
    assert [f.answer_id for f in one.feedback()] == [answer_id]


def test_an_unusable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "answers.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="answers.sqlite is not a SQLite database"):
        AnswerStore(path)
    with pytest.raises(StoreError, match="positive"):
        AnswerStore(":memory:", max_age_days=0)


def _open_store_at(path: str, start: float) -> str | None:
    """In a process of its own: wait for ``start``, then open the store at ``path``; the error, if any."""
    import time

    while time.time() < start:
        pass
    try:
        AnswerStore(Path(path)).close()
    except StoreError as exc:
        return str(exc)
    return None


def test_two_processes_opening_a_new_store_together_both_open_it(tmp_path: Path) -> None:
    # two server workers starting at once: SQLite can refuse the switch to WAL without waiting
    # (a "locked" error at once, about one start in three without the retry), so a worker died at start
    import multiprocessing
    import time

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for i in range(12):
            path, start = str(tmp_path / f"answers{i}.sqlite"), time.time() + 0.3
            assert pool.starmap(_open_store_at, [(path, start), (path, start)]) == [None, None]
