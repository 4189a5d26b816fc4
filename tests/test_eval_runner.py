"""The eval harness end to end with a scripted fake assistant: loader rules, scoring, summary,
reports and `chatbi eval` (exit codes, --floor). Gold SQL runs for real on the small demo."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from agent.answer import Answer
from api.eval_cli import register
from evals.case_file import CaseFileError, load_suite
from evals.report import to_json, to_markdown
from evals.runner import EvalRun, answered_wrong, compute_gold, run_cases
from semantic_layer.query import MetricQuery, Principal

DEC = "BETWEEN DATE '2025-12-01' AND DATE '2025-12-31'"
CASES = f"""
families:
  - id: lookup.gmv_last_month
    category: lookup
    expect:
      status: answer
      plan: {{metrics: [gmv], period: {{start: 2025-12-01, end: 2025-12-31}}}}
      sql: SELECT SUM(revenue) AS gmv FROM fact_sales WHERE order_date {DEC}
    cases:
      - {{q: "上个月卖了多少钱?", lang: zh}}
      - {{q: "What was GMV last month?", lang: en}}
      - {{q: "上个月 GMV 多少", lang: mixed}}
  - id: breakdown.gmv_by_channel
    category: breakdown
    expect:
      status: answer
      sql: |
        SELECT s.channel, SUM(f.revenue) AS gmv
        FROM fact_sales f JOIN dim_store s USING (store_id)
        WHERE f.order_date {DEC} GROUP BY 1
    cases:
      - {{q: "上个月各渠道销售额", lang: zh}}
      - {{q: "GMV by channel last month", lang: en}}
  - id: clarification.turnover
    category: clarification
    expect: {{status: clarification, options_include: [DIO, inventory_turnover]}}
    cases:
      - {{q: "库存周转怎么样?", lang: zh}}
      - {{q: "How is turnover?", lang: en}}
  - id: refusal.weather
    category: refusal
    role: store_manager
    store: st_sh01
    today: 2025-06-30
    expect: {{status: refusal}}
    cases:
      - {{q: "明天天气怎么样?", lang: zh}}
      - {{q: "What's the weather tomorrow?", lang: en}}
  - id: follow-up.jd_after_tmall
    category: follow-up
    expect:
      status: answer
      plan: {{filters: [{{dimension: channel, members: [jd]}}]}}
      sql: |
        SELECT SUM(f.revenue) AS gmv FROM fact_sales f JOIN dim_store s USING (store_id)
        WHERE f.order_date {DEC} AND s.channel = 'jd'
    cases:
      - {{turns: ["上个月天猫的销售额?", "那京东呢?"], lang: zh}}
