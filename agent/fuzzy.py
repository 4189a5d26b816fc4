"""Near misses of the model's vocabulary: the words a question left over, matched against member
names and metric names, so that a typo asks back (or is read as the one close name) instead of
being dropped.

Chinese typos are mostly homophones typed through a pinyin input method (面模 for 面膜), which
no character distance sees: two-character words differ in half their characters. So a Chinese
word is compared character by character, and a differing character that sounds the same costs
little. A word whose only differences are homophones is a *close* match; one other differing
character (or one missing or extra, in longer words) is a *candidate*. English words use an
edit ratio. A close match that is the only one may be applied (the answer says how it was read);
anything else is offered as options.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Literal, cast

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Levenshtein

from agent.vocabulary import Vocabulary, is_cjk
from semantic_layer.master_data import Kind, MasterData, Member
from semantic_layer.phrase_index import normalize

_HOMOPHONE_COST = 0.25
_CLOSE_RATIO = 88.0
_CANDIDATE_RATIO = 75.0
MAX_OPTIONS = 6


@dataclass(frozen=True, slots=True)
class Reading:
    """One way to read a leftover word: a member (as a filter) or a metric."""

    word: str
    surface: str  # the model's name it resembles
    kind: Literal["member", "metric"]
    member: Member | None = None
    metric: str | None = None
    close: bool = False


class NearMisses:
    def __init__(self, master: MasterData, vocabulary: Vocabulary) -> None:
        self.master = master
        self.vocabulary = vocabulary

    @functools.cached_property
    def _surfaces(self) -> list[tuple[str, Reading]]:
        out: list[tuple[str, Reading]] = []
        for kind in self.vocabulary.roles.typo_names:
            for member in self.master.members(cast(Kind, kind)):
                for name in {member.name, member.name_en} - {None}:
                    assert name is not None
                    out.append((normalize(name), Reading("", name, "member", member=member)))
        for phrase in self.vocabulary.metric_phrases():
            for metric_id in self.vocabulary.metrics_named(phrase):
                out.append((normalize(phrase), Reading("", phrase, "metric", metric=metric_id)))
        return out

    @functools.cached_property
    def _sku_text(self) -> tuple[str, list[int], list[Member]]:
        """Every SKU name normalised once, in one text (one name a line), with where each line starts:
        the containment fallback is then one substring search instead of a scan of every name."""
        lines: list[str] = []
        starts: list[int] = []
        owners: list[Member] = []
        at = 0
        kinds = self.vocabulary.roles.typo_within
        for member in (m for kind in kinds for m in self.master.members(cast(Kind, kind))):
            for name in (member.name, member.name_en):
                if name:
                    line = normalize(name)
                    starts.append(at)
                    owners.append(member)
                    lines.append(line)
                    at += len(line) + 1
        return "\n".join(lines), starts, owners

    def _skus_containing(self, norm: str) -> list[Member]:
        text, starts, owners = self._sku_text
        found: list[Member] = []
        at = text.find(norm)
        while at >= 0:
            member = owners[bisect.bisect_right(starts, at) - 1]
            if member not in found:
                found.append(member)
            at = text.find(norm, at + 1)
        return found

    @functools.cached_property
    def _by_length(self) -> dict[int, list[tuple[str, Reading]]]:
        """Surfaces by length: a near miss is within a few characters of the name it resembles."""
        out: dict[int, list[tuple[str, Reading]]] = {}
        for surface, reading in self._surfaces:
            out.setdefault(len(surface), []).append((surface, reading))
        return out

    def readings(self, word: str, with_skus: bool = True) -> list[Reading]:
        """The model's names ``word`` may be a typo of, close ones first; with ``with_skus``, when none
        is, the SKUs whose name contains it (never close: only options to offer)."""
        norm = normalize(word)
        if len(norm) < 2:
            return []
        found: dict[tuple, Reading] = {}
        spread = 1 if is_cjk(norm[0]) else 2 * len(norm) // 3 + 1  # beyond it no ratio reaches a candidate
        nearby = (p for n in range(len(norm) - spread, len(norm) + spread + 1) for p in self._by_length.get(n, ()))
        for surface, reading in nearby:
            close = _close(norm, surface)
            if close is None:
                continue
            key = (reading.kind, reading.metric, reading.member.kind if reading.member else None,
                   reading.member.key if reading.member else None)  # fmt: skip
            if key not in found or (close and not found[key].close):
                found[key] = Reading(word, reading.surface, reading.kind, reading.member, reading.metric, close)
        out = sorted(found.values(), key=lambda r: not r.close)
        if not out and with_skus:
            out = [Reading(word, m.name, "member", member=m) for m in self._skus_containing(norm)]
        return out[:MAX_OPTIONS]


def _close(word: str, surface: str) -> bool | None:
    """True: ``word`` differs from ``surface`` only by homophones (or a tiny English edit);
    False: a plausible typo; None: not similar."""
    if word == surface:
        return None  # an exact name would have been recognised: it is used some other way
    if all(is_cjk(ch) for ch in word):
        if not all(is_cjk(ch) for ch in surface):
            return None
        return _close_cjk(word, surface)
    if not word.isascii() or len(word) < 4:
        return None
    ratio = fuzz.ratio(word, surface)
    if OSA.distance(word, surface) <= 1 and min(len(word), len(surface)) >= 4:
        return True  # one letter wrong, missing, extra or two swapped: "msak", "jingdng", "marign"
    return False if ratio >= _CANDIDATE_RATIO else None


def _close_cjk(word: str, surface: str) -> bool | None:
    if len(word) == len(surface):
        cost = 0.0
        for a, b in zip(word, surface, strict=True):
            if a != b:
                cost += _HOMOPHONE_COST if _sound(a) == _sound(b) else 1.0
        if cost <= _HOMOPHONE_COST * 2 and cost < len(word) / 2:
            return True
        return False if cost <= 1.0 else None
    if min(len(word), len(surface)) >= 3 and abs(len(word) - len(surface)) == 1:
        return False if Levenshtein.distance(word, surface) == 1 else None
    return None


@functools.lru_cache(maxsize=4096)
def _sound(ch: str) -> str:
    # Imported here: pypinyin's dictionaries take ~0.3 s to load, and most questions never compare sounds.
    from pypinyin import lazy_pinyin

    return _FUZZY_INITIAL.sub(r"\1", _FUZZY_FINAL.sub(r"\1n", str(lazy_pinyin(ch)[0])))


# The fuzzy sounds pinyin input methods forgive (模糊音): zh/ch/sh typed as z/c/s, -ang/-eng/-ing as -an/-en/-in.
_FUZZY_INITIAL = re.compile(r"^([zcs])h")
_FUZZY_FINAL = re.compile(r"([aei])ng$")
