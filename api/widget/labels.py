"""Display names for the widget's table headers and chart axes, from the governed semantic model.

An answer names its columns by key (``channel_name``, ``gmv_growth``); a person reads 渠道 /
channel and 销售额 / GMV. The names come from the one semantic model rather than a copy in the
widget, and only names and formats are published: no definitions, policies or SQL.
"""

from __future__ import annotations

import json
from functools import cache

from semantic_layer.semantic_model import SemanticModel, load_model


def labels(model: SemanticModel) -> dict[str, dict[str, dict[str, str]]]:
    """``{"metrics": {id: {zh, en, format}}, "dimensions": {name: {zh, en}}}``; grains count as dimensions."""
    dimensions = {d.name: {"zh": d.name_zh, "en": d.name_en} for d in model.dimensions.values()}
    time = model.time_dimension
    dimensions[time.name] = {"zh": time.name_zh, "en": time.name_en}
    dimensions.update({g.name: {"zh": g.name_zh, "en": g.name_en} for g in time.grains})
    metrics = {m.id: {"zh": m.name_zh, "en": m.name_en, "format": m.format} for m in model.metrics.values()}
    return {"metrics": metrics, "dimensions": dimensions}


@cache
def default_labels_json() -> bytes:
    """The labels of the default model as JSON, built once per process (loading the model takes ~0.4 s)."""
    return json.dumps(labels(load_model()), ensure_ascii=False).encode()
