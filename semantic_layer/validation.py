"""Check a MetricQuery against the governed model and the asker's role before any SQL exists.

Everything a query may be refused for is decided here, in one place, so the compiler
only ever sees questions that have one governed answer. Role policies live here too:
their row filters come back as ordinary filters that the compiler applies to every
measure, which is why no planner can go around them.
"""

from __future__ import annotations

from semantic_layer.errors import (
    PolicyDeniedError,
    QueryError,
    ShareNotDefinedError,
    UnknownDimensionError,
    UnknownMetricError,
    UnsupportedCutError,
)
from semantic_layer.query import Filter, MetricQuery, Principal
from semantic_layer.semantic_model import Metric, Role, SemanticModel, suggestions


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
