"""Run one attribute listing ("账期最长的供应商", "lead time by supplier"): compile with the asker's
policy, execute, and say what the table shows. Values are copied from cells, as for metrics."""

from __future__ import annotations

from agent.answer import Answer
from presentation.language import Language, join_names
from presentation.metric_format import format_value
from semantic_layer.engine import Engine, EngineError
from semantic_layer.errors import QueryError
from semantic_layer.query import AttributeQuery, Principal
from semantic_layer.semantic_model import SemanticModel

SHOWN = 10


def run_attribute_query(
    query: AttributeQuery,
    engine: Engine,
    *,
    principal: Principal,
    language: Language,
    model: SemanticModel,
    row_limit: int = 10_000,
) -> Answer:
    from semantic_layer.compiler import compile_attributes  # here: a cold ask of a metric needs no compiler

    plan = query.model_dump(mode="json")
    try:
        compiled = compile_attributes(query, model, principal, dialect=engine.dialect, language=language)
    except QueryError as exc:
        return Answer(status="refusal", text=str(exc), language=language, plan=plan)
    try:
        result = engine.execute(compiled.ast, row_limit=row_limit)
    except EngineError as exc:
        return Answer(status="error", text=str(exc), language=language, plan=plan, sql=compiled.sql)
    rows = [list(r) for r in result.rows]
    return Answer(
        status="answer",
        text=attribute_text(query, compiled.columns, rows, model, language),
        language=language,
        plan=plan,
        sql=compiled.sql,
        columns=compiled.columns,
        rows=rows,
        cached=result.cached,
        data_version=result.data_version,
    ).with_cells(model, formats=attribute_formats(query, model), labels=attribute_labels(query, model, language))


def attribute_formats(query: AttributeQuery, model: SemanticModel) -> dict[str, str | None]:
    """The listed attributes' formats by column (text and dates have none: they read as they are)."""
    return {
        a.name: None if a.format in ("text", "date") else a.format for a in model.dimensions[query.dimension].attributes
    }


def attribute_labels(query: AttributeQuery, model: SemanticModel, language: Language) -> dict[str, str]:
    """The listed attributes' display names by column."""
    return {a.name: a.display_name(language) for a in model.dimensions[query.dimension].attributes}


def attribute_text(
    query: AttributeQuery, columns: list[str], rows: list[list], model: SemanticModel, language: Language
) -> str:
    """``供应商按账期从高到低(共 20 个): 1. 某某 90天; 2. …``; without an order, the members named."""
    zh = language == "zh"
    dim = model.dimensions[query.dimension]
    dim_name = dim.name_zh.split("/")[0] if zh else dim.name_en
    attributes = {a.name: a for a in dim.attributes}
    shown_attributes = [c for c in columns if c in attributes]
    label_at = columns.index(f"{query.dimension}_name") if f"{query.dimension}_name" in columns else 0
    where = _conditions_text(query, attributes, language)
    subject = (f"{where}的{dim_name}" if zh else f"{dim_name} ({where})") if where else dim_name
    if not rows:
        return f"没有符合条件的{subject}。" if zh else f"No {subject} matches."

    def item(row: list) -> str:
        values = [format_value(row[columns.index(a)], attributes[a].format, language) for a in shown_attributes]
        label = str(row[label_at])
        return f"{label} {' / '.join(values)}" if values else label

    names = join_names([attributes[a].name_zh if zh else attributes[a].name_en for a in shown_attributes], language)
    head = f"{dim_name}{names}" if zh else f"{dim_name} {names}"
    more = len(rows) > SHOWN
    items = "; ".join(f"{i}. {item(r)}" for i, r in enumerate(rows[:SHOWN], 1))
    if query.order_by is not None:
        name = attributes[query.order_by.field].name_zh if zh else attributes[query.order_by.field].name_en
        direction = (
            ("从高到低" if query.order_by.descending else "从低到高")
            if zh
            else ("highest first" if query.order_by.descending else "lowest first")
        )
        if zh:
            return f"按{name}{direction}的{subject}(共 {len(rows):,} 个{',其余见表' if more else ''}): {items}。"
        return f"{subject} by {name}, {direction} ({len(rows):,}{'; the rest in the table' if more else ''}): {items}."
    if zh:
        return f"共 {len(rows):,} 个{subject}({head}{',其余见表' if more else ''}): {items}。"
    return f"{len(rows):,} {subject} rows ({head}{'; the rest in the table' if more else ''}): {items}."


def _conditions_text(query: AttributeQuery, attributes: dict, language: Language) -> str:
    """ "账期 = 60 天", "开始日期 2025-12-01 至 2025-12-31": the conditions said, so the list is not read as all."""
    parts = []
    conditions = list(query.conditions)
    while conditions:
        c = conditions.pop(0)
        spec = attributes[c.attribute]
        name = spec.name_zh if language == "zh" else spec.name_en
        pair = next((o for o in conditions if o.attribute == c.attribute and (c.op, o.op) == (">=", "<=")), None)
        if pair is not None:  # a date range
            conditions.remove(pair)
            joiner = " 至 " if language == "zh" else " to "
            parts.append(
                f"{name} {format_value(c.value, spec.format, language)}{joiner}{format_value(pair.value, spec.format, language)}"
            )
        else:
            parts.append(f"{name} {c.op} {format_value(c.value, spec.format, language)}")
    return join_names(parts, language)
