"""The LLM planner: an OpenAI-compatible chat model fills the same typed plans as the embedded planner.

Only this module and :mod:`agent.llm.config` are light; everything else imports LangChain and is
loaded only when an LLM planner is built, so ``chatbi ask`` on the embedded path never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.llm.config import LLMConfig, LLMConfigError

if TYPE_CHECKING:
    from agent.llm.planner import LLMPlanner
    from semantic_layer.master_data import MasterData
    from semantic_layer.semantic_model import SemanticModel


def build_planner(model: SemanticModel, master: MasterData, config: LLMConfig, *, dialect: str) -> LLMPlanner:
    """The LLM planner on the configured endpoint; LLMConfigError when the LLM libraries are missing."""
    try:
        from agent.llm.planner import LLMPlanner
    except ImportError as exc:
        raise LLMConfigError(f"the LLM planner needs the llm extra (pip install 'chatbi[llm]'): {exc}") from None
    return LLMPlanner.from_config(model, master, config, dialect=dialect)
