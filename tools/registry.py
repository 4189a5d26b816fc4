"""The analysis tools by name, imported only when called: statsmodels and scipy stay out of
`chatbi ask` for questions that only need a number."""

from __future__ import annotations

import importlib

from tools.base import Tool

_TOOLS = {
    "replenishment": ("tools.replenishment", "ReplenishmentTool"),
    "elasticity": ("tools.elasticity", "ElasticityTool"),
    "ccc": ("tools.ccc", "CashCycleTool"),
}
NAMES = tuple(_TOOLS)


def load(name: str) -> Tool:
    """The tool called ``name``; KeyError if there is none."""
    module, cls = _TOOLS[name]
    tool: Tool = getattr(importlib.import_module(module), cls)()
    return tool
