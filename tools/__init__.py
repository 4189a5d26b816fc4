"""Analysis tools (replenishment, elasticity, cash conversion cycle) that read through the semantic layer."""
