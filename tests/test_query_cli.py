"""`chatbi query` / `chatbi metrics`: tables, the JSON answer object, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.handwritten_sql import TOTALS

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_json_answer_has_the_design_contract_fields(demo_db: Path) -> None:
    code, out, _ = run(
        "query", "--metric", "毛利率", "--metric", "gmv", "--from", "2025-01-01", "--to", "2025-03-31",
        "--db", str(demo_db), "--json",
    )  # fmt: skip
    assert code == 0
    answer = json.loads(out)
    assert set(answer) == {
        "status", "text", "language", "plan", "sql", "columns", "rows", "chart", "definitions", "period", "options",
        "cached", "data_version", "retry_after_s", "answer_id", "verified", "labels", "display", "formats",
    }  # fmt: skip
    assert answer["status"] == "answer" and answer["language"] == "zh"
    assert answer["cached"] is False and answer["data_version"] and answer["answer_id"] is None
    assert answer["columns"] == ["gross_margin", "gmv"]
    assert answer["period"] == {"start": "2025-01-01", "end": "2025-03-31"}
    assert answer["plan"]["metrics"] == ["gross_margin", "gmv"]
    assert [d["metric"] for d in answer["definitions"]] == ["gross_margin", "gmv"]
    assert answer["definitions"][0]["name"] == "毛利率"
    with duckdb.connect(str(demo_db), read_only=True) as con:
        params = {"start": "2025-01-01", "end": "2025-03-31"}
        (gm,) = con.execute(TOTALS["gross_margin"], params).fetchone()
        (gmv,) = con.execute(TOTALS["gmv"], params).fetchone()
    assert answer["rows"][0][0] == pytest.approx(gm)
    assert answer["rows"][0][1] == float(gmv)  # Decimal -> JSON number
    assert f"{gm * 100:.2f}%" in answer["text"]


def test_by_month_and_where_with_synonyms_and_compare(demo_db: Path) -> None:
    code, out, _ = run(
        "query", "-m", "gmv", "--by", "month", "--by", "渠道", "--where", "channel=天猫,京东",
        "--from", "2025-01-01", "--to", "2025-03-31", "--compare", "yoy", "--db", str(demo_db), "--json",
    )  # fmt: skip
    assert code == 0
    answer = json.loads(out)
    assert answer["columns"] == ["month", "channel", "channel_name", "gmv", "gmv_previous", "gmv_growth"]
    assert {r[1] for r in answer["rows"]} == {"tmall", "jd"}
    assert answer["rows"][0][0] == "2025-01-01"
    assert answer["chart"]["type"] == "line" and answer["chart"]["series"] == "channel"


def test_table_output_and_default_period(demo_db: Path) -> None:
    code, out, _ = run("query", "-m", "dio", "--by", "category", "--db", str(demo_db), "--lang", "en")
    assert code == 0
    assert "2025-12-01 to 2025-12-31" in out and "days" in out


def test_refusal_is_one_line_on_stderr(demo_db: Path) -> None:
    code, out, err = run("query", "-m", "dio", "--by", "channel", "--db", str(demo_db))
    assert code == 2 and out == ""
    assert err.startswith("error: dio") and "category" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run("query", "-m", "dso", "--role", "marketing", "--db", str(demo_db), "--json")
    assert code == 0 and json.loads(out)["status"] == "refusal"


def test_store_manager_from_the_command_line(demo_db: Path) -> None:
    code, out, _ = run(
        "query", "-m", "gmv", "--by", "store", "--role", "store_manager", "--store", "tmall_flagship",
        "--db", str(demo_db), "--json",
    )  # fmt: skip
    assert code == 0
    assert [r[0] for r in json.loads(out)["rows"]] == ["tmall_flagship"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "gmv", "--from", "2025-13-01"], "--from expects a date"),
        (["-m", "gmv", "--by", "colour"], "unknown --by 'colour'"),
        (["-m", "gmv", "--where", "channel"], "--where expects"),
        (["-m", "gmv", "--compare", "wow"], "--compare expects yoy or pop"),
        (["-m", "gmv", "--from", "2025-02-01", "--to", "2025-01-01"], "before it starts"),
        (["-m", "grossmargin"], "did you mean gross_margin"),
        (["-m", "gmv", "--where", "channel=taobaoo"], "unknown channel 'taobaoo'"),
    ],
)
def test_bad_input_is_a_one_line_error(demo_db: Path, args: list[str], message: str) -> None:
    code, _, err = run("query", *args, "--db", str(demo_db))
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_database(tmp_path: Path) -> None:
    code, _, err = run("query", "-m", "gmv", "--db", str(tmp_path / "none.duckdb"))
    assert code == 2 and "database not found" in err


def test_metrics_catalog_in_both_languages() -> None:
    code, out, _ = run("metrics", "--json")
    assert code == 0
    catalog = {m["id"]: m for m in json.loads(out)}
    assert catalog["dio"]["name_zh"] == "库存周转天数" and catalog["dio"]["name_en"]
    assert catalog["ccc"]["can_break_down_by"] == ["date"]
    code, out, _ = run("metrics")
    assert code == 0 and "毛利率" in out
