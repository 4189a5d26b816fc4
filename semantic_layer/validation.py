"""Check a MetricQuery against the governed model and the asker's role before any SQL exists.

Everything a query may be refused for is decided here, in one place, so the compiler
only ever sees questions that have one governed answer. Role policies live here too:
their row filters come back as ordinary filters that the compiler applies to every
measure, which is why no planner can go around them.
"""

from __future__ import annotations

import datetime as dt

from semantic_layer.errors import (
    PolicyDeniedError,
    QueryError,
    ShareNotDefinedError,
    UnknownAttributeError,
    UnknownDimensionError,
    UnknownMetricError,
    UnsupportedCutError,
)
from semantic_layer.query import AttributeQuery, EntityRead, Filter, MetricQuery, Principal
from semantic_layer.semantic_model import Attribute, Dimension, Metric, Role, SemanticModel, suggestions


def check_query(query: MetricQuery, model: SemanticModel, principal: Principal) -> list[Filter]:
    """Validate ``query`` for ``principal``; return the filters to apply (the role's included)."""
    role = _role(model, principal)
    metrics = [_metric(model, metric_id) for metric_id in query.metrics]
    for metric in metrics:
        if not role.grants(metric):
            raise PolicyDeniedError(
                f"role '{role.name}' may not read {metric.id} ({metric.name_zh} / {metric.name_en})"
            )
    for dimension in query.dimensions:
        _dimension(model, dimension)
        for metric in metrics:
            _can_take(model, metric, dimension, "broken down")
    for item in query.filters:
        _dimension(model, item.dimension)
        for metric in metrics:
            _can_take(model, metric, item.dimension, "filtered")
        _members(model, item)
    if query.share:
        _share(query, model, metrics)
    filters = [*query.filters, *_row_filters(model, role, principal, metrics, query.filters)]
    if query.order_by is not None:
        _order_field(query, query.order_by.field)
    return filters


def output_names(query: MetricQuery) -> list[str]:
    """The result's column names: grain, dimensions, then each metric (and its comparison)."""
    keys = ([query.grain] if query.grain else []) + list(query.dimensions)
    values: list[str] = []
    for metric_id in query.metrics:
        values.append(metric_id)
        if query.compare:
            values += [f"{metric_id}_previous", f"{metric_id}_growth"]
        if query.share:
            values.append(f"{metric_id}_share")
    return keys + values


def _role(model: SemanticModel, principal: Principal) -> Role:
    role = model.roles.get(principal.role)
    if role is None:
        raise PolicyDeniedError(f"unknown role '{principal.role}' (roles: {', '.join(model.roles)})")
    return role


def _metric(model: SemanticModel, metric_id: str) -> Metric:
    metric = model.metrics.get(metric_id)
    if metric is not None:
        return metric
    by_synonym = model.find_metric(metric_id)
    hints = [by_synonym.id] if by_synonym else []
    hints += [h for h in suggestions(metric_id, model.metrics) if h not in hints]
    hint = f"; did you mean {' or '.join(hints)}?" if hints else f"; metrics: {', '.join(model.metrics)}"
    raise UnknownMetricError(f"unknown metric '{metric_id}'{hint}", hints)


def _dimension(model: SemanticModel, name: str) -> None:
    if name in model.dimensions:
        return
    found = model.find_dimension(name)
    hints = [found] if found else []
    hints += [h for h in suggestions(name, model.dimensions) if h not in hints]
    hint = f"; did you mean {' or '.join(hints)}?" if hints else f"; dimensions: {', '.join(model.dimensions)}"
    raise UnknownDimensionError(f"unknown dimension '{name}'{hint}", hints)


def _can_take(model: SemanticModel, metric: Metric, dimension: str, how: str) -> None:
    allowed = model.metric_dimensions(metric.id)
    if dimension in allowed:
        return
    can = ", ".join(["date (day/week/month/quarter/year)", *allowed])
    raise UnsupportedCutError(
        f"{metric.id} ({metric.name_zh}) cannot be {how} by {dimension}: it reads tables that "
        f"{dimension} does not apply to, so the number would be wrong; it can be {how} by: {can}",
        metric=metric.id,
        dimension=dimension,
        allowed=allowed,
    )


