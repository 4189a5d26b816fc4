"""Retrieval over the governed catalog: the few metrics, dimensions, relations and tools a question needs.

The prompt carries what this finds instead of the whole model, so its size does not grow with the
model: the demo's 23 metrics and a 300-metric model cost the same tokens per question. It runs
offline in well under a millisecond per question:

- BM25 over each entry's words: ASCII words (lightly stemmed, ``gross_margin`` split in two) and, as
  Chinese has no spaces, Chinese characters and character bigrams. Names and synonyms count three
  times, descriptions once.
- A bonus for every name or synonym found verbatim in the question (the same longest-match
  dictionary lookup master data uses), so "毛利率" ranks gross_margin above everything that merely
  shares the character 率.
- Typos in English words ("margn") are mapped to the closest indexed word (rapidfuzz) first.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from semantic_layer.phrase_index import PhraseIndex, normalize
from semantic_layer.semantic_model import SemanticModel

Kind = Literal["metric", "dimension", "relation", "tool"]

_ASCII_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "was",
        "we",
        "what",
        "which",
        "with",
    ]
)
_IRREGULAR = {"sold": "sell", "sale": "sell"}
_NAME_WEIGHT = 3
_PHRASE_BONUS = 6.0
_FUZZY_CUTOFF = 80.0
_K1, _B = 1.2, 0.75


@dataclass(frozen=True)
class Entry:
    """One thing the catalog can return: its names (matched verbatim too) and its descriptive words."""

    kind: Kind
    key: str
    names: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float


def terms(text: str) -> list[str]:
    """The index terms of ``text``: stemmed ASCII words, Chinese characters and character bigrams."""
    norm = normalize(text)
    out = [_stem(w) for w in _ASCII_WORD.findall(norm) if w not in _STOP]
    for run in _CJK_RUN.findall(norm):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _stem(word: str) -> str:
    """Plural and -ing forms to one term ("margins" = "margin", "selling" = "sell"), and the forms of
    "sell" people ask with ("sold", "sales"); enough for names, not a linguist's stemmer."""
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return _IRREGULAR.get(word, word)


class CatalogIndex:
    """BM25 plus verbatim-name bonus over a fixed set of entries; build once, search per question."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self._tf: list[Counter[str]] = []
        self._phrases: PhraseIndex[int] = PhraseIndex()
        for i, entry in enumerate(self.entries):
            counts: Counter[str] = Counter(terms(entry.text))
            for name in entry.names:
                for term in terms(name):
                    counts[term] += _NAME_WEIGHT
                self._phrases.add(name, i)
            self._tf.append(counts)
        self._lengths = [sum(c.values()) for c in self._tf]
        self._average = sum(self._lengths) / max(len(self._lengths), 1)
        df: Counter[str] = Counter(t for counts in self._tf for t in counts)
        n = len(self.entries)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._ascii_vocabulary = [t for t in self._idf if t.isascii() and len(t) >= 4]

    @classmethod
    def from_model(cls, model: SemanticModel, tools: Mapping[str, str] | None = None) -> CatalogIndex:
        """Metrics, dimensions, the model's relations, and ``tools`` (name -> description). Time grains are
        left out: the query schema lists them, and 上个月 would otherwise retrieve "month"."""
        entries: list[Entry] = []
        for m in model.metrics.values():
            names = (m.id, m.name_zh, m.name_en, *m.synonyms)
            entries.append(Entry("metric", m.id, names, f"{m.description_zh} {m.description_en} {m.domain}"))
        for d in model.dimensions.values():
            members = " ".join(f"{x.code} {x.name_zh} {x.name_en} {' '.join(x.synonyms)}" for x in d.members)
            entries.append(Entry("dimension", d.name, (d.name, d.name_zh, d.name_en, *d.synonyms), members))
        for e in model.entities.values():
            words = f"{e.description} {' '.join(e.columns)}"
            entries.append(Entry("relation", e.table, (e.table, e.name), words))
        for name, description in (tools or {}).items():
            entries.append(Entry("tool", name, (name,), description))
        return cls(entries)

    def search(self, text: str, *, kinds: Iterable[Kind] | None = None, limit: int | None = 8) -> list[Hit]:
        """The best ``limit`` (None: all) entries of ``kinds`` for ``text``, best first; only entries that match."""
        wanted = set(kinds) if kinds is not None else None
        query = self._with_typos_fixed(terms(text))
        scores: dict[int, float] = {}
        for i, counts in enumerate(self._tf):
            if wanted is not None and self.entries[i].kind not in wanted:
                continue
            score = self._bm25(query, counts, self._lengths[i])
            if score > 0:
                scores[i] = score
        for match in self._phrases.find(text):
            for i in set(match.values):
                if wanted is None or self.entries[i].kind in wanted:
                    scores[i] = scores.get(i, 0.0) + _PHRASE_BONUS * (1 + len(match.text) / 8)
        best = sorted(scores.items(), key=lambda item: -item[1])[:limit]
        return [Hit(self.entries[i], round(s, 3)) for i, s in best]

    def _bm25(self, query: list[str], counts: Counter[str], length: int) -> float:
        score = 0.0
        for term in query:
            tf = counts.get(term)
            if tf:
                norm = tf + _K1 * (1 - _B + _B * length / self._average)
                score += self._idf[term] * tf * (_K1 + 1) / norm
        return score

    def _with_typos_fixed(self, query: list[str]) -> list[str]:
        out = []
        for term in query:
            if term.isascii() and len(term) >= 4 and term not in self._idf and self._ascii_vocabulary:
                found = process.extractOne(term, self._ascii_vocabulary, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
                term = found[0] if found else term
            out.append(term)
        return out
