"""The one way a tool reads what no governed metric covers: a read the model declares (reads.yaml),
bound with the tool's values, narrowed to the asker's rows, made the warehouse's by the semantic
layer and run through the engine's guard."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from semantic_layer.engine import Engine, EngineError
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel
from semantic_layer.tool_reads import compile_tool_read

if TYPE_CHECKING:  # pandas only when a tool runs: a metric question's process never imports it
    import pandas as pd


@dataclass(frozen=True)
class Reader:
    """Where a tool's reads run and for whom (their role's row filters narrow every read)."""

    engine: Engine
    model: SemanticModel
    principal: Principal = field(default_factory=Principal)

    def frame(
        self, read: str, *, row_limit: int, timeout_s: float, what: str, **params: object
    ) -> tuple[pd.DataFrame, str]:
        """Rows of the model's read ``read`` with ``params`` as a frame, and the SQL that ran. A read
        that hits ``row_limit`` is an error: a tool computing on part of the rows would be wrong."""
        import pandas as pd

        tree = compile_tool_read(self.model, read, params, self.principal, self.engine.dialect)
        result = self.engine.execute(tree, row_limit=row_limit, timeout_s=timeout_s)
        if result.truncated:
            raise EngineError(f"{what}: a read hit its row limit of {row_limit:,}")
        frame = pd.DataFrame(result.rows, columns=result.columns)
        for column in frame.columns:  # PostgreSQL's and MySQL's numerics: computed on as floats
            if frame[column].dtype == "object" and frame[column].map(lambda v: isinstance(v, Decimal)).any():
                frame[column] = frame[column].map(lambda v: float(v) if isinstance(v, Decimal) else v).astype(float)
        return frame, tree.sql(dialect=self.engine.dialect)
