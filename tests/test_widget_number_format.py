"""The widget formats nothing: it shows the answer's ``labels`` and ``display`` verbatim.

Numbers used to be formatted twice, in Python and again in the widget's JavaScript, with a test to
keep the two alike. The answer object now carries every cell's display string
(presentation/cells.py), so the widget's table and its chart's hover text and bucket ticks are
copied from it. Here the chart code runs under node on a real answer, and the script is checked
for any number formatting left in it. (The table itself is checked in Chromium,
tests/test_widget_browser.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess

import pytest

from agent.answer import Answer
from api.widget.assets import STATIC_DIR
from semantic_layer.semantic_model import load_model

SCRIPT = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")


def _section(start: str, end: str) -> str:
    at = SCRIPT.index(start)
    return SCRIPT[at : SCRIPT.index(end, at)]


def _series_answer() -> Answer:
    model = load_model()
    rows = [[dt.date(2025, m, 1), 1_234_567.89 * m, 0.2915] for m in (1, 2, 3)]
    answer = Answer(status="answer", text="", language="zh", columns=["month", "gmv", "gross_margin"], rows=rows)
    answer.chart = {"type": "line", "x": "month", "x_label": None, "y": ["gmv"], "series": None,
                    "series_label": None, "formats": {"gmv": "cny"}, "y_names": {"gmv": "销售额"}}  # fmt: skip
    return answer.with_cells(model)


def test_the_widget_has_no_number_formatting_left() -> None:
    # (the chart's y axes still choose plotly tick formats: axis settings, not cells)
    for gone in ("formatNumber", "toLocaleString", "toFixed", "describeColumn", "BUCKET[", "labels.json", "loadLabels"):
        assert gone not in SCRIPT, gone
    assert "answer.display" in SCRIPT and "answer.labels" in SCRIPT


def test_chart_hover_text_and_bucket_ticks_are_the_answers_display_cells() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    answer = _series_answer()
    program = (
        'var PALETTE = ["#000"]; var FONT = "sans-serif"; var GRAIN_BUCKETS = ["month", "quarter", "year"];\n'
        + _section("  // -- cells:", "  // -- talking to the server")
        + _section("  /** A category name cut", "  // -- the widget")
        + "\nvar answer = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "\nvar figure = chartFigure(answer);"
        "\nprocess.stdout.write(JSON.stringify({x: figure.data[0].x, hover: figure.data[0].customdata}));"
    )
    done = subprocess.run(
        [node, "-e", program], input=answer.to_json(), capture_output=True, text=True, check=True, timeout=60
    )
    shown = json.loads(done.stdout)
    assert shown["x"] == [row[0] for row in answer.display] == ["2025年1月", "2025年2月", "2025年3月"]
    assert shown["hover"] == [row[1] for row in answer.display]
    assert all(re.fullmatch(r"¥[\d.]+万", text) for text in shown["hover"])
