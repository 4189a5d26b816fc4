"""`chatbi feedback list`: the feedback the server kept, filtered by rating, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.answer import Answer
from agent.answer_store import AnswerStore, Asker, default_path
from api.cli import app

runner = CliRunner()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHATBI_HOME", str(tmp_path))
    return tmp_path


def give(store: AnswerStore, question: str, rating: str, comment: str | None, asker: Asker) -> str:
    answer = Answer(status="answer", text="t", language="zh", plan={"kind": "query"}, sql="SELECT 2",
                    columns=["gmv"], rows=[[1.5]])  # fmt: skip
    answer_id = store.save(answer, asker, question, conversation_id="c1", channel="api")
    stored = store.load_for(answer_id, asker)
    assert stored is not None
    store.add_feedback(stored, rating, comment, asker)  # type: ignore[arg-type]
    return answer_id


def test_list_filters_by_rating_and_prints_json_with_every_field(home: Path) -> None:
    store = AnswerStore(default_path())
    bob = Asker(user="bob", role="store_manager", store="st_sh01")
    down = give(store, "上个月销售额", "down", "漏了退货", bob)
    give(store, "GMV by channel", "up", None, Asker(user="alice", role="finance"))
    result = runner.invoke(app, ["feedback", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [f["question"] for f in json.loads(result.stdout)] == ["GMV by channel", "上个月销售额"]
    downs = json.loads(runner.invoke(app, ["feedback", "list", "--rating", "down", "--json"]).stdout)
    assert [{k: f[k] for k in ("answer_id", "rating", "comment", "user", "role", "store", "conversation_id",
                               "question", "plan", "sql", "channel")} for f in downs] == [
        {"answer_id": down, "rating": "down", "comment": "漏了退货", "user": "bob", "role": "store_manager",
         "store": "st_sh01", "conversation_id": "c1", "question": "上个月销售额", "plan": {"kind": "query"},
         "sql": "SELECT 2", "channel": "api"}
    ]  # fmt: skip
    table = runner.invoke(app, ["feedback", "list", "--rating", "down"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "漏了退货" in table.stdout and "GMV by channel" not in table.stdout
    assert len(json.loads(runner.invoke(app, ["feedback", "list", "--limit", "1", "--json"]).stdout)) == 1


def test_no_store_yet_and_bad_options(home: Path) -> None:
    assert runner.invoke(app, ["feedback", "list", "--json"]).stdout.strip() == "[]"
    assert "no feedback yet" in runner.invoke(app, ["feedback", "list"]).stdout
    bad = runner.invoke(app, ["feedback", "list", "--rating", "meh"])
    assert bad.exit_code == 2 and "--rating expects up or down, got 'meh'" in bad.stderr
    assert "Feedback on answers" in runner.invoke(app, ["feedback", "--help"]).stdout


def test_certify_turns_the_answer_feedback_is_about_into_a_verified_question(
    home: Path, demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from agent.assistant import Assistant
    from semantic_layer.semantic_model import MODEL_DIR

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    monkeypatch.setenv("CHATBI_MODEL", str(folder))
    asked = "上个月天猫的销售额"
    assistant = Assistant.open(demo_db, planner="embedded", cache=False)
    try:
        answer = assistant.ask(asked)
    finally:
        assistant.close()
    assert answer.status == "answer" and answer.plan is not None and answer.verified is None
    store = AnswerStore(default_path())
    alice = Asker(user="alice", role="finance")
    answer_id = store.save(answer, alice, asked, conversation_id="c1", channel="api")
    stored = store.load_for(answer_id, alice)
    assert stored is not None
    store.add_feedback(stored, "up", None, alice)
    feedback_id = store.feedback()[0].id
    store.close()

    denied = runner.invoke(app, ["feedback", "certify", str(feedback_id), "--user", "bob", "--role", "store_manager",
                                 "--db", str(demo_db)])  # fmt: skip
    assert denied.exit_code == 2 and "may not certify" in denied.stderr
    missing = runner.invoke(app, ["feedback", "certify", "999", "--user", "ann", "--db", str(demo_db)])
    assert missing.exit_code == 2 and "no feedback with id 999" in missing.stderr

    canonical = "天猫上个月的销售额是多少"
    done = runner.invoke(app, ["feedback", "certify", str(feedback_id), "--user", "ann", "--question", canonical,
                               "--db", str(demo_db)])  # fmt: skip
    assert done.exit_code == 0, done.output
    written = (folder / "planner" / "verified.yaml").read_text(encoding="utf-8")
    assert canonical in written and asked in written and "ann" in written
    assistant = Assistant.open(demo_db, planner="embedded", cache=False)
    try:
        again = assistant.ask(canonical)
    finally:
        assistant.close()
    assert again.verified is not None and again.verified.by == "ann"
    assert again.rows == answer.rows  # the certified plan, recomputed: the same number
