"""Where the LLM planner's endpoint, model and limits come from, without ever showing the key.

Sources, later ones winning: ``$CHATBI_HOME/llm.toml`` (or the file ``CHATBI_LLM_CONFIG`` names),
then ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and ``CHATBI_LLM_MODEL`` in the environment. The LLM
counts as configured only when a model is named *and* there is a key or a base URL: a stray
``OPENAI_API_KEY`` left for another tool must not quietly move chatbi onto a paid endpoint.

Pure stdlib + pydantic: ``--planner auto`` reads this on the embedded path too.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

PlannerChoice = Literal["embedded", "llm", "auto"]


class LLMConfigError(ValueError):
    """The configuration file is broken, or the LLM planner was asked for and is not configured."""


class LLMConfig(BaseModel):
    """One OpenAI-compatible endpoint and the limits the planner keeps to with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="The chat model, e.g. gpt-4o-mini, deepseek-chat, qwen-plus.")
    api_key: SecretStr | None = None
    base_url: str | None = Field(
        default=None, description="An OpenAI-compatible /v1 URL (DeepSeek, Qwen, vLLM, Ollama)."
    )
    #: Everything the LLM may take for one question before the embedded planner answers instead:
    #: 7 s, so that even `chatbi ask` from a cold start (about 2 s of imports) answers within 10 s.
    deadline_s: float = Field(default=7.0, gt=0, le=60)
    request_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="One HTTP request; the deadline still caps it."
    )
    max_retries: int = Field(
        default=2, ge=0, le=5, description="Retries on HTTP 429 and 5xx, with exponential backoff."
    )
    backoff_s: float = Field(default=0.5, ge=0, le=10, description="The first retry's wait; doubled for each next one.")
    max_calls: int = Field(
        default=4, ge=1, le=8, description="Model calls per question: look-ups, the plan, one repair."
    )
    streaming: bool = False
    temperature: float = Field(default=0.0, ge=0, le=2)
    narrate: bool = Field(
        default=False, description="Let the model word the answer (checked); one more call per answer."
    )
    sql_fallback: bool = Field(
        default=True, description="Allow guarded SELECTs for questions no metric query expresses."
    )

    def describe(self) -> str:
        """For messages and logs: the model and the endpoint, never the key."""
        where = self.base_url or "https://api.openai.com/v1"
        return f"{self.model} at {where} ({'key set' if self.api_key else 'no key'})"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$CHATBI_LLM_CONFIG``, else ``$CHATBI_HOME/llm.toml`` (``~/.chatbi/llm.toml``)."""
    env = os.environ if environ is None else environ
    if env.get("CHATBI_LLM_CONFIG"):
        return Path(env["CHATBI_LLM_CONFIG"])
    return Path(env.get("CHATBI_HOME") or Path.home() / ".chatbi") / "llm.toml"


def load_config(environ: Mapping[str, str] | None = None) -> LLMConfig | None:
    """The configuration, or None when no model (or no key and no base URL) is set anywhere."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    values: dict[str, object] = {}
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LLMConfigError(f"{path}: not a readable TOML file: {exc}") from None
    for variable, key in (
        ("OPENAI_API_KEY", "api_key"),
        ("OPENAI_BASE_URL", "base_url"),
        ("CHATBI_LLM_MODEL", "model"),
    ):
        if env.get(variable):
            values[key] = env[variable]
    if not values.get("model") or not (values.get("api_key") or values.get("base_url")):
        return None
    try:
        return LLMConfig.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LLMConfigError(f"LLM configuration ({path} and the environment): {problems}") from None


def choose_planner(choice: PlannerChoice, environ: Mapping[str, str] | None = None) -> LLMConfig | None:
    """The configuration to plan with, or None for the embedded planner.

    ``auto`` takes the LLM when one is configured; ``llm`` insists on it.
    """
    if choice == "embedded":
        return None
    config = load_config(environ)
    if config is None and choice == "llm":
        raise LLMConfigError(
            "no LLM configured: set CHATBI_LLM_MODEL and OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            f"endpoint), or write them to {config_path(environ)}"
        )
    return config
