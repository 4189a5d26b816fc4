"""Run one MetricQuery end to end: compile (with the asker's policy), execute, compose an Answer.

The planners (issue 4) and ``chatbi query`` share this glue, so a number reads the same
however it was asked for. Refusals from the compiler become ``refusal`` answers carrying
the compiler's explanation; engine failures become ``error`` answers.
"""

from __future__ import annotations

from typing import Any, Literal

from agent.answer import Answer, AnswerPeriod, Definition
from agent.metric_format import format_growth, format_period, format_value
from semantic_layer.compiler import CompiledQuery, compile_query
from semantic_layer.engine import Engine, EngineError
from semantic_layer.errors import QueryError, UnsupportedCutError
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.semantic_model import SemanticModel, load_model

Language = Literal["zh", "en"]
_COMPARE = {"yoy": {"zh": "同比", "en": "YoY"}, "pop": {"zh": "环比", "en": "vs previous period"}}


def run_metric_query(
    query: MetricQuery,
    engine: Engine,
    *,
    principal: Principal | None = None,
    language: Language = "zh",
    model: SemanticModel | None = None,
    row_limit: int = 10_000,
) -> Answer:
    """Answer ``query`` on ``engine`` as ``principal`` would be allowed to see it."""
    model = model or load_model()
    principal = principal or Principal()
    plan = query.model_dump(mode="json")
    period = AnswerPeriod(start=query.period.start, end=query.period.end)
    try:
        compiled = compile_query(query, model, principal, dialect=engine.dialect)
    except QueryError as exc:
        options = exc.allowed if isinstance(exc, UnsupportedCutError) else getattr(exc, "suggestions", [])
        return Answer(status="refusal", text=str(exc), language=language, plan=plan, period=period, options=options)
    try:
        result = engine.execute(compiled.sql, row_limit=row_limit)
    except EngineError as exc:
        return Answer(status="error", text=str(exc), language=language, plan=plan, sql=compiled.sql, period=period)
    rows = [list(row) for row in result.rows]
    return Answer(
        status="answer",
        text=compose_text(compiled, rows, model, language, truncated=result.truncated),
        language=language,
        plan=plan,
        sql=compiled.sql,
        columns=list(result.columns),
        rows=rows,
        chart=chart_spec(compiled),
        definitions=definitions(query, model, language),
        period=period,
    )


def definitions(query: MetricQuery, model: SemanticModel, language: Language) -> list[Definition]:
    return [
        Definition(metric=m, name=model.metrics[m].name(language), definition=model.metrics[m].description(language))
        for m in query.metrics
    ]


def chart_spec(compiled: CompiledQuery) -> dict[str, Any]:
    """A small, renderer-neutral chart spec: a line over time, bars by dimension, or a KPI."""
    query = compiled.query
    x: str | None
    if query.grain:
        kind, x = "line", query.grain
    elif query.dimensions:
        kind, x = "bar", query.dimensions[0]
    else:
        kind, x = "kpi", None
    series = [d for d in query.dimensions if d != x]
    return {"type": kind, "x": x, "y": list(query.metrics), "series": series[0] if series else None}


def compose_text(
    compiled: CompiledQuery, rows: list[list[Any]], model: SemanticModel, language: Language, truncated: bool
) -> str:
    """One or two sentences with the number(s), their units, the period and any comparison."""
    query = compiled.query
    when = format_period(query.period.start, query.period.end, language)
    keys = len(compiled.columns) - len(query.metrics) * (3 if query.compare else 1)
    if not rows or (keys == 0 and all(v is None for v in rows[0])):
        return f"{when},没有符合条件的数据。" if language == "zh" else f"No data for {when}."
    if keys == 0:
        parts = [_metric_phrase(m, rows[0], compiled, model, language) for m in query.metrics]
        joined = ";".join(parts) if language == "zh" else "; ".join(parts)
        return f"{when},{joined}。" if language == "zh" else f"{when}: {joined}."
    head = _metric_phrase(query.metrics[0], rows[0], compiled, model, language)
    label = " / ".join(format_value(v, "", language) for v in rows[0][:keys])
    more = "(结果已截断)" if truncated and language == "zh" else (" (truncated)" if truncated else "")
    if language == "zh":
        return f"{when},共 {len(rows)} 行{more}。第一行 {label}:{head}。"
    noun = "row" if len(rows) == 1 else "rows"
    return f"{when}: {len(rows)} {noun}{more}. First row {label}: {head}."


def _metric_phrase(
    metric_id: str, row: list[Any], compiled: CompiledQuery, model: SemanticModel, language: Language
) -> str:
    metric = model.metrics[metric_id]
    index = compiled.columns.index(metric_id)
    phrase = f"{metric.name(language)} {format_value(row[index], metric.format, language)}"
    if compiled.query.compare:
        word = _COMPARE[compiled.query.compare][language]
        previous = format_value(row[index + 1], metric.format, language)
        phrase += (
            f"({word} {format_growth(row[index + 2])},上期 {previous})"
            if language == "zh"
            else (f" ({word} {format_growth(row[index + 2])}, previous {previous})")
        )
    return phrase
