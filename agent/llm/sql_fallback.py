"""The governed-SQL fallback: a read-only SELECT for the rare question no MetricQuery can express.

"Which customers have payment terms over 60 days?" lists rows of a dimension table; no metric
computes it. The LLM may then write one SELECT, and it is held to more than the engine's guard:

- only the relations the asker's role could reach through the metrics it is granted (a marketing
  user's SQL cannot read receivables any more than their metric queries can);
- never for a role with row filters (a store manager): pinning arbitrary SQL to one store cannot
  be guaranteed, so such roles keep to governed metrics;
- the guard (:func:`semantic_layer.guard.guard_sql`) at planning time, with those relations, and
  again in the engine when it runs; the answer says plainly that it is not a governed metric.
"""

from __future__ import annotations

from typing import Literal

from agent.answer import Answer, json_value
from agent.llm.texts import say
from agent.plan import SqlPlan
from presentation.metric_format import is_missing
from semantic_layer.engine import Engine, EngineError
from semantic_layer.errors import PolicyDeniedError
from semantic_layer.guard import guard_sql
from semantic_layer.query import Principal
from semantic_layer.semantic_model import Role, SemanticModel

#: Rows an ungoverned query may return: enough to list, too few to export a table through.
ROW_LIMIT = 200


def role_relations(model: SemanticModel, role: Role) -> frozenset[str]:
    """The tables a role's granted metrics read, and the dimension tables their joins reach; every
    relation of the model for a role granted everything."""
    if "*" in role.domains and not role.deny_metrics:
        return frozenset(entity.table for entity in model.entities.values())
    entities = {
        measure.entity
        for metric in model.metrics.values()
        if role.grants(metric)
        for measure in model.metric_measures(metric.id)
    }
    frontier = list(entities)
    while frontier:
        for join in model.entities[frontier.pop()].joins:
            if join.to not in entities:
                entities.add(join.to)
                frontier.append(join.to)
    return frozenset(model.entities[name].table for name in entities)


def guarded(plan: SqlPlan, model: SemanticModel, principal: Principal, dialect: str) -> str:
    """The SQL that may run for ``principal``: checked by the guard against the role's relations.

    PolicyDeniedError for a role that may not run SQL at all; GuardError for SQL the guard refuses.
    """
    role = model.roles.get(principal.role)
    if role is None or role.row_filters:
        raise PolicyDeniedError(f"role '{principal.role}' may not run ungoverned SQL")
    return guard_sql(plan.sql, dialect=dialect, allowed_tables=role_relations(model, role), row_limit=ROW_LIMIT)


def run_sql_plan(
    plan: SqlPlan, engine: Engine, model: SemanticModel, principal: Principal, lang: Literal["zh", "en"]
) -> Answer:
    """Run the plan (checked again for this principal) and say that the result is not governed."""
    dumped = plan.model_dump(mode="json", exclude={"note"})
    try:
        sql = guarded(plan, model, principal, engine.dialect)
    except PolicyDeniedError:
        return Answer(status="refusal", text=say("sql_denied", lang, role=principal.role), language=lang, plan=dumped)
    except EngineError as exc:  # the guard's refusal
        return Answer(status="refusal", text=str(exc), language=lang, plan=dumped)
    try:
        result = engine.execute(plan.sql, row_limit=ROW_LIMIT)  # the engine guards it too, and says if rows were cut
    except EngineError as exc:
        return Answer(status="error", text=str(exc), language=lang, plan=dumped, sql=sql)
    rows = [list(row) for row in result.rows]
    text = say("not_governed", lang) + say("sql_rows", lang, rows=len(rows))
    if result.truncated:
        text += say("sql_truncated", lang, limit=ROW_LIMIT)
    if len(rows) == 1 and len(result.columns) == 1 and not is_missing(rows[0][0]):
        text += say("sql_value", lang, value=json_value(rows[0][0]))
    return Answer(
        status="answer",
        text=text,
        language=lang,
        plan=dumped,
        sql=sql,
        columns=result.columns,
        rows=rows,
        cached=result.cached,
        data_version=result.data_version,
    ).with_cells(model)
