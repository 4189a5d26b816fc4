"""The planner's phrase book from the model folder (``planner/phrases.yaml``): metric phrases,
fallbacks, metric-like words the model does not define, snapshot words and scope words.

They are domain words (which metric "能卖几天" asks for), so they live beside the model, not in
planner code: a phrase added there is askable at once. Loading checks that every metric named
exists, so a typo in the YAML fails at start-up instead of never matching.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from semantic_layer.semantic_model import MODEL_DIR, ModelError, SemanticModel

PHRASES_FILE = "planner/phrases.yaml"
# Python's \b treats Chinese characters as word characters, so "YoY呢" would have no boundary
# after "yoy". Patterns write \b and mean an ASCII word boundary.
_ASCII_BOUNDARY = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace(r"\b", _ASCII_BOUNDARY))


def _alternation(patterns: list[str]) -> re.Pattern[str] | None:
    return compile_pattern("|".join(f"(?:{p})" for p in patterns)) if patterns else None


class _MetricPhrase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
    patterns: list[str] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric_phrases: list[_MetricPhrase] = []
    metric_fallbacks: list[_MetricPhrase] = []
    unknown_metrics: list[str] = []
    snapshot_words: list[str] = []
    scope_words: list[str] = []


class Phrases:
    """Compiled patterns; ``None`` for a kind of phrase the file does not declare."""

    def __init__(self, data: _File, model: SemanticModel) -> None:
        for entry in (*data.metric_phrases, *data.metric_fallbacks):
            if entry.metric not in model.metrics:
                raise ModelError(f"{PHRASES_FILE}: metric '{entry.metric}' is not defined in the model")
        try:
            self.metric_phrases = tuple((_alternation(e.patterns), e.metric) for e in data.metric_phrases)
            self.metric_fallbacks = tuple((_alternation(e.patterns), e.metric) for e in data.metric_fallbacks)
            self.unknown_metrics = _alternation(data.unknown_metrics)
            self.snapshot_words = _alternation(data.snapshot_words)
            self.scope_words = _alternation(data.scope_words)
        except re.error as exc:
            raise ModelError(f"{PHRASES_FILE}: not a valid pattern: {exc}") from exc

    @classmethod
    def load(cls, model: SemanticModel, directory: Path | None = None) -> Phrases:
        """The phrase book of the model folder ``directory`` (default: the folder ``model`` was read from)."""
        return cls(_read((directory or model.folder or MODEL_DIR) / PHRASES_FILE), model)


@functools.lru_cache(maxsize=8)
def _read(path: Path) -> _File:
    if not path.exists():
        return _File()
    try:
        return _File.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ModelError(f"{PHRASES_FILE}: {exc}") from exc
