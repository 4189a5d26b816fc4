"""`chatbi --model DIR` / `$CHATBI_MODEL`: every command reads the customer's model folder, and the
SQL guard's allow-list is that model's relations, not a constant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from engines import connect
from semantic_layer.engine import EngineError
from semantic_layer.semantic_model import MODEL_DIR, MODEL_ENV, load_model

runner = CliRunner()
QUESTION = "上个月天猫的营业流水"


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    metrics = target / "metrics.yaml"
    metrics.write_text(
        metrics.read_text(encoding="utf-8").replace("synonyms: [销售额,", "synonyms: [营业流水, 销售额,", 1)
    )
    return target


def ask(*args: str) -> dict:
    result = runner.invoke(app, [*args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_model_folder_named_on_the_command_line_is_the_one_asked(folder: Path, demo_db: Path) -> None:
    answer = ask("--model", str(folder), "ask", "--db", str(demo_db), "--json", QUESTION)
    assert answer["status"] == "answer" and answer["plan"]["metrics"] == ["gmv"]


def test_the_environment_names_it_too(folder: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(folder))
    assert ask("ask", "--db", str(demo_db), "--json", QUESTION)["plan"]["metrics"] == ["gmv"]
    monkeypatch.delenv(MODEL_ENV)
    bundled = ask("ask", "--db", str(demo_db), "--json", QUESTION)  # the demo model has no such synonym
    assert bundled["status"] == "clarification"


def test_a_folder_that_is_no_model_is_refused_before_anything_runs(tmp_path: Path, demo_db: Path) -> None:
    result = runner.invoke(app, ["--model", str(tmp_path), "ask", "--db", str(demo_db), QUESTION])
    assert result.exit_code == 2 and "not a folder of model YAML files" in result.output


def test_the_guard_reads_only_the_models_relations(
    folder: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's answer key (truth_elasticity) is in the warehouse but in no model: refused, until a
    model folder declares it as an entity."""
    engine = connect(demo_db)
    try:
        with pytest.raises(EngineError, match="not allowed"):
            engine.execute("SELECT COUNT(*) FROM truth_elasticity")
    finally:
        engine.close()
    entities = folder / "entities.yaml"
    declared = "entities:\n  - {name: truth_elasticity, table: truth_elasticity, columns: [category, elasticity]}\n"
    entities.write_text(entities.read_text(encoding="utf-8").replace("entities:\n", declared, 1), encoding="utf-8")
    monkeypatch.setenv(MODEL_ENV, str(folder))
    assert "truth_elasticity" in load_model().relations
    engine = connect(demo_db)
    try:
        assert engine.execute("SELECT COUNT(*) FROM truth_elasticity").rows[0][0] > 0
    finally:
        engine.close()


def test_the_datas_today_is_the_models_reference_or_the_calendars(
    folder: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from agent.assistant import Assistant

    def today() -> dt.date:
        assistant = Assistant.open(demo_db, cache=False)
        try:
            return assistant.today
        finally:
            assistant.close()

    assert today() == dt.date(2026, 1, 1)  # the day after the demo's last order line
    entities = folder / "entities.yaml"
    entities.write_text(entities.read_text(encoding="utf-8").replace("reference_date: {entity: fact_sales}", ""))
    monkeypatch.setenv(MODEL_ENV, str(folder))
    assert today() == dt.date.today()  # a live warehouse: the calendar's
