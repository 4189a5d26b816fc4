"""How an exported column is named and how its numbers read, from the model: the one place exports format.

Headers are the answer's labels (``Answer.labels``, from presentation/cells.py), the ones the chat and
the terminal show, in the answer's language; a spreadsheet keeps numbers as numbers, so instead of formatted text each
metric's governed format becomes an Excel number format (the words after a number, 天 / days,
come from presentation.metric_format).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from agent.answer import Answer
from presentation.cells import column_formats
from presentation.metric_format import unit_words
from semantic_layer.semantic_model import SemanticModel

#: Excel number formats of the metric formats without words (those with words are built from them).
_NUMBER_FORMATS = {
    "cny": '"¥"#,##0.00',
    "count": "#,##0",
    "percent": "0.00%",
    "growth": "+0.0%;-0.0%;0.0%",
    "ratio": "#,##0.00",
}
DATE_FORMAT = "yyyy-mm-dd"
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def headers(answer: Answer, model: SemanticModel) -> list[str]:
    """Every column's header: the answer's labels (computed now for an answer stored without them)."""
    return list(answer.ensure_cells(model).labels)


def formats(answer: Answer, model: SemanticModel) -> list[str | None]:
    """Each column's format as the answer carries it (a tool's own included); for an answer stored before
    answers carried formats, the model's for metric columns, else the one the chart spec names."""
    if len(answer.formats) == len(answer.columns):
        return answer.formats
    return column_formats(answer.columns, model, (answer.chart or {}).get("formats"))


def number_format(fmt: str | None, language: str) -> str | None:
    """The Excel number format of a metric format (None: Excel's General)."""
    if fmt is None:
        return None
    words = unit_words(fmt, language)
    if words is not None:
        suffix, decimals = words
        return f'#,##0.{"0" * decimals}"{suffix}"' if decimals else f'#,##0"{suffix}"'
    return _NUMBER_FORMATS.get(fmt, "#,##0.00")


def sheet_rows(answer: Answer, model: SemanticModel) -> list[list[Any]]:
    """The rows as a person reads them in a sheet: a coded text cell by the name the answer shows for it
    (a replenishment action as 立即补货, not ``order_now``); numbers and days stay values to compute with."""
    display = answer.ensure_cells(model).display
    return [
        [
            shown if isinstance(value, str) and not _ISO_DAY.match(value) else value
            for value, shown in zip(row, names, strict=True)
        ]
        for row, names in zip(answer.rows, display, strict=True)
    ]


def sheet_value(value: Any) -> Any:
    """A stored cell as a spreadsheet value: ISO days back to dates (the store keeps JSON), the rest as is."""
    if isinstance(value, str) and _ISO_DAY.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def definitions_title(language: str) -> tuple[str, list[str]]:
    """The definitions sheet's name and header row."""
    if language == "zh":
        return "指标定义", ["指标", "名称", "定义"]
    return "Definitions", ["metric", "name", "definition"]


def result_title(language: str) -> str:
    return "结果" if language == "zh" else "Result"
