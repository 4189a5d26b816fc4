"""The words of the governed model a question may use: metric and dimension names, synonyms, grains.

Read from the semantic model, never listed in code, so that a metric added to the YAML is
askable at once. A phrase that names two metrics (周转: 库存周转率 or 库存周转天数) keeps
both, and the planner asks which one is meant.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from agent.phrases import Phrases
from semantic_layer.master_data import MasterData
from semantic_layer.phrase_index import Match, PhraseIndex
from semantic_layer.semantic_model import SemanticModel

TermKind = Literal["metric", "dimension", "grain", "event", "attribute", "member"]


@dataclass(frozen=True, slots=True)
class Term:
    kind: TermKind
    value: str


class Vocabulary:
    def __init__(
        self,
        model: SemanticModel,
        phrases: Phrases | None = None,
        labelled: Mapping[str, Sequence[tuple[str, ...]]] | None = None,
    ) -> None:
        self.model = model
        self.phrases = phrases or Phrases.load(model)
        self.roles = self.phrases.roles
        self.index: PhraseIndex[Term] = PhraseIndex()
        self.events: PhraseIndex[Term] = PhraseIndex()
        for event in model.events:
            for phrase in (event.name_zh, event.name_en, *event.synonyms):
                self.events.add(phrase, Term("event", event.id))
        for metric in model.metrics.values():
            for phrase in (metric.id, metric.name_zh, metric.name_en, *metric.synonyms):
                self.index.add(phrase, Term("metric", metric.id))
        for grain in model.time_dimension.grains:
            for phrase in (f"按{grain.name_zh}", f"by {grain.name_en}", *grain.synonyms):
                self.index.add(phrase, Term("grain", grain.name))
        for dim in model.dimensions.values():
            for phrase in (dim.name, dim.name_zh, dim.name_en, *dim.synonyms, *dim.name_zh.split("/")):
                self.index.add(phrase, Term("dimension", dim.name))
            for attribute in dim.attributes:  # "账期" of suppliers and of customers: "supplier.payment_terms_days"
                for phrase in (attribute.name, attribute.name_zh, attribute.name_en, *attribute.synonyms):
                    self.index.add(phrase, Term("attribute", f"{dim.name}.{attribute.name}"))
            if dim.index is None:  # members master data does not index (customer_type: 经销商)
                for member in dim.members:
                    for phrase in (member.code, member.name_zh, member.name_en, *member.synonyms):
                        self.index.add(phrase, Term("member", f"{dim.name}.{member.code}"))
        for dimension, members in (labelled or {}).items():  # customers, suppliers: from the warehouse
            for key, *names in members:
                for phrase in dict.fromkeys(n for n in names if n):
                    self.index.add(phrase, Term("member", f"{dimension}.{key}"))
        self._metric_phrases = [p for p in self.index.phrases() if any(t.kind == "metric" for t in self.index.get(p))]

    def find(self, text: str) -> list[Match[Term]]:
        return self.index.find(text)

    def find_events(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, event id) of each event of the model's calendar the text names."""
        return [(m.start, m.end, m.values[0].value) for m in self.events.find(text)]

    def metric_phrases(self) -> list[str]:
        return list(self._metric_phrases)

    def metrics_named(self, phrase: str) -> list[str]:
        return [t.value for t in self.index.get(phrase) if t.kind == "metric"]

    def metric_suggestions(self, word: str, limit: int = 3) -> list[str]:
        """Metric ids whose names look like ``word`` ("净利润" -> gross_profit), best first."""
        found: list[str] = []
        for phrase, _score, _ in process.extract(
            word, self._metric_phrases, scorer=fuzz.partial_ratio, score_cutoff=60, limit=12
        ):
            for term in self.index.get(phrase):
                if term.kind == "metric" and term.value not in found:
                    found.append(term.value)
        return found[:limit]


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def detect_language(question: str, master: MasterData | None = None) -> Literal["zh", "en"]:
    """Chinese if any Chinese remains once member names (SKUs, stores) are set aside.

    "What was the GMV of 水润面膜10片装?" is English: the product's name is not the
    user's choice of language. A question with no words at all is answered in Chinese.
    """
    text = question
    if master is not None:
        for mention in reversed(master.find_mentions(question)):
            text = text[: mention.start] + " " + text[mention.end :]
    for candidate in (text, question):  # nothing but names left: the names decide
        if any(is_cjk(ch) for ch in candidate):
            return "zh"
        if any(ch.isascii() and ch.isalpha() for ch in unicodedata.normalize("NFKC", candidate)):
            return "en"
    return "zh"
