"""An answer's table as a person reads it: each column's label and format, each cell's display string.

Every channel (the widget, the bots, the exports, the terminal) used to work these out itself, each a
little differently, and the widget in JavaScript. :func:`answer_cells` is now the one place: the
answer object carries what it returns (``Answer.labels`` / ``Answer.display``) and the channels only
render it, so a header or a number reads the same wherever the answer is shown.

The label rule is the one the exports had: a metric, a comparison (``<metric>_previous`` /
``_growth`` / ``_share``), a dimension or a time grain by its display name; a ``<dimension>_name``
column stands for the code column beside it and takes its header, and that code column then says it
is the code (``渠道代码`` / ``Channel code``); a tool's column by the label the tool gives, else its name.
A tool's coded cell (the replenishment action ``order_now``) reads as the name the tool gives the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from presentation.metric_format import MISSING, format_bucket, format_value, is_missing

if TYPE_CHECKING:
    from semantic_layer.semantic_model import SemanticModel

#: The column a member's display name is in, right after its code column (``channel`` -> ``channel_name``).
NAME_SUFFIX = "_name"
#: Header words for the comparison columns and for a ``<dimension>_name`` column without its code column.
_SUFFIXES = {
    "_previous": ("(上期)", " (previous)"),
    "_growth": ("(增长)", " (growth)"),
    "_share": ("(占比)", " (share)"),
    "_name": ("", " name"),
}
_CODE = {"zh": "代码", "en": " code"}


@dataclass(frozen=True)
class Cells:
    """What :func:`answer_cells` works out: one label and one format per column, one string per cell."""

    labels: list[str]
    formats: list[str | None]
    display: list[list[str]]


def display_name(model: SemanticModel, name: str, language: str) -> str:
    """The display name of a metric, a dimension or a time grain (the name itself if none)."""
    if name in model.metrics:
        return model.metrics[name].name(language)
    named = model.dimensions.get(name) or next((g for g in model.time_dimension.grains if g.name == name), None)
    if named is None:
        return name
    return named.name_zh if language == "zh" else named.name_en


def column_format(column: str, model: SemanticModel) -> str | None:
    """The format of a result column: its metric's, ``growth`` for ``<metric>_growth``, None for keys."""
    if column.endswith("_growth") and column.removesuffix("_growth") in model.metrics:
        return "growth"
    if column.endswith("_share") and column.removesuffix("_share") in model.metrics:
        return "percent"
    metric = model.metrics.get(column) or model.metrics.get(column.removesuffix("_previous"))
    return metric.format if metric else None


def column_formats(
    columns: Sequence[str], model: SemanticModel, formats: Mapping[str, str | None] | None = None
) -> list[str | None]:
    """Each column's format: the model's for metric columns, else the one ``formats`` (a tool's) names."""
    named = formats or {}
    return [column_format(column, model) or named.get(column) for column in columns]


def column_labels(
    columns: Sequence[str], model: SemanticModel, language: str, labels: Mapping[str, str] | None = None
) -> list[str]:
    """Each column's header by the rule in the module docstring; ``labels`` (a tool's) win where given."""
    given = labels or {}
    out = []
    for column in columns:
        if column in given:
            out.append(given[column])
            continue
        base = column.removesuffix(NAME_SUFFIX)
        label = _label(base if base != column and base in columns else column, model, language)
        if column + NAME_SUFFIX in columns and column + NAME_SUFFIX not in given:
            label += _CODE[language]
        out.append(label)
    return out


def _label(column: str, model: SemanticModel, language: str) -> str:
    if column in model.metrics or column in model.dimensions or column in _grains(model):
        return display_name(model, column, language)
    for suffix, (zh, en) in _SUFFIXES.items():
        base = column.removesuffix(suffix)
        if base != column and base in (model.dimensions if suffix == "_name" else model.metrics):
            return display_name(model, base, language) + (zh if language == "zh" else en)
    return column


def cell_text(value: Any, column: str, fmt: str | None, language: str, grains: frozenset[str]) -> str:
    """One cell: a time bucket by its name ("2025年3月", "Q1 2025"), a number by its format, a missing
    value as ``—``; a whole number without a format stays whole (a tool's count, a SQL fallback's)."""
    if is_missing(value):
        return MISSING
    if column in grains:
        day = _day(value)
        if day is not None:
            return format_bucket(day, column, language)
    if fmt is None and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return format_value(value, fmt, language)


def answer_cells(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    model: SemanticModel,
    language: str,
    *,
    formats: Mapping[str, str | None] | None = None,
    labels: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> Cells:
    """Labels, formats and display strings of a table; ``formats`` / ``labels`` are a tool's own, by column,
    and ``values`` its code -> name per coded column (a code without a name shows as itself).

    Rows may hold Python values (dates, Decimals) or the JSON values a stored answer reads back (ISO
    days, floats): both read the same."""
    column_list = list(columns)
    fmts = column_formats(column_list, model, formats)
    grains = _grains(model)
    names = values or {}
    display = [
        [
            names[column].get(value, value) if column in names and isinstance(value, str)
            else cell_text(value, column, fmt, language, grains)
            for value, column, fmt in zip(row, column_list, fmts, strict=True)
        ]
        for row in rows
    ]  # fmt: skip
    return Cells(column_labels(column_list, model, language, labels), fmts, display)


def numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[bool]:
    """Which of ``width`` columns hold numbers (every value a number or missing, at least one number): the
    ones a table aligns right. Read from the raw values, so a stored answer aligns like a fresh one."""
    out = []
    for i in range(width):
        values = [row[i] for row in rows if not is_missing(row[i])]
        out.append(bool(values) and all(_is_number(v) for v in values))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _grains(model: SemanticModel) -> frozenset[str]:
    return frozenset(g.name for g in model.time_dimension.grains)


def _day(value: Any) -> dt.date | None:
    """A bucket's first day from a date, a datetime or an ISO day (as a stored answer keeps it)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
