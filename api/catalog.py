"""The governed catalog as a caller may read it: the metrics and dimensions their role is granted.

One shape for every channel that lists the model (``GET /v1/metrics``, the MCP tools and resources),
so a client sees the same definition, format and cuts of a metric wherever it looks. Everything is
read from the loaded model: nothing here names a metric, a dimension or a role.
"""

from __future__ import annotations

from typing import Any

from semantic_layer.errors import PolicyDeniedError
from semantic_layer.query import Principal
from semantic_layer.semantic_model import Metric, Role, SemanticModel


def role_of(model: SemanticModel, principal: Principal) -> Role:
    """The principal's role; an unknown one is refused as the compiler refuses it."""
    role = model.roles.get(principal.role)
    if role is None:
        raise PolicyDeniedError(f"unknown role '{principal.role}' (roles: {', '.join(model.roles)})")
    return role


def metric_entry(model: SemanticModel, metric: Metric) -> dict[str, Any]:
    """A metric's definition (names, description, formula, format, domain, owner) and the cuts it takes."""
    return {**metric.model_dump(), "can_break_down_by": ["date", *model.metric_dimensions(metric.id)]}


def readable_metrics(model: SemanticModel, principal: Principal) -> list[dict[str, Any]]:
    """The entries of the metrics the principal's role may read, in the model's order."""
    role = role_of(model, principal)
    return [metric_entry(model, m) for m in model.metrics.values() if role.grants(m)]


def readable_metric(model: SemanticModel, principal: Principal, metric_id: str) -> dict[str, Any]:
    """One metric's entry; an unknown metric or one the role may not read is refused with the reason."""
    role = role_of(model, principal)
    metric = model.metrics.get(metric_id)
    if metric is None:
        raise PolicyDeniedError(f"no metric '{metric_id}' in the catalog (metrics: {', '.join(model.metrics)})")
    if not role.grants(metric):
        raise PolicyDeniedError(f"role '{role.name}' may not read {metric.id} ({metric.name_en})")
    return metric_entry(model, metric)


def readable_dimensions(model: SemanticModel, principal: Principal) -> dict[str, Any]:
    """The time grains and every dimension: names, the members the model declares, the attributes the role
    may read, and which of the role's metrics each dimension can cut or filter."""
    role = role_of(model, principal)
    granted = [m for m in model.metrics.values() if role.grants(m)]
    takes = {m.id: set(model.metric_dimensions(m.id)) for m in granted}
    dimensions = []
    for dim in model.dimensions.values():
        dimensions.append(
            {
                "name": dim.name,
                "name_zh": dim.name_zh,
                "name_en": dim.name_en,
                "synonyms": dim.synonyms,
                "members": [m.model_dump(exclude={"synonyms"}) for m in dim.members],
                "attributes": [
                    {"name": a.name, "name_zh": a.name_zh, "name_en": a.name_en, "format": a.format}
                    for a in dim.attributes
                    if "*" in role.domains or a.domain in role.domains
                ],
                "metrics": [m.id for m in granted if dim.name in takes[m.id]],
                "row_filtered": any(f.dimension == dim.name for f in role.row_filters),
            }
        )
    time = model.time_dimension
    return {
        "time": {"name": time.name, "grains": [g.model_dump(exclude={"synonyms"}) for g in time.grains]},
        "dimensions": dimensions,
    }
