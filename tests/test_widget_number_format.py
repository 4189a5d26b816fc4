"""The widget formats numbers in JavaScript; here it must write each one as presentation.metric_format does.

The widget's number section (from its "numbers as people read them" comment to the time buckets) runs
under node on a table of values, formats and languages, and every output is compared with
:func:`presentation.metric_format.format_value`; a change to either side that the other lacks fails here.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from api.widget.assets import STATIC_DIR
from presentation.metric_format import format_value

FORMATS = ["cny", "count", "percent", "days", "times_per_year", "ratio", "growth"]
VALUES: list[float | int | None] = [
    None, 0, 0.004, -0.004, 0.1234, -0.0567, 1, 7.5, -12.345, 999.994, 8532.1, 9999.996, 12345, 99999.4,
    125_400, 1_234_567.89, 3_680_000, -3_680_000, 99_999_999, 125_000_000, 2_500_000_000, 1e12,
]  # fmt: skip
SAMPLES = [(value, fmt, language) for fmt in FORMATS for value in VALUES for language in ("zh", "en")]


def _number_section() -> str:
    script = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    start = script.index("// -- numbers as people read them")
    return script[start : script.index("var BUCKET", start)]


def _widget_outputs(samples: list[tuple[float | int | None, str, str]]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    program = _number_section() + (
        "\nvar samples = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(JSON.stringify(samples.map(function (s) { return formatNumber(s[0], s[1], s[2]); })));"
    )
    done = subprocess.run(
        [node, "-e", program], input=json.dumps(samples), capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(done.stdout)


def test_the_widget_writes_every_sample_number_as_the_python_formatter() -> None:
    widget = _widget_outputs(SAMPLES)
    differ = [
        (value, fmt, language, js, format_value(value, fmt, language))
        for (value, fmt, language), js in zip(SAMPLES, widget, strict=True)
        if js != format_value(value, fmt, language)
    ]
    assert differ == []

