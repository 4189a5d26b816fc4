"""A process's first question planned from the disk (agent/first_plan.py): a repeated question from a new
process builds no planner and gets the plan the planner made, and an entry is never used once what the
plan follows from changed (the asker, the data, the planner's files, the verified-first switch), nor for
a follow-up."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import prepared_sql
from agent.assistant import Assistant
from semantic_layer import disk_cache
from semantic_layer.query import Principal
from semantic_layer.semantic_model import MODEL_DIR, MODEL_ENV, _load_default

QUESTION = "上个月各渠道的销售额"
MANAGER = Principal(role="store_manager", store_id="st_sh01")


@pytest.fixture()
def db(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the demo file (its version changes when touched) and an empty disk cache."""
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(tmp_path / "cache"))
    prepared_sql._memory.clear()
    copy = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, copy)
    yield copy
    prepared_sql._memory.clear()


def ask(db: Path, question: str = QUESTION, **kwargs: object) -> tuple[Assistant, dict]:
    """``question`` asked by a new assistant (a new process's): whether it built a planner, and the answer."""
    assistant = Assistant.open(db, verified_first=bool(kwargs.pop("verified_first", True)))
    try:
        answer = assistant.ask(question, **kwargs)  # type: ignore[arg-type]
        return assistant, answer.model_dump(mode="json")
    finally:
        assistant.close()


def test_a_repeated_first_question_builds_no_planner_and_answers_the_same(db: Path) -> None:
    first, answer = ask(db)
    assert first._planner is not None  # planned: nothing on disk yet
    again, repeated = ask(db)
    assert again._planner is None
    assert repeated == answer and answer["status"] == "answer" and answer["rows"]


def test_another_asker_is_planned_afresh(db: Path) -> None:
    ask(db)
    manager, answer = ask(db, principal=MANAGER)
    assert manager._planner is not None
    assert ask(db, principal=MANAGER)[0]._planner is None


def test_new_data_is_planned_afresh(db: Path) -> None:
    """Members are resolved against the master data, read from the warehouse: a new version, a new plan."""
    ask(db)
    stat = db.stat()
    os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ask(db)[0]._planner is not None


def test_a_changed_planner_file_is_planned_afresh(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The planner's phrase files and verified questions live under the model folder's planner/."""
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    monkeypatch.setenv(MODEL_ENV, str(folder))
    _load_default.cache_clear()
    try:
        ask(db)
        assert ask(db)[0]._planner is None
        phrases = sorted((folder / "planner").glob("*.yaml"))[0]
        phrases.write_text(phrases.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        assert ask(db)[0]._planner is not None
    finally:
        _load_default.cache_clear()


def test_the_verified_first_switch_is_part_of_the_name(db: Path) -> None:
    ask(db)
    assert ask(db, verified_first=False)[0]._planner is not None


def test_a_follow_up_is_never_planned_from_the_disk(db: Path) -> None:
    assistant = Assistant.open(db)
    try:
        assistant.ask(QUESTION, conversation_id="c")
        assistant._planner = None  # as a new process would be, with the conversation in a shared store
        follow_up = assistant.ask("那京东呢?", conversation_id="c")
        assert assistant._planner is not None and follow_up.status == "answer"
    finally:
        assistant.close()