"""


def _plan(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"metrics": ["gmv"], "period": {"start": "2025-12-01", "end": "2025-12-31"}, **changes}
    return MetricQuery.model_validate(fields).model_dump(mode="json")


class FakeAssistant:
    """Scripted answers by question; records every call. A script entry may be an exception to raise."""

    def __init__(self, script: dict[str, Answer | Exception]) -> None:
        self.script = script
        self.asked: list[tuple[str, str, Principal, dt.date]] = []
        self.planned: list[tuple[str, str]] = []
        self.closed = False

    def ask(self, question: str, *, conversation_id: str, principal: Principal, today: dt.date) -> Answer:
        self.asked.append((question, conversation_id, principal, today))
        reply = self.script[question]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def plan_only(self, question: str, *, conversation_id: str, principal: Principal, today: dt.date) -> None:
        self.planned.append((question, conversation_id))

    def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def script(demo_db: Path) -> dict[str, Answer | Exception]:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        (gmv,) = con.execute(f"SELECT SUM(revenue) FROM fact_sales WHERE order_date {DEC}").fetchone()  # type: ignore[misc]
        by_channel = con.execute(
            f"SELECT s.store_name, s.channel, SUM(f.revenue) FROM fact_sales f JOIN dim_store s USING (store_id) "
            f"WHERE f.order_date {DEC} GROUP BY s.channel, s.store_name"
        ).fetchall()
        (jd,) = con.execute(  # type: ignore[misc]
            f"SELECT SUM(f.revenue) FROM fact_sales f JOIN dim_store s USING (store_id) "
            f"WHERE f.order_date {DEC} AND s.channel = 'jd'"
        ).fetchone()
    # an answer table with a display-name column first and rows in another order than the gold
    channels: dict[str, list[Any]] = {}
    for _name, channel, value in by_channel:
        channels.setdefault(channel, [channel.upper(), channel, 0])[2] += value
    channel_rows = sorted(channels.values(), reverse=True)

    def answer(columns: list[str], rows: list[list[Any]], plan: dict[str, Any] | None = None) -> Answer:
        return Answer(status="answer", text="ok", language="zh", plan=plan or _plan(), columns=columns, rows=rows)

    def other(status: str, options: list[str] | None = None) -> Answer:
        return Answer(status=status, text=f"a {status}", language="en", options=options or [])  # type: ignore[arg-type]

    return {
        "上个月卖了多少钱?": answer(["gmv"], [[gmv]]),
        "What was GMV last month?": answer(  # right number, wrong period in the plan
            ["gmv"], [[float(gmv)]], _plan(period={"start": "2025-11-01", "end": "2025-11-30"})
        ),
        "上个月 GMV 多少": answer(["gmv"], [[gmv * 2]]),  # wrong number, right plan
        "上个月各渠道销售额": answer(["渠道名称", "channel", "gmv"], channel_rows, _plan(dimensions=["channel"])),
        "GMV by channel last month": other("refusal"),  # a wrong refusal
        "库存周转怎么样?": other("clarification", ["库存周转天数 (dio)", "库存周转率 (inventory_turnover)"]),
        "How is turnover?": other("clarification", ["inventory_turnover", "stockout_rate"]),
        "明天天气怎么样?": other("refusal"),
        "What's the weather tomorrow?": RuntimeError("planner exploded"),
        "上个月天猫的销售额?": answer(["gmv"], [[1]]),
        "那京东呢?": answer(["gmv"], [[jd]], _plan(filters=[{"dimension": "channel", "members": ["jd"]}])),
    }


@pytest.fixture()
def case_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CASES, encoding="utf-8")
    return path


@pytest.fixture()
def run(case_file: Path, demo_db: Path, script: dict[str, Answer | Exception]) -> tuple[EvalRun, FakeAssistant]:
    suite = load_suite(case_file)
    gold = compute_gold(suite.families, demo_db)
    assistant = FakeAssistant(script)
    results = run_cases(suite.cases(), assistant, gold, time_plans=True)
    return EvalRun("tiny", "fake", str(demo_db), "2026-01-01T00:00:00", 1.0, results), assistant


def test_each_case_is_scored_for_plan_and_execution(run: tuple[EvalRun, FakeAssistant]) -> None:
    verdicts = {r.id: (r.plan_ok, r.execution_ok) for r in run[0].results}
    assert verdicts == {
        "lookup.gmv_last_month#1": (True, True),
        "lookup.gmv_last_month#2": (False, True),
        "lookup.gmv_last_month#3": (True, False),
        "breakdown.gmv_by_channel#1": (True, True),
        "breakdown.gmv_by_channel#2": (False, False),
        "clarification.turnover#1": (True, True),
        "clarification.turnover#2": (False, False),
        "refusal.weather#1": (True, True),
        "refusal.weather#2": (False, False),
        "follow-up.jd_after_tmall#1": (True, True),
    }
    reasons = {r.id: r.reason or r.plan_reason for r in run[0].results}
    assert reasons["lookup.gmv_last_month#2"].startswith("plan.period: expected")
    assert reasons["lookup.gmv_last_month#3"] == "gold column 1 (gmv) matches no answer column"
    assert reasons["breakdown.gmv_by_channel#2"] == "expected answer, got refusal: a refusal"
    assert reasons["clarification.turnover#2"].startswith("options lack DIO")
    assert (
        reasons["refusal.weather#2"] == "expected refusal, got error: assistant raised RuntimeError: planner exploded"
    )


def test_conversations_principal_and_today(run: tuple[EvalRun, FakeAssistant]) -> None:
    asked = run[1].asked
    by_question = {q: (cid, principal, today) for q, cid, principal, today in asked}
    assert by_question["那京东呢?"][0] == by_question["上个月天猫的销售额?"][0]  # one conversation per case
    assert len({cid for _, cid, _, _ in asked}) == 10  # 11 questions, 10 cases
    assert by_question["明天天气怎么样?"][1:] == (
        Principal(role="store_manager", store_id="st_sh01"),
        dt.date(2025, 6, 30),
    )
    assert by_question["上个月卖了多少钱?"][1:] == (Principal(role="admin"), dt.date(2026, 1, 1))
    planned = run[1].planned
    assert len(planned) == 9  # single-turn cases only, each in a fresh conversation
    assert not {cid for _, cid in planned} & {cid for _, cid, _, _ in asked}


def test_summary_numbers(run: tuple[EvalRun, FakeAssistant]) -> None:
    s = run[0].summary
    assert (s.overall.n, s.overall.plan_accuracy, s.overall.execution_accuracy) == (10, 0.6, 0.6)
    assert {k: (v.n, v.plan_accuracy, v.execution_accuracy) for k, v in s.by_category.items()} == {
        "lookup": (3, pytest.approx(2 / 3), pytest.approx(2 / 3)),
        "breakdown": (2, 0.5, 0.5),
        "follow-up": (1, 1.0, 1.0),
        "clarification": (2, 0.5, 0.5),
        "refusal": (2, 0.5, 0.5),
    }
    assert list(s.by_category) == ["lookup", "breakdown", "follow-up", "clarification", "refusal"]
    assert {k: (v.n, v.plan_accuracy, v.execution_accuracy) for k, v in s.by_language.items()} == {
        "zh": (5, 1.0, 1.0),
        "en": (4, 0.0, 0.25),
        "mixed": (1, 1.0, 0.0),
    }
    assert s.family_consistency == pytest.approx(0.2)
    assert s.family_scores["lookup.gmv_last_month"] == pytest.approx(2 / 3)
    assert s.family_scores["follow-up.jd_after_tmall"] == 1.0
    assert (s.refusal_precision, s.refusal_recall) == (0.5, 0.5)
    assert (s.clarification_precision, s.clarification_recall) == (1.0, 1.0)
    assert s.ask_latency is not None and s.case_latency is not None and s.plan_latency is not None
    assert 0 <= s.ask_latency.p50 <= s.ask_latency.p95 <= s.case_latency.p95


def test_markdown_and_json_reports(run: tuple[EvalRun, FakeAssistant]) -> None:
    markdown = to_markdown(run[0])
    assert "| overall | 10 | 60.0% | 60.0% | 1 | 1 |" in markdown
    assert "| lookup | 3 | 66.7% | 66.7% | 1 | 0 |" in markdown
    assert "| breakdown | 2 | 50.0% | 50.0% | 0 | 1 |" in markdown
    assert "| lang en | 4 | 0.0% | 25.0% | 0 | 1 |" in markdown
    assert "- family consistency: 20.0% (1 of 5 families)" in markdown
    assert "## Failing cases (5)" in markdown
    assert (
        "| lookup.gmv_last_month#3 | 上个月 GMV 多少 | answer | answer | answered wrong | gold column 1 (gmv) matches"
        in markdown
    )
    # the answered-wrong section comes before every other list of cases
    assert markdown.index("## Answered wrong (1)") < markdown.index("## Families not all correct")
    assert "| lookup.gmv_last_month#3 | lookup | 上个月 GMV 多少 | answer | answer: ok | gold column 1" in markdown
    data = json.loads(to_json(run[0]))
    assert data["summary"]["overall"] == {
        "n": 10, "plan_accuracy": 0.6, "execution_accuracy": 0.6, "answered_wrong": 1, "not_answered": 1,
    }  # fmt: skip
    assert [f["id"] for f in data["answered_wrong"]] == ["lookup.gmv_last_month#3"]
    assert [f["id"] for f in data["failures"]] == [
        "lookup.gmv_last_month#2",
        "lookup.gmv_last_month#3",
        "breakdown.gmv_by_channel#2",
        "clarification.turnover#2",
        "refusal.weather#2",
    ]
    assert data["failures"][2]["expected"] == "answer" and data["failures"][2]["got"] == "refusal"
    assert [f["outcome"] for f in data["failures"]] == [
        "correct", "answered wrong", "not answered", "wrong non-answer", "wrong non-answer",
    ]  # fmt: skip
    assert len(data["cases"]) == 10


def test_gold_sql_errors_fail_the_case_with_the_reason(tmp_path: Path, demo_db: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CASES.replace("FROM fact_sales WHERE", "FROM no_such_table WHERE"), encoding="utf-8")
    suite = load_suite(path)
    gold = compute_gold(suite.families, demo_db)
    assert gold["lookup.gmv_last_month"].error and "no_such_table" in gold["lookup.gmv_last_month"].error
    assert gold["breakdown.gmv_by_channel"].error is None


UNKNOWN_WORDS = f"""
families:
  - id: coverage.black_friday
    category: coverage
    expect:
      status: [clarification, refusal]
      options_include: [双11]
    cases:
      - {{q: "去年黑五的销售额", lang: zh}}
      - {{q: "Black Friday sales last year", lang: en}}
      - {{q: "黑五 GMV 多少", lang: mixed}}
      - {{q: "黑五 sales?", lang: mixed}}
      - {{q: "黑色星期五卖了多少", lang: zh}}
  - id: share.gmv_share_by_channel
    category: share
    expect:
      status: answer
      sql: |
        SELECT s.channel, SUM(f.revenue) AS gmv
        FROM fact_sales f JOIN dim_store s USING (store_id)
        WHERE f.order_date {DEC} GROUP BY 1
    cases:
      - {{q: "上个月各渠道销售额占比", lang: zh}}
      - {{q: "channel mix last month", lang: en}}
      - {{q: "share of GMV by channel", lang: en}}
