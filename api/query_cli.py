"""`chatbi query` and `chatbi metrics`: the governed semantic layer from the command line.

Registered on the main app by :func:`register`. Heavy modules (the compiler, engines,
rich) are imported inside the commands so that `chatbi --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from api.console import fail, print_table

if TYPE_CHECKING:
    from semantic_layer.query import MetricQuery
    from semantic_layer.semantic_model import SemanticModel

#: The demo data's reference "today" (DATA_CONTRACT.md): the default period is the full month before it.
REFERENCE_DAY = dt.date(2026, 1, 1)


def _day(text: str | None, flag: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{flag} expects a date YYYY-MM-DD, got '{text}'")
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
        fail(f"--lang expects zh or en, got '{language}'")
    try:
        model = load_model()
        plan = build_query(
            model, metric, by, where, _day(start, "--from"), _day(end, "--to"),
            _day(today, "--today") or REFERENCE_DAY, compare, order_by, limit,
        )  # fmt: skip
    except (ModelError, ValueError) as exc:
        fail(_one_line(exc))
        return
    target = engine_url or str(db)
    if engine_url is None and not db.is_file():
        fail(f"database not found: {db} (build one with: chatbi demo build --db {db})")
    from engines import connect
    from engines.result_cache import ResultCache

    try:
        engine = connect(target, cache=None if no_cache else ResultCache(), freshness=model.freshness)
    except EngineError as exc:
        fail(str(exc))
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
        fail(str(exc), 1)
        return
    finally:
        engine.close()
    if as_json:
        typer.echo(answer.to_json())
        if answer.status == "error":
            raise typer.Exit(1)
        return
    if answer.status != "answer":
        fail(answer.text, 1 if answer.status == "error" else 2)
    print_table(answer, model)


def _one_line(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc).splitlines()[0]


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
