"""The planner's phrase book from the model folder (``planner/phrases.yaml``): metric phrases,
fallbacks, metric-like words the model does not define, snapshot words, scope words, the roles
some dimensions play in how people ask (which dimension a shared name means, what "前10" lists) and
how people ask for each analysis tool (its triggers, the dimensions that scope it, its words).

They are domain words (which metric "能卖几天" asks for), so they live beside the model, not in
planner code: a phrase added there is askable at once. Loading checks that every metric named
exists, so a typo in the YAML fails at start-up instead of never matching.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.regex_cache import PatternSet
from semantic_layer.semantic_model import MODEL_DIR, ModelError, SemanticModel
from tools.registry import asks

PHRASES_FILE = "planner/phrases.yaml"
# Python's \b treats Chinese characters as word characters, so "YoY呢" would have no boundary
# after "yoy". Patterns write \b and mean an ASCII word boundary.
_ASCII_BOUNDARY = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"


def _alternation(patterns: list[str], compiled: PatternSet) -> re.Pattern[str] | None:
    source = "|".join(f"(?:{p})" for p in patterns)
    return compiled.pattern(source.replace(r"\b", _ASCII_BOUNDARY)) if patterns else None


class _MetricPhrase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
    patterns: list[str] = Field(min_length=1)


class _Outlets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimension: str
    words: str  # a member name ending in one of these names shops ("实体店", "offline stores")
    members_of: list[str] = []


class DimensionRoles(BaseModel):
    """How the planner uses some dimensions; every name is one of the model's dimensions."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mention_priority: list[str] = []  # a name shared by members of several dimensions: the one meant, first
    named_all: list[str] = []  # a name shared by several members of these names all of them ("双11")
    ranked_items: str | None = None  # what a ranking with a number and no breakdown lists ("销量前10")
    outlets: _Outlets | None = None  # "每家实体店": a breakdown by shops
    families: list[tuple[str, str]] = []  # (coarse, fine): "线上和线下" reads 线下 as the coarse member
    #: short member names people type: a near miss is a typo of a whole name (unset: every indexed dimension
    #: but the typo_within ones)
    typo_names: list[str] = []
    typo_within: list[str] = []  # long member names (products): a word is looked for inside them

    def priority(self, dimension: str) -> int:
        order = self.mention_priority
        return order.index(dimension) if dimension in order else len(order)

    def family_of(self, dimension: str) -> str:
        """The coarse dimension of ``dimension``'s family, or itself: a filter on either names the other's kind."""
        return next((coarse for coarse, fine in self.families if dimension in (coarse, fine)), dimension)

    def names_outlets(self, dimension: str, name: str) -> bool:
        outlets = self.outlets
        return (
            outlets is not None
            and dimension in outlets.members_of
            and re.search(outlets.words, name.casefold()) is not None
        )

    def dimensions(self) -> set[str]:
        named = {*self.mention_priority, *self.named_all, *(d for f in self.families for d in f)}
        named |= {*self.typo_names, *self.typo_within}
        if self.ranked_items:
            named.add(self.ranked_items)
        if self.outlets is not None:
            named |= {self.outlets.dimension, *self.outlets.members_of}
        return named


class _ToolScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    argument: str  # the tool's argument a filter on the dimension fills
    several: bool = False  # the argument takes a list of members (else: one member only)