"""


def test_each_kind_of_failure_is_told_apart_and_answered_wrong_counted(tmp_path: Path, demo_db: Path) -> None:
    path = tmp_path / "unknown.yaml"
    path.write_text(UNKNOWN_WORDS, encoding="utf-8")
    suite = load_suite(path)
    with duckdb.connect(str(demo_db), read_only=True) as con:
        rows = con.execute(
            f"SELECT s.channel, SUM(f.revenue) FROM fact_sales f JOIN dim_store s USING (store_id) "
            f"WHERE f.order_date {DEC} GROUP BY 1"
        ).fetchall()

    def answer(table: list[Any]) -> Answer:
        return Answer(status="answer", text="所有月份的销售额", language="zh", plan=_plan(), columns=["channel", "gmv"],
                      rows=[list(r) for r in table])  # fmt: skip

    def other(status: str, options: list[str] | None = None) -> Answer:
        return Answer(status=status, text=status, language="zh", options=options or [])  # type: ignore[arg-type]

    script: dict[str, Answer | Exception] = {
        "去年黑五的销售额": answer([("all", 1.0)]),  # an answer where none is right
        "Black Friday sales last year": other("refusal"),  # either non-answer is right
        "黑五 GMV 多少": other("clarification", ["双11 (2025-11-01..11)", "618"]),
        "黑五 sales?": other("clarification", ["618"]),  # asks back, with the wrong options
        "黑色星期五卖了多少": RuntimeError("boom"),
        "上个月各渠道销售额占比": answer(rows),
        "channel mix last month": answer([(c, v * 2) for c, v in rows]),  # wrong numbers
        "share of GMV by channel": other("clarification", ["gmv", "marketing_spend"]),
    }
    results = run_cases(suite.cases(), FakeAssistant(script), compute_gold(suite.families, demo_db))
    assert {r.id: (r.expected, r.got, r.outcome) for r in results} == {
        "coverage.black_friday#1": ("clarification|refusal", "answer", "answered wrong"),
        "coverage.black_friday#2": ("clarification|refusal", "refusal", "correct"),
        "coverage.black_friday#3": ("clarification|refusal", "clarification", "correct"),
        "coverage.black_friday#4": ("clarification|refusal", "clarification", "wrong non-answer"),
        "coverage.black_friday#5": ("clarification|refusal", "error", "wrong non-answer"),
        "share.gmv_share_by_channel#1": ("answer", "answer", "correct"),
        "share.gmv_share_by_channel#2": ("answer", "answer", "answered wrong"),
        "share.gmv_share_by_channel#3": ("answer", "clarification", "not answered"),
    }
    reasons = {r.id: r.reason for r in results}
    assert reasons["coverage.black_friday#1"].startswith("expected clarification|refusal, got answer: 所有月份")
    assert reasons["coverage.black_friday#4"] == "options lack 双11 (got: 618)"
    s = EvalRun("unknown", "fake", str(demo_db), "2026-01-01T00:00:00", 1.0, results).summary
    assert {k: (v.n, v.answered_wrong, v.not_answered) for k, v in s.by_category.items()} == {
        "share": (3, 1, 1),
        "coverage": (5, 1, 0),
    }
    assert (s.overall.answered_wrong, s.overall.not_answered) == (2, 1)
    # a case accepting a clarification or a refusal is recalled by either
    assert (s.refusal_precision, s.refusal_recall) == (1.0, pytest.approx(3 / 5))
    assert (s.clarification_precision, s.clarification_recall) == (pytest.approx(2 / 3), pytest.approx(3 / 5))
    assert [r.id for r in answered_wrong(results, ["coverage", "refusal"])] == ["coverage.black_friday#1"]
    assert [r.id for r in answered_wrong(results)] == ["coverage.black_friday#1", "share.gmv_share_by_channel#2"]


# --- the loader's rules -------------------------------------------------------------------------


def _family(**overrides: Any) -> dict[str, Any]:
    family: dict[str, Any] = {
        "id": "lookup.x",
        "category": "lookup",
        "expect": {"status": "answer", "sql": "SELECT 1"},
        "cases": [{"q": "x?", "lang": "en"}],
    }
    return {**family, **overrides}


@pytest.mark.parametrize(
    ("family", "message"),
    [
        (_family(expect={"status": "answer"}), "family 'lookup.x': expect: status answer needs sql"),
        (_family(expect={"status": "clarification"}), "status clarification needs options_include"),
        (_family(expect={"status": "refusal", "sql": "SELECT 1"}), "status refusal takes no sql"),
        (_family(category="lookups"), "family 'lookup.x': category: Input should be 'lookup'"),
        (_family(cases=[{"q": "x?", "lang": "fr"}]), "cases[0].lang: Input should be 'zh', 'en' or 'mixed'"),
        (_family(cases=[{"q": "x?", "turns": ["a", "b"], "lang": "en"}]), "give exactly one of q and turns"),
        (_family(cases=[{"lang": "en"}]), "give exactly one of q and turns"),
        (_family(cases=[]), "cases: List should have at least 1 item"),
        (_family(expect={"status": "answer", "sql": "SELECT 1", "plan": {"metric": ["gmv"]}}), "plan.metric: Extra"),
        ({"category": "lookup"}, "family #1: id: Field required"),
        (_family(expect={"status": ["refusal", "refusal"]}), "names each acceptable status once"),
        (_family(expect={"status": []}), "names each acceptable status once"),
        (_family(expect={"status": ["answer", "refusal"]}), "a status list holds only clarification and refusal"),
        (_family(expect={"status": ["refusal"], "options_include": ["x"]}), "options_include is for status clarif"),
        (_family(expect={"status": ["clarification", "refusal"], "sql": "SELECT 1"}), "clarification|refusal takes"),
    ],
)
def test_loader_rejects_bad_families(tmp_path: Path, family: dict[str, Any], message: str) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(json.dumps({"families": [family]}), encoding="utf-8")
    with pytest.raises(CaseFileError) as info:
        load_suite(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_loader_rejects_duplicate_ids_across_files_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="no case files"):
        load_suite(tmp_path)
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(json.dumps({"families": [_family()]}), encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"b\.yaml: family 'lookup.x': id already used in .*a\.yaml"):
        load_suite(tmp_path)
    (tmp_path / "b.yaml").write_text("families: [", encoding="utf-8")
    with pytest.raises(CaseFileError, match=r"b\.yaml: not valid YAML"):
        load_suite(tmp_path)


def test_plan_expectation_reads_a_grain_among_dimensions(tmp_path: Path) -> None:
    plan = {"dimensions": ["month", "channel"], "period": {"start": "2025-01-01", "end": "2025-03-31"}}
    path = tmp_path / "a.yaml"
    path.write_text(json.dumps({"families": [_family(expect={"status": "answer", "sql": "SELECT 1", "plan": plan})]}))
    expected = load_suite(path).families[0].expect.plan
    assert expected is not None
    assert expected.given() == {
        "dimensions": ["channel"],
        "grain": "month",
        "period": {"start": "2025-01-01", "end": "2025-03-31"},
    }


# --- chatbi eval -----------------------------------------------------------------------------------


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch, script: dict[str, Answer | Exception]) -> typer.Typer:
    """A typer app with `eval` registered, running against the fake assistant."""

    class Assistant:
        @staticmethod
        def open(
            db_path: Path, planner: str = "embedded", cache: bool = True, verified_first: bool = True
        ) -> FakeAssistant:
            assert cache is False, "evals time every answer: no result cache"
            if planner == "llm":
                raise RuntimeError("no LLM configured\nsecond line")
            return FakeAssistant(script)

    monkeypatch.setitem(sys.modules, "agent.assistant", types.SimpleNamespace(Assistant=Assistant))
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_floor_sets_the_exit_code(cli: typer.Typer, case_file: Path, demo_db: Path) -> None:
    code, out, _ = invoke(cli, "--suite", str(case_file), "--db", str(demo_db), "--floor", "0.6", "--quiet")
    assert code == 0
    assert "overall" in out and "60.0%" in out and "family consistency" in out
    code, _, err = invoke(cli, "--suite", str(case_file), "--db", str(demo_db), "--floor", "0.95", "--quiet")
    assert code == 1
    assert "execution accuracy 60.0% is below --floor 95.0%" in err


def test_cli_filters_writes_reports_and_prints_json(
    cli: typer.Typer, case_file: Path, demo_db: Path, tmp_path: Path
) -> None:
    md, js = tmp_path / "out" / "r.md", tmp_path / "r.json"
    code, out, _ = invoke(
        cli, "--suite", str(case_file), "--db", str(demo_db), "--lang", "zh", "--category", "lookup",
        "--category", "refusal", "--report", str(md), "--report", str(js), "--json",
    )  # fmt: skip
    assert code == 0
    printed = json.loads(out)
    assert [c["id"] for c in printed["cases"]] == ["lookup.gmv_last_month#1", "refusal.weather#1"]
    assert json.loads(js.read_text())["summary"] == printed["summary"]
    assert md.read_text().startswith("# chatbi eval: tiny")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lang", "fr"], "--lang expects zh, en or mixed"),
        (["--planner", "gpt"], "--planner expects embedded or llm"),
        (["--category", "weather"], "unknown --category 'weather'"),
        (["--report", "out.txt"], "--report must end in .md or .json"),
        (["--floor", "95"], "--floor expects a share between 0 and 1"),
        (["--suite", "no-such-suite"], "unknown suite 'no-such-suite'"),
        (["--db", "missing.duckdb"], "database not found: missing.duckdb"),
        (["--planner", "llm"], "cannot start the llm assistant: no LLM configured"),
        (["--category", "time"], "no cases in suite 'tiny' match"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    cli: typer.Typer, case_file: Path, demo_db: Path, args: list[str], message: str
) -> None:
    base = ["--suite", str(case_file), "--quiet"] + ([] if "--db" in args else ["--db", str(demo_db)])
    code, out, err = invoke(cli, *base, *args)
    assert code == 2
    assert message in err and err.count("\n") == 1 and out == ""


def test_cli_names_the_file_and_family_of_a_bad_case_file(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(json.dumps({"families": [_family(expect={"status": "answer"})]}), encoding="utf-8")
    code, _, err = invoke(cli, "--suite", str(path))
    assert code == 2
    assert f"{path}: family 'lookup.x': expect: status answer needs sql" in err
