"""The input of ``run_analysis``: one analysis tool by name and its own typed Arguments.

Built from the tool registry, so the schema an MCP client sees is each tool's pydantic Arguments
model (descriptions, bounds and defaults included) behind a ``tool`` discriminator, and a tool added
to the registry is callable over MCP without a change here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from tools import registry


class AnalysisCall(BaseModel):
    """What every analysis call carries; each tool's subclass adds ``tool`` and its ``arguments``."""

    model_config = ConfigDict(extra="forbid")

    tool: str
    arguments: BaseModel


def analysis_request() -> Any:
    """The tagged union of every registered tool's call, for a tool function's annotation (the tools'
    modules are imported here, once, when the MCP server is built)."""
    calls = []
    for name in registry.NAMES:
        tool = registry.load(name)
        doc = (tool.Arguments.__doc__ or "").strip()
        tag: Any = Literal[name]  # the tool's name as the discriminator's value
        calls.append(
            create_model(
                f"{name}_call",
                __base__=AnalysisCall,
                __doc__=f"{name}: {doc}",
                tool=(tag, Field(description="The analysis to run.")),
                arguments=(tool.Arguments, Field(default_factory=tool.Arguments, description=doc)),
            )
        )
    return Annotated[Union[tuple(calls)], Field(discriminator="tool")]  # noqa: UP007 - a union of a runtime tuple
