"""Run one MetricQuery end to end: compile (with the asker's policy), execute, compose an Answer.

The planners and ``chatbi query`` share this glue, so a number reads the same however it was
asked for. Refusals from the compiler become ``refusal`` answers carrying the compiler's
explanation; engine failures become ``error`` answers.

Members are shown by name: the table keeps each dimension's code column (what machines and
evals match on) and gains a ``<dimension>_name`` column right after it, and the text and chart
use the names. A :data:`Labeler` supplies them; :func:`master_data_labeler` is the one backed by
the warehouse's master data, and without one only the model's declared members are named.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from agent.answer import Answer, AnswerPeriod, Definition
from agent.answer_text import Labeler, compose_text
from agent.prepared_sql import prepared_query
from presentation.cells import NAME_SUFFIX, column_format, display_name
from presentation.language import Language, join_names
from semantic_layer.engine import Engine, EngineError
from semantic_layer.errors import QueryError, UnsupportedCutError
from semantic_layer.master_data import MasterData
from semantic_layer.prepared import PreparedQuery
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.semantic_model import SemanticModel, load_model

if TYPE_CHECKING:
    from semantic_layer.compiler import CompiledQuery

#: Compiled queries kept per process: a repeated question skips building its SQL AST again.
COMPILE_CACHE_SIZE = 1024
#: Dimensions whose members master data knows; the dimension name is the master-data kind.


def run_metric_query(
    query: MetricQuery,
    engine: Engine,
    *,
    principal: Principal | None = None,
    language: Language = "zh",
    model: SemanticModel | None = None,
    row_limit: int = 10_000,
    labels: Labeler | None = None,
) -> Answer:
    """Answer ``query`` on ``engine`` as ``principal`` would be allowed to see it, naming members
    with ``labels`` (default: :func:`model_labeler`, which knows only the model's declared members)."""
    model = model or load_model()
    principal = principal or Principal()
    labels = labels or model_labeler(model)
    plan = query.model_dump(mode="json")
    period = AnswerPeriod(start=query.period.start, end=query.period.end)
    try:
        # the guard's text kept by an earlier process (or made now, and kept), else the compiled tree
        compiled = prepared_query(query, model, principal, engine, row_limit) or compile_cached(
            query, model, principal, engine.dialect
        )
    except QueryError as exc:
        options = exc.allowed if isinstance(exc, UnsupportedCutError) else getattr(exc, "suggestions", [])
        return Answer(status="refusal", text=str(exc), language=language, plan=plan, period=period, options=options)
    sql = compiled.guarded if isinstance(compiled, PreparedQuery) else compiled.ast
    try:
        result = engine.execute(sql, row_limit=row_limit)
    except EngineError as exc:
        return Answer(status="error", text=str(exc), language=language, plan=plan, sql=compiled.sql, period=period)
    rows = [list(row) for row in result.rows]
    # counting needs the tree: compiled now (or taken from this process's compile cache)
    total = count_rows(compile_cached(query, model, principal, engine.dialect), engine) if result.truncated else None
    columns, table = with_names(compiled.columns, rows, query.dimensions, labels, language)
    return Answer(
        status="answer",
        text=compose_text(compiled, rows, model, language, labels=labels, truncated=result.truncated, total_rows=total),
        language=language,
        plan=plan,
        sql=compiled.sql,
        columns=columns,
        rows=table,
        chart=chart_spec(compiled, model, language, columns),
        definitions=definitions(query.metrics, model, language),
        period=period,
        cached=result.cached,
        data_version=result.data_version,
    ).with_cells(model)


def count_rows(compiled: CompiledQuery, engine: Engine) -> int | None:
    """How many rows the whole result has, when the row limit cut it: the same compiled query wrapped
    in ``SELECT COUNT(*)`` (its CTEs hoisted), so the count cannot drift from what was run. None if the
    count itself fails: the answer then says only that the limit was hit."""
    from sqlglot import exp

    inner = compiled.ast.copy()
    ctes = inner.args.get("with_")
    inner.set("with_", None)
    outer = exp.select(exp.alias_(exp.Count(this=exp.Star()), "row_count")).from_(inner.subquery("result"))
    if ctes is not None:
        outer.set("with_", ctes)
    try:
        counted = engine.execute(outer, row_limit=1)
    except EngineError:
        return None
    return int(counted.rows[0][0]) if counted.rows else None


_compiled: OrderedDict[tuple[str, str, str, int], tuple[SemanticModel, CompiledQuery]] = OrderedDict()
_compiled_lock = threading.Lock()


def compile_cached(query: MetricQuery, model: SemanticModel, principal: Principal, dialect: str) -> CompiledQuery:
    """``compile_query``, remembered per (MetricQuery, principal, dialect, model): building the AST is most
    of a question's CPU, and users ask the same questions again. A refusal is not remembered (it raises).

    The model is kept with its entry and compared by identity, so a reloaded model never reads an
    entry compiled for another one. Entries are shared: callers must not mutate ``compiled.ast``.
    """
    from semantic_layer.compiler import compile_query

    key = (query.model_dump_json(), principal.model_dump_json(), dialect, id(model))
    with _compiled_lock:
        hit = _compiled.get(key)
        if hit is not None and hit[0] is model:
            _compiled.move_to_end(key)
            return hit[1]
    compiled = compile_query(query, model, principal, dialect=dialect)
    with _compiled_lock:
        _compiled[key] = (model, compiled)
        while len(_compiled) > COMPILE_CACHE_SIZE:
            _compiled.popitem(last=False)
    return compiled


def definitions(metric_ids: list[str], model: SemanticModel, language: Language) -> list[Definition]:
    """The governed definitions an answer cites, for the metrics it used."""
    return [
        Definition(metric=m, name=model.metrics[m].name(language), definition=model.metrics[m].description(language))
        for m in metric_ids
        if m in model.metrics
    ]


# -- display names ----------------------------------------------------------------------
def model_labeler(model: SemanticModel) -> Labeler:
    """Names of the members the model declares (channel, channel_type, customer_type)."""

    def label(dimension: str, code: str, language: str) -> str | None:
        spec = model.dimensions.get(dimension)
        member = spec.member(code) if spec is not None else None
        if member is None:
            return None
        return member.name_zh if language == "zh" else member.name_en

    return label


def master_data_labeler(master: MasterData, model: SemanticModel) -> Labeler:
    """The model's declared members first, then master data (sku, store, city, region, category,
    brand, channel, channel_type, warehouse). English falls back to the Chinese name, which for
    city, region, category and brand *is* the code, and is more telling than a SKU or store id."""
    declared = model_labeler(model)
    labelled = {(dim, key): (zh, en) for dim, members in master.labelled.items() for key, zh, en in members}

    def label(dimension: str, code: str, language: str) -> str | None:
        found = declared(dimension, code, language)
        if found is None and (dimension, code) in labelled:  # customers, suppliers
            return labelled[(dimension, code)][language == "en"]
        if found is not None or dimension not in master.kinds:
            return found
        member = master.member(dimension, code)
        if member is None:
            return None
        return member.name if language == "zh" else (member.name_en or member.name)

    return label


def with_names(
    columns: list[str], rows: list[list[Any]], dimensions: list[str], labels: Labeler, language: str
) -> tuple[list[str], list[list[Any]]]:
    """The table with a ``<dimension>_name`` column after each dimension the labeler names at least
    one member of (a member it does not know shows its code there)."""
    names: dict[int, list[Any]] = {}
    for dimension in dimensions:
        at = columns.index(dimension)
        found = [None if row[at] is None else labels(dimension, str(row[at]), language) for row in rows]
        if any(n is not None for n in found):
            names[at] = [
                n if n is not None or row[at] is None else str(row[at]) for n, row in zip(found, rows, strict=True)
            ]
    out_columns: list[str] = []
    for at, column in enumerate(columns):
        out_columns += [column, column + NAME_SUFFIX] if at in names else [column]
    table = []
    for i, row in enumerate(rows):
        out: list[Any] = []
        for at, value in enumerate(row):
            out += [value, names[at][i]] if at in names else [value]
        table.append(out)
    return out_columns, table


# -- chart ------------------------------------------------------------------------------
def chart_spec(
    compiled: CompiledQuery | PreparedQuery, model: SemanticModel, language: Language, columns: list[str]
) -> dict[str, Any] | None:
    """A renderer-neutral chart: a line over time, bars by dimension, none for a single number.

    ``x_label`` / ``series_label`` name the table column holding display names (None: use the
    codes or dates themselves); ``formats`` and ``y_names`` let a widget label and scale its axes.
    """
    query = compiled.query
    if not query.grain and not query.dimensions:
        return None
    x = query.grain or query.dimensions[0]
    rest = [d for d in query.dimensions if d != x]
    series = rest[0] if rest else None

    def label_column(key: str | None) -> str | None:
        return key + NAME_SUFFIX if key and key + NAME_SUFFIX in columns else None

    return {
        "type": "line" if query.grain else "bar",
        "x": x,
        "x_label": label_column(x),
        "y": list(query.metrics),
        "series": series,
        "series_label": label_column(series),
        "title": _title(compiled, model, language),
        "formats": {m: column_format(m, model) for m in query.metrics},
        "y_names": {m: model.metrics[m].name(language) for m in query.metrics},
    }


def _title(compiled: CompiledQuery | PreparedQuery, model: SemanticModel, language: Language) -> str:
    """``各渠道销售额`` / ``GMV by channel``; ``销售额按月趋势`` / ``GMV by month``; a ranking says so."""
    query = compiled.query
    metrics = join_names([display_name(model, m, language) for m in query.metrics], language)
    dims = join_names([display_name(model, d, language) for d in query.dimensions], language)
    if language == "zh":
        title = f"各{dims}{metrics}" if dims else metrics
        if query.grain:
            title += f"按{display_name(model, query.grain, language)}趋势"
    else:
        keys = ([query.grain] if query.grain else []) + list(query.dimensions)
        by = join_names([display_name(model, k, language) for k in keys], language)
        title = f"{metrics[0].upper()}{metrics[1:]} by {by}"
    if query.order_by is not None and query.limit is not None:
        word = (
            ("前" if query.order_by.descending else "后")
            if language == "zh"
            else ("top" if query.order_by.descending else "bottom")
        )
        title += f"({word}{query.limit})" if language == "zh" else f" ({word} {query.limit})"
    return title