class _ToolPhrases(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asks: dict[str, list[str]] = {}  # what a phrase asks of the tool -> its patterns
    scope: dict[str, _ToolScope] = {}  # dimension -> the argument its members fill
    words: str = ""  # how people ask for it, for the LLM planner's retrieval
    name: dict[str, str] = {}  # what the tool's answer is called, by language ("补货建议")
    rows: list[str] = []  # the dimensions its table lists rows of: a breakdown by another is asked about
    shows: list[str] = []  # the metrics its answer shows: another metric named beside it is asked about


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dimension_roles: DimensionRoles = DimensionRoles()
    suggested_metrics: list[str] = []
    metric_phrases: list[_MetricPhrase] = []
    metric_fallbacks: list[_MetricPhrase] = []
    unknown_metrics: list[str] = []
    snapshot_words: list[str] = []
    scope_words: list[str] = []
    tools: dict[str, _ToolPhrases] = {}


class Phrases:
    """Compiled patterns; ``None`` for a kind of phrase the file does not declare."""

    def __init__(self, data: _File, model: SemanticModel) -> None:
        for metric_id in [*(e.metric for e in (*data.metric_phrases, *data.metric_fallbacks)), *data.suggested_metrics]:
            if metric_id not in model.metrics:
                raise ModelError(f"{PHRASES_FILE}: metric '{metric_id}' is not defined in the model")
        #: what "which metric?" offers when a question names none: the file's, else the model's first
        self.suggested_metrics = tuple(data.suggested_metrics or list(model.metrics)[:6])
        unknown = sorted(data.dimension_roles.dimensions() - set(model.dimensions))
        if unknown:
            raise ModelError(f"{PHRASES_FILE}: dimension_roles name dimensions the model does not define: {unknown}")
        roles = data.dimension_roles
        if "typo_names" not in roles.model_fields_set:  # a model without a phrase book: any indexed name
            indexed = [d.name for d in model.dimensions.values() if d.index is not None]
            roles = roles.model_copy(update={"typo_names": [d for d in indexed if d not in roles.typo_within]})
        self.roles = roles
        compiled = PatternSet("phrases")  # compiled at once below, from the disk cache when it has them
        self.metric_phrases = tuple((_alternation(e.patterns, compiled), e.metric) for e in data.metric_phrases)
        self.metric_fallbacks = tuple((_alternation(e.patterns, compiled), e.metric) for e in data.metric_fallbacks)
        self.unknown_metrics = _alternation(data.unknown_metrics, compiled)
        self.snapshot_words = _alternation(data.snapshot_words, compiled)
        self.scope_words = _alternation(data.scope_words, compiled)
        _check_tools(data.tools, model)
        #: (tool, what is asked of it) -> the pattern of the phrases that ask it
        self.tool_asks = {
            (tool, ask): pattern
            for tool, entry in data.tools.items()
            for ask, patterns in entry.asks.items()
            if (pattern := _alternation(patterns, compiled)) is not None
        }
        #: tool -> dimension -> (the argument a filter on it fills, whether it takes several members)
        self.tool_scopes = {
            tool: {dimension: (s.argument, s.several) for dimension, s in entry.scope.items()}
            for tool, entry in data.tools.items()
        }
        self.tool_words = {tool: entry.words for tool, entry in data.tools.items()}
        self.tool_names = {tool: entry.name for tool, entry in data.tools.items()}
        self.tool_rows = {tool: tuple(entry.rows) for tool, entry in data.tools.items()}
        self.tool_shows = {tool: tuple(entry.shows) for tool, entry in data.tools.items()}
        try:
            compiled.load()  # here, so that an invalid pattern fails at start-up
        except re.error as exc:
            raise ModelError(f"{PHRASES_FILE}: not a valid pattern: {exc}") from exc

    @classmethod
    def load(cls, model: SemanticModel, directory: Path | None = None) -> Phrases:
        """The phrase book of the model folder ``directory`` (default: the folder ``model`` was read from)."""
        return cls(_read((directory or model.folder or MODEL_DIR) / PHRASES_FILE), model)


def _check_tools(tools: dict[str, _ToolPhrases], model: SemanticModel) -> None:
    """Tool and ask names are the planner's and the registry's; dimensions are the model's."""
    known = asks()
    for tool, entry in tools.items():
        if tool not in known:
            raise ModelError(f"{PHRASES_FILE}: tools: '{tool}' is not an analysis tool (there are {sorted(known)})")
        unknown = sorted(set(entry.asks) - set(known[tool]))
        if unknown:
            raise ModelError(f"{PHRASES_FILE}: tools: {tool} cannot be asked {unknown} (it can: {list(known[tool])})")
        unknown = sorted({*entry.scope, *entry.rows} - set(model.dimensions))
        if unknown:
            raise ModelError(
                f"{PHRASES_FILE}: tools: {tool}'s scope or rows name dimensions the model does not define: {unknown}"
            )
        unknown = sorted(set(entry.shows) - set(model.metrics))
        if unknown:
            raise ModelError(f"{PHRASES_FILE}: tools: {tool} shows metrics the model does not define: {unknown}")


def _read(path: Path) -> _File:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _File()
    return _read_version(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_version(path: Path, mtime_ns: int, size: int) -> _File:
    """One version of the file: an edited phrase book is read again, an unchanged one once; parsed
    from the disk cache when its bytes are unchanged (a cold start then imports no YAML parser)."""
    from semantic_layer.disk_cache import cached

    text = path.read_bytes()
    return cached("phrase-book", [text], lambda: _parse(text))


def _parse(text: bytes) -> _File:
    import yaml

    try:
        return _File.model_validate(yaml.safe_load(text.decode("utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise ModelError(f"{PHRASES_FILE}: {exc}") from exc
