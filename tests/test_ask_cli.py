"""`chatbi ask` and `chatbi chat` end to end on the small demo: the JSON contract, sessions, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBI_HOME", str(tmp_path / "home"))


def ask(demo_db: Path, question: str, *extra: str) -> dict:
    result = runner.invoke(app, ["ask", question, "--db", str(demo_db), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_answer_object_of_the_design(demo_db: Path) -> None:
    answer = ask(demo_db, "上个月天猫的毛利率是多少?")
    assert set(answer) == {
        "status", "text", "language", "plan", "sql", "columns", "rows", "chart", "definitions", "period", "options",
        "cached", "data_version", "retry_after_s", "answer_id", "verified", "labels", "display", "formats",
    }  # fmt: skip
    assert answer["labels"] == ["毛利率"] and answer["display"][0][0].endswith("%")  # one per column, per cell
    assert answer["formats"] == ["percent"]
    assert answer["answer_id"] is None  # only the server keeps answers for downloads
    assert answer["status"] == "answer" and answer["language"] == "zh"
    assert answer["cached"] is False and answer["data_version"]  # a new process: read from the database
    assert answer["period"] == {"start": "2025-12-01", "end": "2025-12-31"}
    assert answer["plan"]["filters"] == [{"dimension": "channel", "members": ["tmall"], "exclude": False}]
    assert answer["columns"] == ["gross_margin"] and isinstance(answer["rows"][0][0], float)
    assert answer["definitions"][0]["metric"] == "gross_margin" and "天猫" in answer["text"]
    assert answer["chart"] is None and "fact_sales" in answer["sql"]


def test_a_tool_answer_carries_its_labels_and_display_cells(demo_db: Path) -> None:
    answer = ask(demo_db, "给面膜做一份补货建议")
    assert answer["plan"]["kind"] == "tool" and answer["rows"]
    assert len(answer["labels"]) == len(answer["columns"])
    assert [len(row) for row in answer["display"]] == [len(row) for row in answer["rows"]]
    labels = dict(zip(answer["columns"], answer["labels"], strict=True))
    assert labels["order_qty"] == "建议订货量" and labels["sku_name"] == "商品"  # the tool's own, in zh
    value = answer["columns"].index("order_value")
    assert all(row[value].startswith("¥") or row[value] == "—" for row in answer["display"])


def test_no_cache_reports_no_data_version(demo_db: Path) -> None:
    answer = ask(demo_db, "上个月天猫的毛利率是多少?", "--no-cache")
    assert answer["status"] == "answer" and answer["cached"] is False and answer["data_version"] is None


def test_english_questions_get_english_answers_and_charts(demo_db: Path) -> None:
    answer = ask(demo_db, "GMV by channel last year")
    assert answer["language"] == "en" and answer["chart"]["type"] == "bar"
    assert {row[0] for row in answer["rows"]} == {"tmall", "jd", "douyin", "xiaohongshu", "offline"}
    trend = ask(demo_db, "gross margin trend")
    assert trend["chart"]["type"] == "line" and len(trend["rows"]) == 12


def test_a_session_keeps_the_context_across_calls(demo_db: Path) -> None:
    first = ask(demo_db, "上个月天猫的销售额", "--session", "s1")
    second = ask(demo_db, "那京东呢?", "--session", "s1")
    assert second["plan"]["filters"][0]["members"] == ["jd"]
    assert second["period"] == first["period"]
    fresh = ask(demo_db, "那京东呢?", "--session", "other")
    assert fresh["status"] != "answer" or fresh["plan"]["metrics"] != ["gmv"] or fresh["period"] != first["period"]


def test_clarification_then_pick_in_the_same_session(demo_db: Path) -> None:
    asked = ask(demo_db, "上个月周转怎么样", "--session", "c1")
    assert asked["status"] == "clarification" and len(asked["options"]) == 2
    picked = ask(demo_db, "周转天数", "--session", "c1")
    assert picked["status"] == "answer" and picked["plan"]["metrics"] == ["dio"]


def test_refusals_are_answers_not_errors(demo_db: Path) -> None:
    assert ask(demo_db, "把上个月销售额改成100万")["status"] == "refusal"
    denied = ask(demo_db, "上个月库存周转天数", "--role", "marketing")
    assert denied["status"] == "refusal" and denied["plan"] is None


def test_store_manager_sees_only_their_store(demo_db: Path) -> None:
    answer = ask(demo_db, "上个月销售额", "--role", "store_manager", "--store", "st_sh01")
    assert answer["status"] == "answer" and "st_sh01" in answer["sql"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--today", "yesterday"], "--today expects a date"),
        (["--planner", "gpt"], "--planner expects"),
        (["--role", "store_manager"], "needs --store"),
    ],
)
def test_bad_input_is_one_line(demo_db: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["ask", "GMV", "--db", str(demo_db), *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_database_says_how_to_build_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "GMV", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "chatbi demo build" in result.stderr


def test_chat_follows_up_and_saves_the_session(demo_db: Path) -> None:
    result = runner.invoke(app, ["chat", "--db", str(demo_db)], input="上个月各渠道销售额\n按月拆开\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "线下门店" in result.stdout and "resume with: chatbi chat --session" in result.stdout


def test_the_embedded_path_imports_nothing_heavy(demo_db: Path) -> None:
    code = (
        "import sys\n"
        "from api.cli import app\n"
        f"try:\n    app(['ask', 'GMV', '--db', {str(demo_db)!r}, '--json'])\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('langchain', 'langchain_openai', 'fastapi', 'uvicorn', 'pandas', 'openai') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("HEAVY []")


def test_csv_and_xlsx_files_of_the_whole_table(demo_db: Path, tmp_path: Path) -> None:
    import csv
    import io

    import openpyxl

    answer = ask(demo_db, "去年各月各渠道的销售额")
    result = runner.invoke(
        app, ["ask", "去年各月各渠道的销售额", "--db", str(demo_db), "--csv", str(tmp_path / "a.csv"),
              "--xlsx", str(tmp_path / "a.xlsx")],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'a.csv'} (60 rows)" in result.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "a.csv").read_text(encoding="utf-8-sig"))))
    assert rows[1:] == [[str(v) for v in row] for row in answer["rows"]]
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert book.sheetnames == ["结果", "指标定义"] and book["结果"].max_row == 61


def test_a_file_of_an_answer_without_a_table_is_an_error(demo_db: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "上个月周转怎么样?", "--db", str(demo_db), "--csv", str(tmp_path / "a.csv")])
    assert result.exit_code == 1 and "--csv: this answer has no table to write (it is a clarification)" in result.stderr
    assert not (tmp_path / "a.csv").exists()
    unwritable = runner.invoke(app, ["ask", "上个月各渠道的销售额", "--db", str(demo_db), "--xlsx", str(tmp_path)])
    assert unwritable.exit_code == 1 and f"cannot write {tmp_path}" in unwritable.stderr


def test_a_wide_tool_answer_fits_80_columns_and_says_what_is_left_out(demo_db: Path) -> None:
    result = runner.invoke(app, ["ask", "给面膜做一份补货建议", "--db", str(demo_db)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    table = [line for line in result.stdout.splitlines() if line[:1] in "┏┃│└"]
    assert table and max(len(line) for line in table) <= 80
    assert "列未显示（终端宽度 80）；全部列请用 --csv PATH、--xlsx PATH 或 --json" in result.stdout
