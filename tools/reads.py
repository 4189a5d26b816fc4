"""The one way a tool reads what no governed metric covers: its SQL over the model's entities, made
the warehouse's by the semantic layer (checked against the model, renamed, in the engine's dialect)
and run through the engine's guard."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from semantic_layer.engine import Engine, EngineError
from semantic_layer.logical_sql import to_warehouse
from semantic_layer.semantic_model import SemanticModel


def read_frame(
    engine: Engine, model: SemanticModel, sql: str, *, row_limit: int, timeout_s: float, what: str
) -> tuple[pd.DataFrame, str]:
    """Rows of ``sql`` (DuckDB's dialect, logical names) as a frame, and the SQL that ran. A read
    that hits ``row_limit`` is an error: a tool computing on part of the rows would be wrong."""
    tree = to_warehouse(sql, model, engine.dialect)
    result = engine.execute(tree, row_limit=row_limit, timeout_s=timeout_s)
    if result.truncated:
        raise EngineError(f"{what}: a read hit its row limit of {row_limit:,}")
    frame = pd.DataFrame(result.rows, columns=result.columns)
    for column in frame.columns:  # PostgreSQL's and MySQL's numerics: computed on as floats
        if frame[column].dtype == "object" and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].map(lambda v: float(v) if isinstance(v, Decimal) else v).astype(float)
    return frame, tree.sql(dialect=engine.dialect)