def _share(query: MetricQuery, model: SemanticModel, metrics: list[Metric]) -> None:
    """A share divides each row by the sum of the rows: only sums and counts add up that way."""
    if not query.dimensions and not query.grain:
        raise QueryError(
            "a share of total needs a breakdown (a dimension or a time grain): one row is 100% of itself / "
            "占比需要按维度或时间拆分"
        )
    for metric in metrics:
        if not metric.additive:
            by = query.dimensions or [query.grain or ""]
            by_zh = "、".join(model.dimensions[d].name_zh if d in model.dimensions else d for d in by)
            by_en = ", ".join(model.dimensions[d].name_en if d in model.dimensions else d for d in by)
            raise ShareNotDefinedError(
                f"{metric.name_zh}没有占比:它是比率或平均值,各行相加不等于总体;可以改看各{by_zh}的{metric.name_zh}。 / "
                f"{metric.name_en} ({metric.id}) has no share of total: it is a ratio or an average, so its rows "
                f"do not add up to the total; ask for {metric.name_en} by {by_en} instead.",
                metric=metric.id,
            )


def _members(model: SemanticModel, item: Filter) -> None:
    dimension = model.dimensions[item.dimension]
    if not dimension.members:
        return
    for code in item.members:
        if dimension.member(code) is None:
            known = ", ".join(f"{m.code} ({m.name_zh})" for m in dimension.members)
            raise QueryError(f"unknown {item.dimension} '{code}'; known: {known}")


def _row_filters(
    model: SemanticModel, role: Role, principal: Principal, metrics: list[Metric], asked: list[Filter]
) -> list[Filter]:
    pinned: list[Filter] = []
    for row_filter in role.row_filters:
        value = getattr(principal, row_filter.principal_attribute)
        if not value:
            raise PolicyDeniedError(f"role '{role.name}' needs a {row_filter.principal_attribute} to read any rows")
        for metric in metrics:
            if row_filter.dimension not in model.metric_dimensions(metric.id):
                raise PolicyDeniedError(
                    f"role '{role.name}' may not read {metric.id} ({metric.name_zh}): it cannot be "
                    f"limited to your {row_filter.dimension}"
                )
        for item in asked:
            if item.dimension == row_filter.dimension and (item.exclude or set(item.members) != {value}):
                raise PolicyDeniedError(f"role '{role.name}' may only read {row_filter.dimension} '{value}'")
        pinned.append(Filter(dimension=row_filter.dimension, members=[value], exclude=False))
    return pinned


def _order_field(query: MetricQuery, name: str) -> None:
    if name not in output_names(query):
        raise QueryError(f"cannot order by '{name}': not a column of this query ({', '.join(output_names(query))})")


def check_attribute_query(
    query: AttributeQuery, model: SemanticModel, principal: Principal
) -> tuple[list[Attribute], list[Filter]]:
    """Validate an attribute listing; return the attributes to show and the filters to apply.

    A role reads an attribute when it is granted the attribute's domain. A role's row filter
    applies where the members' table reaches its dimension; master data that no store owns
    (suppliers, SKUs) is not narrowed by it.
    """
    role = _role(model, principal)
    _dimension(model, query.dimension)
    dimension = model.dimensions[query.dimension]
    if not dimension.attributes:
        listed = ", ".join(d.name for d in model.dimensions.values() if d.attributes)
        raise UnknownAttributeError(
            f"{query.dimension} ({dimension.name_zh}) has no attributes to list; dimensions with attributes: {listed}",
            [],
        )
    readable = [a for a in dimension.attributes if "*" in role.domains or a.domain in role.domains]
    named = [_attribute(model, dimension, name) for name in query.attributes]
    named += [
        _attribute(model, dimension, c.attribute) for c in query.conditions if c.attribute not in query.attributes
    ]
    for attribute in named:
        if attribute not in readable:
            raise PolicyDeniedError(
                f"role '{role.name}' may not read {dimension.name}.{attribute.name} ({attribute.name_zh} / "
                f"{attribute.name_en}): it needs the {attribute.domain} domain"
            )
    shown = [_attribute(model, dimension, name) for name in query.attributes] or readable
    if not shown:
        raise PolicyDeniedError(f"role '{role.name}' may not read any attribute of {dimension.name}")
    for condition in query.conditions:
        condition_value(_attribute(model, dimension, condition.attribute), condition.value)
    for item in query.filters:
        _dimension(model, item.dimension)
        if model.dimension_column(item.dimension, dimension.entity) is None:
            raise UnsupportedCutError(
                f"{dimension.name} ({dimension.name_zh}) cannot be filtered by {item.dimension}: its members "
                f"do not carry it",
                metric="",
                dimension=item.dimension,
                allowed=[d for d in model.dimensions if model.dimension_column(d, dimension.entity) is not None],
            )
        _members(model, item)
    filters = [*query.filters, *_entity_row_filters(model, role, principal, dimension.entity)]
    if query.order_by is not None:
        columns = attribute_output_names(query, model, shown)
        if query.order_by.field not in columns:
            raise QueryError(
                f"cannot order by '{query.order_by.field}': not a column of this listing ({', '.join(columns)})"
            )
    return shown, filters


