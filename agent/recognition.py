"""How recognisers share one question: candidate spans, resolved longest-first in one place.

A recogniser looks at the words nobody has read yet and proposes spans, each with the fields
the reading gains from it. The recognisers of a stage compete: the longest span wins an
overlap (a tie goes to the recogniser declared first), the winners' characters are blanked so
no later stage reads them twice ("比上个月" is a comparison, not a period; "天猫旗舰店" is a
store, not the channel 天猫 and the word 店), and their updates make the next reading. What no
stage reads is the leftover the coverage rule asks about.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.reading import Parsed
from agent.time_expressions import TimeMatch
from agent.vocabulary import Vocabulary
from semantic_layer.master_data import MasterData

Update = Mapping[str, Any] | Callable[[Parsed, "Context"], Mapping[str, Any]]


class WorkText:
    """The question as normalised characters at their original offsets, with blanking.

    ``text`` is case-folded for matching; ``raw`` keeps the case, which the time parser
    needs ("in March" is a month, "march" may be a verb).
    """

    def __init__(self, question: str) -> None:
        self.times: list[TimeMatch] = []  # the time expressions read, where they stood
        self.compare_ends: list[int] = []  # where each comparison word ended, for "环比Q3"
        self.raw_chars: list[str] = []
        self.chars: list[str] = []
        for ch in question:
            norm = unicodedata.normalize("NFKC", ch)
            norm = norm if len(norm) == 1 else ch
            folded = norm.casefold()
            self.raw_chars.append(norm)
            self.chars.append(folded if len(folded) == 1 else norm)

    @property
    def text(self) -> str:
        return "".join(self.chars)

    @property
    def raw(self) -> str:
        return "".join(self.raw_chars)

    def blank(self, start: int, end: int) -> None:
        for i in range(start, end):
            self.chars[i] = " "
            self.raw_chars[i] = " "


@dataclass
class Context:
    """What every recogniser may read: the working text, the model's words, master data, today."""

    work: WorkText
    vocabulary: Vocabulary
    master: MasterData
    today: dt.date
    original: str  # the whole question, normalised, before any blanking


@dataclass(frozen=True)
class Span:
    """A recogniser's claim on ``text[start:end]`` (and on the ``also`` ranges: a marker before a
    word, the second half of "占…的比例"); ``start == end`` claims no characters (a cue)."""

    start: int
    end: int
    update: Update | None = None
    also: tuple[tuple[int, int], ...] = ()

    def ranges(self) -> tuple[tuple[int, int], ...]:
        return ((self.start, self.end), *self.also) if self.end > self.start else self.also


Recogniser = Callable[[Parsed, Context], Iterable[Span]]


@dataclass(frozen=True)
class Stage:
    """Recognisers that compete for the same words, and what the stage concludes once they are read."""

    name: str
    recognisers: tuple[Recogniser, ...]
    settle: Callable[[Parsed, Context], Mapping[str, Any]] | None = None


def run(stages: Iterable[Stage], reading: Parsed, context: Context) -> Parsed:
    for stage in stages:
        reading = _run_stage(stage, reading, context)
    return reading


def _run_stage(stage: Stage, reading: Parsed, context: Context) -> Parsed:
    proposed = [(i, span) for i, recognise in enumerate(stage.recognisers) for span in recognise(reading, context)]
    taken = _resolve(proposed)
    for _, span in taken:
        for start, end in span.ranges():
            context.work.blank(start, end)
    for _, span in sorted(taken, key=lambda t: (t[0], t[1].start)):
        update = span.update(reading, context) if callable(span.update) else span.update
        if update:
            reading = reading.model_copy(update=dict(update))
    if stage.settle is not None:
        update = stage.settle(reading, context)
        if update:
            reading = reading.model_copy(update=dict(update))
    return reading


def _resolve(proposed: list[tuple[int, Span]]) -> list[tuple[int, Span]]:
    """Longest first; among equals, the recogniser declared first, then the earlier span."""
    order = sorted(proposed, key=lambda t: (-(t[1].end - t[1].start), t[0], t[1].start))
    taken: list[tuple[int, Span]] = []
    claimed: list[tuple[int, int]] = []
    for index, span in order:
        ranges = span.ranges()
        if any(s < ce and cs < e for s, e in ranges for cs, ce in claimed):
            continue
        taken.append((index, span))
        claimed.extend(ranges)
    return taken


# -- table entries built from one pattern ---------------------------------------------------------


def consume(pattern: re.Pattern[str] | None, update: Update | None = None) -> Recogniser:
    """Every match of ``pattern`` is read (each with ``update``): function words that carry no slot,
    or a modifier that sets one."""

    def recognise(reading: Parsed, context: Context) -> list[Span]:
        if pattern is None:
            return []
        return [Span(m.start(), m.end(), update) for m in pattern.finditer(context.work.text)]

    return recognise


def cue(pattern: re.Pattern[str], field: str) -> Recogniser:
    """A word anywhere in the question that sets a flag and is read again later (why, each, follow-up)."""

    def recognise(reading: Parsed, context: Context) -> list[Span]:
        found = pattern.search(context.original.strip())
        return [Span(0, 0, {field: True})] if found else []

    return recognise
