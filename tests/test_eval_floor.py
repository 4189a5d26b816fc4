"""CI's floor: the embedded planner answers at least 95% of the eval suite correctly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app


def test_embedded_suite_meets_the_floor(demo_db: Path, tmp_path: Path) -> None:
    report = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app, ["eval", "--db", str(demo_db), "--floor", "0.95", "--quiet", "--report", str(report)]
    )
    summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    assert result.exit_code == 0, result.output[-2000:]
    assert summary["overall"]["n"] >= 400
