"""Compare an answer with a case's expectation: the result table (against gold SQL) and the plan.

The table comparison follows Spider 2.0's ``compare_pandas_table``: an answer is right when
every gold column can be found among the answer's columns, whatever they are called and
whatever else the answer shows (display names, growth columns). Values compare with a small
numeric tolerance, and rows as a multiset unless the question asked for an order. Unlike a
column-by-column check of sorted vectors, the rows must also line up: ``gmv`` of tmall must sit
next to tmall, so we look for an assignment of gold columns to answer columns that reproduces
the gold rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

REL_TOL = 1e-4
ABS_TOL = 1e-6
#: Assignments of gold to answer columns tried before giving up (each try is one sort of the rows).
MAX_ASSIGNMENTS = 2_000
#: Above this many rows a failed sorted comparison is final (the pairwise fallback is quadratic).
MAX_PAIRWISE_ROWS = 1_000

_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00:00(\.0+)?$")

Cell = None | int | float | str


@dataclass(frozen=True)
class Comparison:
    """The verdict of one comparison; ``reason`` is one line saying what differed when not ``ok``."""

    ok: bool
    reason: str = ""


OK = Comparison(True)


def normalize(value: Any) -> Cell:
    """One cell in a comparable form: numbers as int/float, dates as ISO strings, missing as None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy / pandas scalars
        value = value.item()
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    midnight = _MIDNIGHT.match(text)
    return midnight.group(1) if midnight else text


def cells_equal(a: Cell, b: Cell) -> bool:
    """Equality with tolerance for numbers; two ints compare exactly (counts must be exact)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _sort_key(cell: Cell) -> tuple[int, float, str]:
    if cell is None:
        return (0, 0.0, "")
    if isinstance(cell, str):
        return (2, 0.0, cell)
    return (1, float(cell), "")


def _vectors_equal(a: Sequence[Cell], b: Sequence[Cell]) -> bool:
    return all(cells_equal(x, y) for x, y in zip(a, b, strict=True))


def compare_tables(
    gold_columns: Sequence[str],
    gold_rows: Sequence[Sequence[Any]],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    order_matters: bool = False,
) -> Comparison:
    """Does the answer table (``columns``/``rows``) contain the gold table?"""
    if len(gold_rows) != len(rows):
        return Comparison(False, f"gold has {len(gold_rows)} rows, the answer {len(rows)}")
    gold = [[normalize(v) for v in row] for row in gold_rows]
    got = [[normalize(v) for v in row] for row in rows]
    width = len(columns)
    if any(len(row) != width for row in got):
        return Comparison(False, f"answer rows do not all have {width} cells")
    gold_vectors = [[row[j] for row in gold] for j in range(len(gold_columns))]
    got_vectors = [[row[k] for row in got] for k in range(width)]
    if not order_matters:
        gold_vectors = [sorted(v, key=_sort_key) for v in gold_vectors]
        got_vectors = [sorted(v, key=_sort_key) for v in got_vectors]
    candidates: list[list[int]] = []
    for j, name in enumerate(gold_columns):
        found = [k for k in range(width) if _vectors_equal(gold_vectors[j], got_vectors[k])]
        if not found:
            return Comparison(False, f"gold column {j + 1} ({name}) matches no answer column")
        candidates.append(found)
    if order_matters:  # every gold column matched in place, so the rows line up already
        return OK
    for tried, assignment in enumerate(itertools.product(*candidates)):
        if tried == MAX_ASSIGNMENTS:
            break
        projected = [[row[k] for k in assignment] for row in got]
        if _same_multiset(gold, projected):
            return OK
    return Comparison(False, "every gold column has a match, but the rows do not line up")


def _same_multiset(gold: list[list[Cell]], got: list[list[Cell]]) -> bool:
    """Rows as multisets. Sort both (exact columns first, so tolerance rarely disturbs the order),
    then fall back to greedy pairing when near-equal numbers sorted differently."""
    if not gold:
        return True
    exact_first = sorted(range(len(gold[0])), key=lambda j: not all(isinstance(r[j], str | None) for r in gold))

    def key(row: list[Cell]) -> list[tuple[int, float, str]]:
        return [_sort_key(row[j]) for j in exact_first]

    if all(_vectors_equal(a, b) for a, b in zip(sorted(gold, key=key), sorted(got, key=key), strict=True)):
        return True
    if len(gold) > MAX_PAIRWISE_ROWS:
        return False
    unused = list(got)
    for row in gold:
        match = next((i for i, other in enumerate(unused) if _vectors_equal(row, other)), None)
        if match is None:
            return False
        unused.pop(match)
    return True


def compare_plan(expected: dict[str, Any], plan: dict[str, Any] | None) -> Comparison:
    """Do the keys a case gives (metrics, filters, period, ...) equal the executed plan's?

    Lists of metrics and dimensions compare in order; filters as a set of
    (dimension, members as a set, exclude); dates as ISO strings.
    """
    if plan is None:
        return Comparison(False, "the answer has no plan")
    for key, want in expected.items():
        got = plan.get(key)
        if _plan_value(key, want) != _plan_value(key, got):
            return Comparison(False, f"plan.{key}: expected {_short(want)}, got {_short(got)}")
    return OK


def compare_tool(name: str, arguments: dict[str, Any], plan: dict[str, Any] | None) -> Comparison:
    """Is the answer's plan a call of tool ``name`` with (at least) these arguments?"""
    if plan is None or plan.get("kind") != "tool":
        return Comparison(False, f"expected a call of the {name} tool, got {_short(plan)}")
    if plan.get("tool") != name:
        return Comparison(False, f"expected tool {name}, got {plan.get('tool')}")
    got = plan.get("arguments") or {}
    for key, want in arguments.items():
        if _iso_all(got.get(key)) != _iso_all(want):
            return Comparison(False, f"tool.arguments.{key}: expected {_short(want)}, got {_short(got.get(key))}")
    return OK


def _iso_all(value: Any) -> Any:
    if isinstance(value, list):
        return [_iso_all(v) for v in value]
    return _iso(value) if value is not None and not isinstance(value, int | float | str | bool | dict) else value


def _plan_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key == "filters":
        return frozenset(
            (f["dimension"], frozenset(str(m) for m in f["members"]), bool(f.get("exclude", False))) for f in value
        )
    if key == "period":
        return (_iso(value["start"]), _iso(value["end"]))
    if key == "order_by":
        return (value["field"], bool(value.get("descending", True)))
    if key in ("metrics", "dimensions"):
        return list(value)
    return value


def _iso(day: Any) -> str:
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."
