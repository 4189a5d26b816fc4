"""The analysis tools by name, imported only when called: statsmodels and scipy stay out of
`chatbi ask` for questions that only need a number.

Each tool declares here what the planner can ask of it (replenishment's ``slow_list`` asks for the
slow-mover action); the phrases that ask it, the dimensions that scope it and the words people use
for it are domain words and live in the model folder's phrase book (``planner/phrases.yaml``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from tools.base import Tool


@dataclass(frozen=True)
class Entry:
    module: str
    cls: str
    #: What the planner can ask of the tool; the phrases that ask each are the model folder's.
    asks: tuple[str, ...]


_TOOLS: dict[str, Entry] = {
    "replenishment": Entry(
        "tools.replenishment", "ReplenishmentTool", ("replenish", "order_now", "slow_list", "overstock")
    ),
    "elasticity": Entry("tools.elasticity", "ElasticityTool", ("price",)),
    "ccc": Entry("tools.ccc", "CashCycleTool", ("overview", "ar_aging", "ap_aging")),
}
NAMES = tuple(_TOOLS)


def asks() -> dict[str, tuple[str, ...]]:
    """What each tool can be asked, by tool."""
    return {name: entry.asks for name, entry in _TOOLS.items()}


def load(name: str) -> Tool:
    """The tool called ``name``; KeyError if there is none."""
    entry = _TOOLS[name]
    tool: Tool = getattr(importlib.import_module(entry.module), entry.cls)()
    return tool
