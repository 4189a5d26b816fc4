"""Replenishment recommendations per SKU x warehouse: censored demand, seasonality and promotions,
supplier lead times, ABC service targets, reorder points and order quantities, and the action."""

from tools.replenishment.tool import Arguments, ReplenishmentTool

__all__ = ["Arguments", "ReplenishmentTool"]
