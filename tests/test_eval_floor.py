"""CI's floor: the embedded planner answers at least 95% of the eval suite correctly, and never
answers where the suite expects it to ask back or refuse.

The two tests read one eval run (module fixture): the suite takes a while, and both floors are
about the same answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app

#: Categories where an answer that is not the gold one is never acceptable, not even once: their
#: cases mostly expect a clarification or a refusal (a word the model cannot cover, a cut or a
#: metric the role may not see), and a number there is a broader or different question
#: answered as if it were the one asked.
ZERO_ANSWERED_WRONG = ("clarification", "refusal", "coverage", "permission")


@pytest.fixture(scope="module")
def report(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    path = tmp_path_factory.mktemp("eval") / "eval.json"
    result = CliRunner().invoke(
        app,
        ["eval", "--planner", "embedded", "--db", str(demo_db), "--floor", "0.95", "--quiet", "--report", str(path)],
    )
    return result.exit_code, result.output, json.loads(path.read_text(encoding="utf-8"))


def test_embedded_suite_meets_the_floor(report: tuple[int, str, dict[str, Any]]) -> None:
    exit_code, output, data = report
    assert exit_code == 0, output[-2000:]
    assert data["summary"]["overall"]["n"] >= 400


def test_never_answered_wrong_where_it_should_ask_or_refuse(report: tuple[int, str, dict[str, Any]]) -> None:
    violations = [f for f in report[2]["answered_wrong"] if f["category"] in ZERO_ANSWERED_WRONG]
    lines = [
        f"{f['id']} ({f['category']}): {' -> '.join(f['questions'])!r} expected {f['expected']}, "
        f"got {f['got']}: {f['answer_text'][:120]!r}"
        for f in violations
    ]
    assert not violations, f"{len(violations)} answered wrong in {', '.join(ZERO_ANSWERED_WRONG)}:\n" + "\n".join(lines)


#: The issue-12 families (evals/cases/understanding/, written from the contract before the planner
#: work, holdout2.yaml among them) meet the same floor as the suite: 96.2% execution and 1 answered
#: wrong (an attribute listing, outside the zero-tolerance categories) when the planner work landed;
#: the cap keeps that count from growing.
UNDERSTANDING_FLOOR = 0.95
UNDERSTANDING_MAX_ANSWERED_WRONG = 1


def test_understanding_families_meet_the_floor(demo_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "understanding.json"
    result = CliRunner().invoke(
        app,
        ["eval", "--planner", "embedded", "--db", str(demo_db), "--suite", "understanding", "--quiet",
         "--report", str(path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output[-2000:]
    data = json.loads(path.read_text(encoding="utf-8"))
    overall = data["summary"]["overall"]
    assert overall["n"] >= 500
    wrong = data["answered_wrong"]
    never = [f["id"] for f in wrong if f["category"] in ZERO_ANSWERED_WRONG]
    assert not never, f"answered wrong where the suite expects a clarification or refusal: {never}"
    assert len(wrong) <= UNDERSTANDING_MAX_ANSWERED_WRONG, "\n".join(f"{f['id']}: {f['questions']}" for f in wrong)
    assert overall["execution_accuracy"] >= UNDERSTANDING_FLOOR, overall
