"""Dictionary matching of known phrases in free text, for Chinese, English and the two mixed.

Chinese has no spaces, so a question is not tokenised: at each position the longest known
phrase starting there is looked up. Master data (member names and aliases) and the planner's
vocabulary (metric and dimension names, synonyms) both find their words this way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Comparable form: NFKC (full-width -> ASCII), case-folded, whitespace collapsed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """A phrase found in a text: ``text[start:end]`` of the original text and what it names."""

    start: int
    end: int
    text: str
    values: tuple[T, ...]


class PhraseIndex(Generic[T]):
    """Normalised phrase -> the values it names (several when a phrase is shared)."""

    def __init__(self) -> None:
        self._index: dict[str, list[T]] = {}
        self._lengths: dict[str, list[int]] = {}

    def add(self, phrase: str | None, value: T) -> None:
        norm = normalize(phrase) if phrase else ""
        if not norm:
            return
        bucket = self._index.setdefault(norm, [])
        if value not in bucket:
            bucket.append(value)
        lengths = self._lengths.setdefault(norm[0], [])
        if len(norm) not in lengths:
            lengths.append(len(norm))
            lengths.sort(reverse=True)

    @classmethod
    def of(cls, index: Mapping[str, Sequence[T]], lengths: dict[str, list[int]]) -> PhraseIndex[T]:
        """An index over ``index`` (normalised phrase -> values, as :meth:`entries` gives it), not to be
        added to: how a compactly pickled index is made again without adding its phrases one by one."""
        made = cls()
        made._index = cast("dict[str, list[T]]", index)
        made._lengths = lengths
        return made

    def entries(self) -> tuple[Mapping[str, Sequence[T]], dict[str, list[int]]]:
        """Normalised phrase -> values, and the phrase lengths per first character (for :meth:`of`)."""
        return self._index, self._lengths

    def get(self, phrase: str) -> tuple[T, ...]:
        return tuple(self._index.get(normalize(phrase), ()))

    def phrases(self) -> list[str]:
        return list(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def find(self, text: str, accept: Callable[[tuple[T, ...]], tuple[T, ...]] | None = None) -> list[Match[T]]:
        """Longest non-overlapping matches in ``text``, in reading order: every phrase found is a
        candidate, the longest are taken first, and shorter ones fill what is left.

        ASCII phrases only match whole words ("jd" not inside "jdx"); Chinese ones match
        anywhere. ``accept`` narrows the values of a hit (empty = not a hit here).
        """
        norm, origin = _normalize_with_offsets(text)
        found: list[tuple[int, int, tuple[T, ...]]] = []
        for i, ch in enumerate(norm):
            for length in self._lengths.get(ch, ()):
                j = i + length
                if j > len(norm):
                    continue
                hits: Iterable[T] | None = self._index.get(norm[i:j])
                if hits and _whole_word(norm, i, j):
                    values = tuple(hits)
                    if accept is not None:
                        values = accept(values)
                    if values:
                        found.append((i, j, values))  # shorter ones too: "各仓库存金额" is 仓 + 库存金额
        taken = [False] * len(norm)
        chosen: list[Match[T]] = []
        for i, j, values in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
            if any(taken[i:j]):
                continue
            taken[i:j] = [True] * (j - i)
            start, end = origin[i], origin[j - 1] + 1
            chosen.append(Match(start, end, text[start:end], values))
        return sorted(chosen, key=lambda m: m.start)


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _whole_word(norm: str, i: int, j: int) -> bool:
    if _is_word_char(norm[i]) and i > 0 and _is_word_char(norm[i - 1]):
        return False
    return not (_is_word_char(norm[j - 1]) and j < len(norm) and _is_word_char(norm[j]))


def _normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """`normalize` applied per character, with the original index of every output character."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        piece = unicodedata.normalize("NFKC", ch).casefold()
        for p in piece:
            if p.isspace():
                if out and out[-1] != " ":
                    out.append(" ")
                    origin.append(i)
            else:
                out.append(p)
                origin.append(i)
    return "".join(out), origin
