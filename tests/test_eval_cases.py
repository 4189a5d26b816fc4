"""The shipped eval suite (evals/cases/): every file loads, every gold SQL runs, and the suite has its size.

These fail until the case files exist: the suite is part of the product, not optional.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evals.case_file import CASES_DIR, Suite, load_suite
from evals.runner import compute_gold

#: Categories whose families may hold more than five ways of asking (there are many ways to misbehave).
OPEN_ENDED = ("refusal", "injection")


#: The default suite and the issue-12 families kept beside it (run with ``--suite understanding``).
FOLDERS = (CASES_DIR, CASES_DIR / "understanding")


@pytest.fixture(scope="module", params=FOLDERS, ids=lambda folder: folder.name)
def suite(request: pytest.FixtureRequest) -> Suite:
    return load_suite(request.param)


def test_every_case_file_loads_and_validates(suite: Suite) -> None:
    folders = {path.parent for path in suite.files}
    assert len(folders) == 1
    folder = folders.pop()
    assert set(suite.files) == {*folder.glob("*.yaml"), *folder.glob("*.yml")}
    assert suite.families


def test_every_gold_sql_runs_on_the_small_demo_and_returns_rows(suite: Suite, demo_db: Path) -> None:
    gold = compute_gold(suite.families, demo_db)
    assert gold, "no answer families"
    broken = {fid: g.error for fid, g in gold.items() if g.error}
    assert not broken, f"gold SQL fails: {broken}"
    empty = [fid for fid, g in gold.items() if not g.rows]
    assert not empty, f"gold SQL returns no rows: {empty}"


def test_suite_size_and_language_mix(suite: Suite) -> None:
    cases = suite.cases()
    languages = Counter(c.case.lang for c in cases)
    assert len(cases) >= 400, f"{len(cases)} cases"
    assert languages["zh"] >= 0.40 * len(cases), languages
    assert languages["en"] >= 0.25 * len(cases), languages
    assert languages["mixed"] > 0, languages


def test_three_to_five_ways_of_asking_per_family(suite: Suite) -> None:
    wrong = {
        f.id: len(f.cases)
        for f in suite.families
        if len(f.cases) < 3 or (len(f.cases) > 5 and f.category not in OPEN_ENDED)
    }
    assert not wrong, f"families outside 3-5 cases: {wrong}"
