"""`chatbi query` and `chatbi metrics`: the governed semantic layer from the command line.

Registered on the main app by :func:`register`. Heavy modules (the compiler, engines,
rich) are imported inside the commands so that `chatbi --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from agent.answer import Answer
    from semantic_layer.query import MetricQuery
    from semantic_layer.semantic_model import SemanticModel

#: The demo data's reference "today" (DATA_CONTRACT.md): the default period is the full month before it.
REFERENCE_DAY = dt.date(2026, 1, 1)


def _fail(message: str, code: int = 2) -> None:
    from api.cli import fail

    fail(message, code)


def _day(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(f"{flag} expects a date YYYY-MM-DD, got '{text}'")
        raise


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last full calendar month before ``today``."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def build_query(
    model: SemanticModel,
    metrics: list[str],
    by: list[str],
    where: list[str],
    start: dt.date | None,
    end: dt.date | None,
    today: dt.date,
    compare: str | None,
    order_by: str | None,
    limit: int | None,
) -> MetricQuery:
    """Turn command-line words (ids, names or synonyms) into a MetricQuery; ValueError if impossible."""
    from semantic_layer.query import MetricQuery

    metric_ids = []
    for word in metrics:
        found = model.find_metric(word)
        metric_ids.append(found.id if found else word)  # unknown ids: the compiler suggests
    dimensions: list[str] = []
    for word in by:
        name = model.find_dimension(word)
        if name is None:
            raise ValueError(
                f"unknown --by '{word}': use a time grain (day, week, month, quarter, year) "
                f"or a dimension ({', '.join(model.dimensions)})"
            )
        dimensions.append(name)
    filters = [_filter(model, item) for item in where]
    if start is None and end is not None:
        raise ValueError("--to needs --from")
    if start is None:
        start, end = default_period(today)
    elif end is None:
        end = today - dt.timedelta(days=1)
    if compare not in (None, "yoy", "pop"):
        raise ValueError(f"--compare expects yoy or pop, got '{compare}'")
    order = None
    if order_by:
        field, _, direction = order_by.partition(":")
        if direction not in ("", "asc", "desc"):
            raise ValueError(f"--order-by expects NAME or NAME:asc, got '{order_by}'")
        found = model.find_metric(field)
        field = found.id if found else (model.find_dimension(field) or field)
        order = {"field": field, "descending": direction != "asc"}
    return MetricQuery.model_validate(
        {
            "metrics": metric_ids,
            "dimensions": dimensions,
            "filters": [f.model_dump() for f in filters] if filters else [],
            "period": {"start": start, "end": end},
            "compare": compare,
            "order_by": order,
            "limit": limit,
        }
    )


def _filter(model: SemanticModel, item: str) -> Any:
    from semantic_layer.query import Filter

    exclude = "!=" in item
    name, sep, values = item.partition("!=" if exclude else "=")
    if not sep or not name.strip() or not values.strip():
        raise ValueError(f"--where expects DIM=V[,V2] or DIM!=V, got '{item}'")
    dimension = model.find_dimension(name) or name.strip()
    members = []
    for value in values.split(","):
        code = model.find_member(dimension, value) if dimension in model.dimensions else None
        members.append(code or value.strip())
    return Filter(dimension=dimension, members=members, exclude=exclude)


def query(
    metric: list[str] = typer.Option(..., "--metric", "-m", help="Metric id, name or synonym (repeatable)."),
    by: list[str] = typer.Option([], "--by", help="Dimension or time grain (day/week/month/quarter/year); repeatable."),
    where: list[str] = typer.Option([], "--where", help="Filter DIM=V[,V2] (or DIM!=V to exclude); repeatable."),
    start: str | None = typer.Option(None, "--from", help="Period start YYYY-MM-DD (inclusive)."),
    end: str | None = typer.Option(
        None, "--to", help="Period end YYYY-MM-DD (inclusive; default: the day before --today)."
    ),
    compare: str | None = typer.Option(
        None, "--compare", help="yoy (same dates a year earlier) or pop (period just before)."
    ),
    order_by: str | None = typer.Option(
        None, "--order-by", help="Metric or dimension, descending; NAME:asc for ascending."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, max=10_000, help="Keep the first N rows."),
    role: str = typer.Option("admin", "--role", help="admin | finance | marketing | store_manager."),
    store: str | None = typer.Option(None, "--store", help="The store of a store_manager (e.g. st_sh01)."),
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    today: str | None = typer.Option(None, "--today", help="Reference date (default 2026-01-01, the demo's today)."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer object (DESIGN.md) as JSON."),
    language: str = typer.Option("zh", "--lang", help="Language of the answer text: zh or en."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run the query on the database: no result cache."),
) -> None:
    """Compute governed metrics. Without --from/--to the period is the last full month before --today
    (the demo's reference date 2026-01-01, so December 2025)."""
    from agent.metric_runner import master_data_labeler, run_metric_query
    from engines.members import load_master_data
    from semantic_layer.engine import EngineError
    from semantic_layer.query import Principal
    from semantic_layer.semantic_model import ModelError, load_model

    if language not in ("zh", "en"):
        _fail(f"--lang expects zh or en, got '{language}'")
    try:
        model = load_model()
        plan = build_query(
            model, metric, by, where, _day(start, "--from"), _day(end, "--to"),
            _day(today, "--today") or REFERENCE_DAY, compare, order_by, limit,
        )  # fmt: skip
    except (ModelError, ValueError) as exc:
        _fail(_one_line(exc))
        return
    target = engine_url or str(db)
    if engine_url is None and not db.is_file():
        _fail(f"database not found: {db} (build one with: chatbi demo build --db {db})")
    from engines import connect
    from engines.result_cache import ResultCache

    try:
        engine = connect(target, cache=None if no_cache else ResultCache(), freshness=model.freshness)
    except EngineError as exc:
        _fail(str(exc))
        return
    try:
        answer = run_metric_query(
            plan,
            engine,
            principal=Principal(role=role, store_id=store),
            language="en" if language == "en" else "zh",
            model=model,
            labels=master_data_labeler(load_master_data(engine, model=model), model) if plan.dimensions or plan.filters else None,
        )
    except EngineError as exc:  # reading the master data failed: the query itself was not run
        _fail(str(exc), 1)
        return
    finally:
        engine.close()
    if as_json:
        typer.echo(answer.to_json())
        if answer.status == "error":
            raise typer.Exit(1)
        return
    if answer.status != "answer":
        _fail(answer.text, 1 if answer.status == "error" else 2)
    _print_table(answer, model)


def _one_line(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc).splitlines()[0]


def _print_table(
    answer: Answer, model: SemanticModel, console: Any = None, more_options: tuple[str, ...] = ("--json",)
) -> None:
    """The answer text, then its table with readable headers and values, and the exact period.

    A table wider than the terminal shows the columns that fit (a tool's key columns first) and says
    how many more there are and where to get them (``more_options``: the options that give them all).
    """
    from rich.console import Console
    from rich.table import Table

    from agent.answer_text import column_format
    from agent.metric_format import format_value

    console = console or Console()
    console.print(answer.text, highlight=False)
    caption = None
    if answer.period is not None:  # the text says "2025年12月"; the table states the exact days
        start, end = answer.period.start.isoformat(), answer.period.end.isoformat()
        caption = f"期间 {start} 至 {end}" if answer.language == "zh" else f"period {start} to {end}"
    table = Table(show_lines=False, caption=caption)
    formats = [column_format(column, model) for column in answer.columns]
    headers = [_header(column, model, answer.language) for column in answer.columns]
    if len(answer.rows) == 1 and len(answer.columns) > 4:  # one wide row reads better standing up
        table.add_column("")
        table.add_column("", justify="right")
        for header, value, fmt in zip(headers, answer.rows[0], formats, strict=True):
            table.add_row(header, format_value(value, fmt, answer.language))
        console.print(table)
        return
    texts = [[format_value(value, fmt, answer.language) for value, fmt in zip(row, formats, strict=True)]
             for row in answer.rows]  # fmt: skip
    shown = fitting_columns(answer, headers, texts, console.width)
    for i in shown:
        table.add_column(headers[i], justify="left" if formats[i] is None else "right")
    for row in texts:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    hidden = len(answer.columns) - len(shown)
    if hidden:
        *first, last = more_options
        if answer.language == "zh":
            options = "、".join(first) + " 或 " + last if first else last
            note = f"另有 {hidden} 列未显示（终端宽度 {console.width}）；全部列请用 {options}"
        else:
            options = ", ".join(first) + " or " + last if first else last
            plural = "s" if hidden > 1 else ""
            note = f"{hidden} more column{plural} not shown (terminal width {console.width}); all of them with {options}"
        console.print(note, style="dim", highlight=False)


#: Widest a column is counted when fitting a table to the terminal: longer cells wrap inside it.
FIT_CELL_WIDTH = 30
#: Columns of a rich table's borders and padding per column (and one for the closing border).
_COLUMN_FRAME = 3


def fitting_columns(answer: Answer, headers: list[str], texts: list[list[str]], width: int) -> list[int]:
    """Indexes of the columns that fit ``width``, in the table's order: the answer tool's key columns first
    (if it declares them), then the others left to right; a code column with a name column beside it last."""
    from rich.cells import cell_len

    from agent.metric_runner import NAME_SUFFIX

    columns = answer.columns
    needs = [
        min(max([cell_len(headers[i]), *(cell_len(row[i]) for row in texts)]), FIT_CELL_WIDTH) + _COLUMN_FRAME
        for i in range(len(columns))
    ]
    if 1 + sum(needs) <= width:
        return list(range(len(columns)))
    keys = [columns.index(c) for c in _key_columns(answer) if c in columns]
    named = [i for i, c in enumerate(columns) if c + NAME_SUFFIX in columns]
    order = [*keys, *(i for i in range(len(columns)) if i not in keys and i not in named), *named]
    chosen: list[int] = []
    used = 1
    for i in order:
        if used + needs[i] <= width or not chosen:
            chosen.append(i)
            used += needs[i]
    return sorted(chosen)


def _key_columns(answer: Answer) -> tuple[str, ...]:
    """The columns the answer's tool says matter most (none for metric answers)."""
    plan = answer.plan or {}
    if plan.get("kind") != "tool":
        return ()
    from tools.registry import load

    try:
        tool = load(str(plan.get("tool")))
    except KeyError:
        return ()
    return tuple(getattr(tool, "key_columns", ()))


#: Header words for the comparison columns ``<metric>_previous`` / ``<metric>_growth``, and for ``<dimension>_name``.
_SUFFIXES = {"_previous": ("(上期)", " (previous)"), "_growth": ("(增长)", " (growth)"), "_name": ("", " name")}


def _header(column: str, model: SemanticModel, language: str) -> str:
    """A metric's or a name column's display name; codes and time buckets keep their column name."""
    from agent.answer_text import display_name

    if column in model.metrics:
        return display_name(model, column, language)
    for suffix, (zh, en) in _SUFFIXES.items():
        base = column.removesuffix(suffix)
        if base != column and base in (model.dimensions if suffix == "_name" else model.metrics):
            return display_name(model, base, language) + (zh if language == "zh" else en)
    return column


def metrics(
    as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON."),
) -> None:
    """List the governed metrics (中文 / English), their formats and the dimensions each can take."""
    import json

    from rich.console import Console
    from rich.table import Table

    from semantic_layer.semantic_model import load_model

    model = load_model()
    if as_json:
        catalog = [
            {**m.model_dump(), "can_break_down_by": ["date", *model.metric_dimensions(m.id)]}
            for m in model.metrics.values()
        ]
        typer.echo(json.dumps(catalog, ensure_ascii=False))
        return
    table = Table(title="chatbi governed metrics / 统一指标口径")
    for header in ("id", "中文", "English", "format", "by", "definition"):
        table.add_column(header)
    for m in model.metrics.values():
        by = ", ".join(["date", *model.metric_dimensions(m.id)])
        table.add_row(m.id, m.name_zh, m.name_en, m.format, by, m.description_en)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add `query` and `metrics` to the `chatbi` command."""
    app.command("query")(query)
    app.command("metrics")(metrics)