def _entity_row_filters(model: SemanticModel, role: Role, principal: Principal, entity: str) -> list[Filter]:
    """A role's row filters on rows of ``entity``: those whose dimension it reaches (data that no
    store owns, such as suppliers and SKUs, is not narrowed by a store filter)."""
    filters = []
    for row_filter in role.row_filters:
        if model.dimension_column(row_filter.dimension, entity) is None:
            continue
        value = getattr(principal, row_filter.principal_attribute)
        if not value:
            raise PolicyDeniedError(f"role '{role.name}' needs a {row_filter.principal_attribute} to read any rows")
        filters.append(Filter(dimension=row_filter.dimension, members=[value], exclude=False))
    return filters


def check_read(read: EntityRead, model: SemanticModel, principal: Principal) -> list[Filter]:
    """Validate a plain read of model columns; return the filters to apply (the asked ones and the
    role's row filters). Every column must be declared on an entity the read's entity reaches."""
    role = _role(model, principal)
    if read.entity not in model.entities:
        hints = suggestions(read.entity, model.entities)
        raise QueryError(f"unknown entity '{read.entity}'" + (f"; did you mean {' or '.join(hints)}?" if hints else ""))
    for ref in read.columns:
        owner, _, column = ref.rpartition(".")
        if owner not in model.entities or column not in model.entities[owner].columns:
            raise QueryError(f"'{ref}' is not a column the model declares (write it entity.column)")
        if model.join_path(read.entity, owner) is None:
            raise QueryError(f"{read.entity} does not reach {owner} by its joins, so it cannot read {ref}")
    for item in read.filters:
        _dimension(model, item.dimension)
        if model.dimension_column(item.dimension, read.entity) is None:
            raise QueryError(f"{read.entity} cannot be filtered by {item.dimension}: it does not reach it")
        _members(model, item)
    return [*read.filters, *_entity_row_filters(model, role, principal, read.entity)]


def tool_read_filters(model: SemanticModel, principal: Principal, entity: str) -> list[Filter]:
    """The role's row filters on an entity a tool reads. An entity that holds measures (facts) which
    a filter cannot reach is refused, as a metric is: the tool would compute on rows the asker may
    not see. Entities without measures (SKUs, promotions) only describe and are read whole."""
    role = _role(model, principal)
    for row_filter in role.row_filters:
        if model.dimension_column(row_filter.dimension, entity) is not None:
            continue
        if any(m.entity == entity for m in model.measures.values()):
            raise PolicyDeniedError(
                f"role '{role.name}' sees only its own {row_filter.dimension}; this analysis reads {entity}, "
                f"which is not kept per {row_filter.dimension}"
            )
    return _entity_row_filters(model, role, principal, entity)


def attribute_output_names(query: AttributeQuery, model: SemanticModel, shown: list[Attribute]) -> list[str]:
    """The listing's columns: the member key, its display name (when labelled), the attributes."""
    dimension = model.dimensions[query.dimension]
    names = [dimension.name] + ([f"{dimension.name}_name"] if dimension.label else [])
    return names + [a.name for a in shown]


def _attribute(model: SemanticModel, dimension: Dimension, name: str) -> Attribute:
    found = dimension.attribute(name)
    if found is not None:
        return found
    by_word = [a.name for d, a in model.find_attribute(name, dimension.name) if d == dimension.name]
    names = [a.name for a in dimension.attributes]
    hints = by_word + [h for h in suggestions(name, names) if h not in by_word]
    known = ", ".join(f"{a.name} ({a.name_zh})" for a in dimension.attributes)
    hint = f"did you mean {' or '.join(hints)}? " if hints else ""
    raise UnknownAttributeError(
        f"{dimension.name} ({dimension.name_zh}) has no attribute '{name}'; {hint}attributes: {known}", hints
    )


def condition_value(attribute: Attribute, value: str | float | dt.date) -> str | float | dt.date:
    """A condition's value as the attribute's kind (a date, a text or a number), or a QueryError."""
    if attribute.format == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise QueryError(f"{attribute.name} is a date: compare it with a date YYYY-MM-DD, got '{value}'") from None
    if attribute.format == "text":
        if isinstance(value, str):
            return value
        raise QueryError(f"{attribute.name} is a text: compare it with a text value, got '{value}'")
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise QueryError(f"{attribute.name} is a number: compare it with a number, got '{value}'") from None
