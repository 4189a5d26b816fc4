"""Verified questions on a copy of the demo model: the file's validation, who may certify, the atomic
merge, normalised matching, follow-ups, the answer's verified mark in both languages, re-reading dates
on a later day, the LLM planner's examples, and the verified eval suite."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agent.assistant import Assistant
from agent.embedded_planner import EmbeddedPlanner
from agent.llm.config import LLMConfig
from agent.llm.planner import LLMPlanner
from agent.plan import Clarify, ClarifyOption, Conversation, QueryPlan, Refuse, Turn
from agent.verified import (
    RESTAT_INTERVAL_S,
    VERIFIED_FILE,
    CertifyDenied,
    CertifyError,
    VerifiedQuestions,
    certify,
    normalise,
    plan_for,
)
from engines import connect
from engines.members import load_master_data
from semantic_layer.master_data import MasterData
from semantic_layer.query import Filter, MetricQuery, Principal
from semantic_layer.semantic_model import MODEL_DIR, MODEL_ENV, ModelError, load_model
from tests.test_llm_planner import ScriptedChat, call
from tests.test_result_cache import Clock

TODAY = dt.date(2026, 1, 1)
ADMIN = Principal()
DECEMBER = {"start": "2025-12-01", "end": "2025-12-31"}
TMALL_MARGIN = MetricQuery.model_validate(
    {"metrics": ["gross_margin"], "filters": [{"dimension": "channel", "members": ["tmall"]}], "period": DECEMBER}
)
GMV_BY_STORE = MetricQuery.model_validate({"metrics": ["gmv"], "dimensions": ["store"], "period": DECEMBER})
QUESTION = "上个月天猫的毛利率是多少?"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    (folder / VERIFIED_FILE).unlink(missing_ok=True)
    return folder


@pytest.fixture(scope="module")
def master(demo_db: Path) -> MasterData:
    engine = connect(demo_db)
    try:
        return load_master_data(engine)
    finally:
        engine.close()


def certified(model_dir: Path, question: str = QUESTION, query: MetricQuery = TMALL_MARGIN, **kw) -> Path:
    certify(
        model_dir, question, QueryPlan(query=query), kw.pop("by", "张三"), kw.pop("role", "admin"), today=TODAY, **kw
    )
    return model_dir


def planner(model_dir: Path, master: MasterData) -> EmbeddedPlanner:
    return EmbeddedPlanner(load_model(model_dir), master)


def write_file(model_dir: Path, questions: list[dict]) -> None:
    (model_dir / VERIFIED_FILE).write_text(yaml.safe_dump({"questions": questions}, allow_unicode=True))


def entry(phrasings: list[str], metrics: list[str] | None = None, **kw) -> dict:
    query = {**TMALL_MARGIN.model_dump(mode="json"), **({"metrics": metrics} if metrics else {})}
    return {"phrasings": phrasings, "plan": {"kind": "query", "query": query}, "verified_by": "张三",
            "verified_at": "2026-01-02T09:00:00+00:00", "reference_date": "2026-01-01", **kw}  # fmt: skip


# -- the file ------------------------------------------------------------------------------------
def test_an_unknown_metric_is_an_error_naming_the_file_and_the_entry(model_dir: Path) -> None:
    write_file(model_dir, [entry([QUESTION]), entry(["上个月天猫的净利润"], metrics=["net_profit"])])
    with pytest.raises(ModelError) as caught:
        VerifiedQuestions(load_model(model_dir))
    message = str(caught.value)
    assert message.startswith(f"{VERIFIED_FILE}: question #2 ('上个月天猫的净利润')")
    assert "unknown metric 'net_profit'" in message


@pytest.mark.parametrize(
    ("questions", "problem"),
    [
        ([{k: v for k, v in entry([QUESTION]).items() if k != "verified_by"}], "question #1 ('上个月天猫的毛利率是多少?'): verified_by: Field required"),
        ([entry([QUESTION]), entry(["上个月 天猫的毛利率是多少"], metrics=["gmv"])], "question #2 ('上个月 天猫的毛利率是多少'): phrasing '上个月 天猫的毛利率是多少' is also question #1's"),
        ([entry(["那京东呢?"])], "'那京东呢?' reads as a follow-up"),
        ([entry([QUESTION], plan={"kind": "refuse", "reason": "out_of_scope", "text": "no"})], "question #1"),
    ],
)  # fmt: skip
def test_bad_entries_are_errors(model_dir: Path, questions: list[dict], problem: str) -> None:
    write_file(model_dir, questions)
    with pytest.raises(ModelError, match="^" + VERIFIED_FILE) as caught:
        VerifiedQuestions(load_model(model_dir))
    assert problem in str(caught.value)


def test_a_file_that_is_not_yaml_is_an_error(model_dir: Path) -> None:
    (model_dir / VERIFIED_FILE).write_text("questions: [\n", encoding="utf-8")
    with pytest.raises(ModelError, match=f"^{VERIFIED_FILE}: not valid YAML"):
        VerifiedQuestions(load_model(model_dir))


def test_model_check_reports_a_bad_verified_file(model_dir: Path, demo_db: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    write_file(model_dir, [entry(["上个月天猫的净利润"], metrics=["net_profit"])])
    result = CliRunner().invoke(app, ["model", "check", "--model", str(model_dir), "--db", str(demo_db), "--json"])
    assert result.exit_code == 1 and "unknown metric 'net_profit'" in result.output


def test_a_broken_edit_while_running_keeps_the_last_good_version(model_dir: Path) -> None:
    clock = Clock()
    verified = VerifiedQuestions(load_model(certified(model_dir)), clock=clock)
    assert verified.match(QUESTION) is not None
    path = model_dir / VERIFIED_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("gross_margin", "net_profit"), encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different version, whatever the clock's resolution
    clock.now += RESTAT_INTERVAL_S
    assert verified.match(QUESTION) is not None


def test_the_file_is_looked_at_once_a_second_and_a_change_seen_after(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    verified = VerifiedQuestions(load_model(model_dir), clock=clock)
    path, looks = verified.path, []
    stat = Path.stat

    def counted(self: Path, **kw: object) -> os.stat_result:
        if self == path:
            looks.append(clock.now)
        return stat(self, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "stat", counted)
    before, started = verified.state(), clock.now  # start-up looked at the file
    certified(model_dir)
    looks.clear()  # certifying reads the file too
    clock.now += RESTAT_INTERVAL_S / 2
    assert verified.state() == before and verified.match(QUESTION) is None
    assert looks == []
    clock.now += RESTAT_INTERVAL_S / 2
    assert verified.state() != before and verified.match(QUESTION) is not None
    assert looks == [started + RESTAT_INTERVAL_S]  # one look serves the interval that follows it


# -- certifying ----------------------------------------------------------------------------------
def test_admin_may_certify_and_a_store_manager_may_not(model_dir: Path) -> None:
    entry_ = certify(model_dir, QUESTION, QueryPlan(query=TMALL_MARGIN), "张三", "admin", today=TODAY)
    assert entry_.verified_by == "张三" and entry_.phrasings == [QUESTION]
    with pytest.raises(CertifyDenied, match="role 'store_manager' may not certify"):
        certify(model_dir, "GMV last month", QueryPlan(query=TMALL_MARGIN), "李四", "store_manager", today=TODAY)
    assert len(VerifiedQuestions(load_model(model_dir)).entries()) == 1


def test_a_role_granted_certify_in_the_roles_file_may(model_dir: Path) -> None:
    roles = model_dir / "roles.yaml"
    data = yaml.safe_load(roles.read_text(encoding="utf-8"))
    next(r for r in data["roles"] if r["name"] == "marketing")["certify"] = True
    roles.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    certify(model_dir, QUESTION, QueryPlan(query=TMALL_MARGIN), "王五", "marketing", today=TODAY)
    with pytest.raises(CertifyDenied):
        certify(model_dir, QUESTION, QueryPlan(query=TMALL_MARGIN), "王五", "finance", today=TODAY)


def test_what_cannot_be_certified(model_dir: Path) -> None:
    with pytest.raises(CertifyError, match="reads as a follow-up"):
        certify(model_dir, "那京东呢?", QueryPlan(query=TMALL_MARGIN), "张三", "admin", today=TODAY)
    with pytest.raises(CertifyError, match="only a metric query or an attribute listing"):
        certify(model_dir, QUESTION, {"kind": "tool", "tool": "replenishment"}, "张三", "admin", today=TODAY)
    with pytest.raises(CertifyError, match="unknown metric 'net_profit'"):
        certify(model_dir, QUESTION, {**TMALL_MARGIN.model_dump(mode="json"), "metrics": ["net_profit"]}, "张三", "admin", today=TODAY)  # fmt: skip
    with pytest.raises(CertifyError, match="who verifies"):
        certify(model_dir, QUESTION, QueryPlan(query=TMALL_MARGIN), " ", "admin", today=TODAY)
    assert not (model_dir / VERIFIED_FILE).exists()


def test_an_answers_query_json_is_a_plan_to_certify(model_dir: Path) -> None:
    entry_ = certify(model_dir, QUESTION, TMALL_MARGIN.model_dump(mode="json"), "张三", "admin", today=TODAY)
    assert isinstance(entry_.plan, QueryPlan) and entry_.plan.query == TMALL_MARGIN


def test_certifying_keeps_every_entry_and_merges_the_same_plan(model_dir: Path) -> None:
    certified(model_dir)
    certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    certified(model_dir, "Tmall gross margin last month", phrasings=["tmall GM% in December 2025"], by="李四")
    entries = VerifiedQuestions(load_model(model_dir)).entries()
    assert [e.phrasings for e in entries] == [
        ["Tmall gross margin last month", "tmall GM% in December 2025", QUESTION],
        ["上个月各门店的销售额"],
    ]
    assert entries[0].verified_by == "李四"  # the latest certification vouches for it
    # a phrasing certified with another plan moves to it: one phrasing, one answer
    certified(model_dir, "上个月各门店的销售额", TMALL_MARGIN.model_copy(update={"dimensions": ["store"]}))
    entries = VerifiedQuestions(load_model(model_dir)).entries()
    assert [e.phrasings for e in entries][1:] == [["上个月各门店的销售额"]] and len(entries) == 2
    assert entries[1].plan.query.metrics == ["gross_margin"]


def test_a_failed_write_leaves_the_file_as_it_was(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = certified(model_dir) / VERIFIED_FILE
    before = path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".verified-")) == []


def test_certifiers_at_once_lose_no_entry(model_dir: Path) -> None:
    model = load_model(model_dir)
    metrics = ["gmv", "gross_margin", "orders", "units_sold", "aov", "gross_profit"]
    errors: list[BaseException] = []

    def one(metric: str) -> None:
        try:
            query = TMALL_MARGIN.model_copy(update={"metrics": [metric]})
            certify(
                model_dir, f"上个月天猫的{metric}", QueryPlan(query=query), "张三", "admin", today=TODAY, model=model
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(m,)) for m in metrics]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(e.plan.query.metrics[0] for e in VerifiedQuestions(model).entries()) == sorted(metrics)


# -- matching ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "asked",
    ["上个月天猫的毛利率是多少?", "上个月 天猫 的毛利率是多少", "上个月天猫的毛利率是多少？", "  上个月，天猫的毛利率是多少！",
     "TMALL gross margin last month", "ｔｍａｌｌ  Gross-Margin, last month?"],
)  # fmt: skip
def test_matching_ignores_spacing_punctuation_width_and_case(model_dir: Path, master: MasterData, asked: str) -> None:
    p = planner(certified(model_dir, phrasings=["Tmall gross margin last month"]), master)
    plan = p.plan(asked, Conversation(id=""), ADMIN, TODAY)
    assert isinstance(plan, QueryPlan) and plan.verified is not None and plan.verified.by == "张三"
    assert plan.query == TMALL_MARGIN


def test_a_different_question_is_planned_as_usual(model_dir: Path, master: MasterData) -> None:
    p = planner(certified(model_dir), master)
    plan = p.plan("上个月京东的毛利率是多少?", Conversation(id=""), ADMIN, TODAY)
    assert isinstance(plan, QueryPlan) and plan.verified is None and plan.query.filters[0].members == ["jd"]
    assert normalise("2025-01 的 GMV 1.5%") == "2025-01的gmv1.5%"


def test_a_verified_phrasing_is_a_whole_question_whatever_came_before(model_dir: Path, master: MasterData) -> None:
    p = planner(certified(model_dir), master)
    before = QueryPlan(query=GMV_BY_STORE)
    conversation = Conversation(
        id="c", turns=[Turn(question="上个月各门店的销售额", language="zh", plan=before, status="answer")]
    )
    plan = p.plan(QUESTION, conversation, ADMIN, TODAY)
    assert isinstance(plan, QueryPlan) and plan.verified is not None and plan.query == TMALL_MARGIN
    # and a follow-up to the verified answer changes its plan, planned (not verified) as any follow-up
    conversation.turns.append(Turn(question=QUESTION, language="zh", plan=plan, status="answer"))
    follow = p.plan("那京东呢?", conversation, ADMIN, TODAY)
    assert isinstance(follow, QueryPlan) and follow.verified is None
    assert follow.query == TMALL_MARGIN.model_copy(update={"filters": [Filter(dimension="channel", members=["jd"])]})


def test_a_reply_that_picks_an_option_goes_first(model_dir: Path, master: MasterData) -> None:
    p = planner(certified(model_dir, "毛利率"), master)
    gmv = QueryPlan(query=TMALL_MARGIN.model_copy(update={"metrics": ["gmv"]}))
    margin = QueryPlan(query=TMALL_MARGIN.model_copy(update={"filters": []}))
    options = [ClarifyOption(label="销售额 (gmv)", plan=gmv), ClarifyOption(label="毛利率 (gross_margin)", plan=margin)]
    asked = Clarify(text="您想看哪个指标?", options=options)
    pending = Conversation(
        id="c", turns=[Turn(question="上个月的数据", language="zh", plan=asked, status="clarification")]
    )
    assert p.plan("毛利率", pending, ADMIN, TODAY) == margin  # the reply to our question
    alone = p.plan("毛利率", Conversation(id=""), ADMIN, TODAY)
    assert isinstance(alone, QueryPlan) and alone.verified is not None and alone.query == TMALL_MARGIN


def test_the_verified_plan_is_checked_for_the_askers_role(model_dir: Path, master: MasterData) -> None:
    certified(model_dir, "上个月各品类的库存周转天数", TMALL_MARGIN.model_copy(update={"metrics": ["dio"], "filters": [], "dimensions": ["category"]}))  # fmt: skip
    p = planner(model_dir, master)
    refused = p.plan("上个月各品类的库存周转天数", Conversation(id=""), Principal(role="marketing"), TODAY)
    assert isinstance(refused, Refuse) and refused.reason == "permission"


# -- answers -------------------------------------------------------------------------------------
@pytest.fixture
def assistant(model_dir: Path, demo_db: Path, master: MasterData) -> Iterator[Assistant]:
    certified(model_dir, phrasings=["Tmall gross margin last month"])
    certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    model = load_model(model_dir)
    opened = Assistant(connect(demo_db), model=model, master=master)
    yield opened
    opened.close()


def test_the_answer_says_verified_and_by_whom_in_both_languages(assistant: Assistant) -> None:
    zh = assistant.ask(QUESTION, today=TODAY)
    assert zh.status == "answer" and zh.text.startswith("已核验答案(核验人:张三,")
    assert zh.verified is not None and zh.verified.by == "张三" and zh.verified.question == QUESTION
    en = assistant.ask("tmall gross margin last month", today=TODAY)
    assert en.text.startswith("Verified answer (verified by 张三 on ") and en.rows == zh.rows
    data = en.model_dump(mode="json")["verified"]
    assert data["by"] == "张三" and data["question"] == QUESTION and dt.datetime.fromisoformat(data["at"]).tzinfo
    unverified = assistant.ask("上个月京东的毛利率是多少?", today=TODAY)
    assert unverified.verified is None and "核验" not in unverified.text


def test_row_filters_still_apply_to_a_verified_plan(assistant: Assistant) -> None:
    everyone = assistant.ask("上个月各门店的销售额", today=TODAY)
    mine = assistant.ask(
        "上个月各门店的销售额", principal=Principal(role="store_manager", store_id="st_sh01"), today=TODAY
    )
    assert everyone.verified is not None and len(everyone.rows) > 1
    assert mine.status == "answer" and mine.verified is not None
    assert [row[0] for row in mine.rows] == ["st_sh01"]


def test_a_verified_mark_renders_in_the_chat_channels(assistant: Assistant) -> None:
    from api.bots import render

    answer = assistant.ask(QUESTION, today=TODAY)
    assert "已核验答案" in str(render.slack_blocks(answer, assistant.model))
    assert "已核验答案" in render.dingtalk_markdown(answer, assistant.model)


# -- dates on a later day ------------------------------------------------------------------------
def test_relative_words_move_with_the_reference_date_and_fixed_dates_stay(model_dir: Path) -> None:
    certified(model_dir, phrasings=["2025年12月天猫的毛利率"])
    (e,) = VerifiedQuestions(load_model(model_dir)).entries()
    later = dt.date(2026, 3, 15)
    moved = plan_for(e, QUESTION, later)
    assert isinstance(moved, QueryPlan) and moved.query.period.model_dump(mode="json") == {
        "start": "2026-02-01",
        "end": "2026-02-28",
    }
    fixed = plan_for(e, "2025年12月天猫的毛利率", later)
    assert isinstance(fixed, QueryPlan) and fixed.query.period == TMALL_MARGIN.period
    assert plan_for(e, QUESTION, TODAY).query == TMALL_MARGIN  # type: ignore[union-attr]


def test_dates_that_cannot_be_read_again_leave_the_question_to_the_planner(model_dir: Path, master: MasterData) -> None:
    q3 = MetricQuery.model_validate(
        {**TMALL_MARGIN.model_dump(), "period": {"start": "2025-07-01", "end": "2025-09-30"}}
    )
    certified(model_dir, "天猫最近的毛利率", q3)  # no time word that reads Q3
    p = planner(model_dir, master)
    assert p.plan("天猫最近的毛利率", Conversation(id=""), ADMIN, TODAY).verified is not None  # type: ignore[union-attr]
    later = p.plan("天猫最近的毛利率", Conversation(id=""), ADMIN, dt.date(2026, 3, 15))
    assert getattr(later, "verified", None) is None


# -- the LLM planner -----------------------------------------------------------------------------
def llm(model_dir: Path, master: MasterData, *replies: object) -> LLMPlanner:
    settings = LLMConfig.model_validate({"model": "fake", "api_key": "sk-fake"})
    return LLMPlanner(load_model(model_dir), master, ScriptedChat(responses=list(replies)), settings)


def test_the_llm_planner_answers_a_verified_question_without_a_call(model_dir: Path, master: MasterData) -> None:
    p = llm(certified(model_dir), master)  # no reply scripted: a call would fail the test
    plan = p.plan("上个月天猫的毛利率是多少", Conversation(id=""), ADMIN, TODAY)
    assert isinstance(plan, QueryPlan) and plan.verified is not None and p.last_usage.calls == 0  # type: ignore[union-attr]


def test_the_llm_prompt_gets_the_nearest_verified_questions(model_dir: Path, master: MasterData) -> None:
    certified(model_dir)
    certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    certified(model_dir, "2025年各渠道的订单数", MetricQuery.model_validate({"metrics": ["orders"], "dimensions": ["channel"], "period": {"start": "2025-01-01", "end": "2025-12-31"}}))  # fmt: skip
    jd = {"query": {**TMALL_MARGIN.model_dump(mode="json", exclude_defaults=True), "filters": [{"dimension": "channel", "members": ["jd"]}]}}  # fmt: skip
    p = llm(model_dir, master, call("query_metrics", {**jd, "verified": {"by": "the model", "at": "2026-01-01T00:00:00", "question": "x"}}))  # fmt: skip
    plan = p.plan("上个月京东的毛利率是多少?", Conversation(id=""), ADMIN, TODAY)
    assert isinstance(plan, QueryPlan) and plan.verified is None  # a model cannot claim a certification
    context = str(p.chat.received[0][1].content)  # type: ignore[attr-defined]
    examples = context.split("Verified questions like this one")[1].split("Rule-based reading")[0]
    lines = [line for line in examples.splitlines() if line.startswith("- ")]
    assert lines[0].startswith(f'- "{QUESTION}" -> query_metrics {{"query":{{"metrics":["gross_margin"]')
    assert 1 <= len(lines) <= 3


def test_the_nearest_leave_out_the_entry_the_question_belongs_to(model_dir: Path) -> None:
    certified(model_dir, phrasings=["Tmall gross margin last month"])
    certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    verified = VerifiedQuestions(load_model(model_dir))
    assert verified.nearest("上个月天猫的毛利率")[0] == (verified.entries()[0], QUESTION)
    assert all(e.question != QUESTION for e, _ in verified.nearest("tmall gross margin, last month"))


# -- the eval suite ------------------------------------------------------------------------------
def test_the_verified_suite_passes_and_fails_when_a_phrasing_asks_something_else(
    model_dir: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evals.runner import compute_gold, run_cases, summarize
    from evals.verified_suite import verified_suite

    certified(model_dir, phrasings=["Tmall gross margin last month"])
    certified(model_dir, "上个月各门店的销售额", GMV_BY_STORE)
    monkeypatch.setenv(MODEL_ENV, str(model_dir))

    def run() -> object:
        suite, skipped = verified_suite(load_model(model_dir))
        assert skipped == []
        cases = suite.cases()
        gold = compute_gold(suite.families, demo_db)
        assistant = Assistant.open(demo_db, cache=False, verified_first=False)
        try:
            return summarize(run_cases(cases, assistant, gold))
        finally:
            assistant.close()

    passed = run()
    assert passed.overall.n == 3 and passed.overall.execution_accuracy == 1.0  # type: ignore[attr-defined]
    path = model_dir / VERIFIED_FILE
    path.write_text(path.read_text(encoding="utf-8").replace(QUESTION, "上个月京东的毛利率是多少?"), encoding="utf-8")
    failed = run()
    assert failed.overall.answered_wrong == 1 and failed.by_category["verified"].n == 3  # type: ignore[attr-defined]


def test_the_demos_verified_questions_pass_their_suite(demo_db: Path) -> None:
    from evals.runner import compute_gold, run_cases, summarize
    from evals.verified_suite import verified_suite

    suite, skipped = verified_suite(load_model())
    assert skipped == [] and suite.files == [MODEL_DIR / VERIFIED_FILE]
    gold = compute_gold(suite.families, demo_db)
    assistant = Assistant.open(demo_db, cache=False, verified_first=False)
    try:
        summary = summarize(run_cases(suite.cases(), assistant, gold))
    finally:
        assistant.close()
    assert summary.overall.n >= 3 and summary.overall.execution_accuracy == 1.0


def test_the_command_line_adds_lists_and_evaluates(model_dir: Path, demo_db: Path) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    runner, model = CliRunner(), ["--model", str(model_dir)]
    denied = runner.invoke(app, [*model, "verified", "add", "--question", QUESTION, "--user", "李四",
                                 "--role", "store_manager", "--db", str(demo_db)])  # fmt: skip
    assert denied.exit_code == 2 and "may not certify" in denied.output
    added = runner.invoke(app, [*model, "verified", "add", "--question", QUESTION, "--phrasing",
                                "Tmall gross margin last month", "--user", "张三", "--db", str(demo_db)])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert '"metrics":["gross_margin"]' in added.output and "verified: 上个月天猫的毛利率是多少?" in added.output
    listed = json.loads(runner.invoke(app, [*model, "verified", "list", "--json"]).output)
    assert [e["phrasings"] for e in listed] == [[QUESTION, "Tmall gross margin last month"]]
    assert listed[0]["plan"]["query"]["metrics"] == ["gross_margin"] and listed[0]["verified_by"] == "张三"
    evaluated = runner.invoke(app, [*model, "eval", "--suite", "verified", "--planner", "embedded",
                                    "--db", str(demo_db), "--json"])  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["suite"] == "verified" and [c["outcome"] for c in report["cases"]] == ["correct", "correct"]
    refused = runner.invoke(
        app, [*model, "verified", "add", "--question", "你好", "--user", "张三", "--db", str(demo_db)]
    )
    assert refused.exit_code == 2 and "nothing to certify" in refused.output
