"""Read one question into a typed reading: the recognisers as one declared table.

Each row of ``STAGES`` is a stage: recognisers that propose candidate spans on the words not yet
read, resolved longest-first in one place (``agent.recognition``), then what the stage concludes.
The order of the stages is the order in which a reading depends on another: a comparison word
before the periods (so "比上个月" is not a period), periods before the event calendar (an event's
year is the time word before it), metric phrases before names (their words contain other names),
and modifiers that depend on the metrics (share, components) after them. A new modifier is one
row here and its support in the compiler. What no stage reads is ``leftover``: the words the
coverage rule asks about, which is how an unknown metric ("净利润") is noticed instead of
silently ignored.
"""

from __future__ import annotations

import datetime as dt
import re

from agent import cues, read_time, read_words
from agent.reading import Parsed
from agent.recognition import Context, Stage, WorkText, consume, cue, run
from agent.vocabulary import Vocabulary, is_cjk
from semantic_layer.master_data import MasterData

STAGES: tuple[Stage, ...] = (
    Stage("cues", (
        cue(cues.FOLLOW_UP, "follow_cue"), cue(cues.ADD_TO_PREVIOUS, "add_cue"), cue(cues.WHY, "why"),
        cue(cues.CHANGED, "why"), cue(cues.OUT_OF_SCOPE, "out_of_scope"), cue(cues.DISTRIBUTIVE, "distributive"),
    )),
    Stage("pasted context", (consume(cues.PASTED_CONTEXT),)),
    Stage("share of", (read_words.share_of,)),  # before names: "占总销量的比例" has no scope word 总
    Stage("scope", (read_words.scope_words,)),
    Stage("comparison", (read_time.comparison,)),
    Stage("periods", (read_time.periods,)),  # before snapshot words: "年初到现在" is a period
    Stage("period end", (read_time.period_end,)),
    Stage("growth", (read_time.growth,)),
    Stage("snapshot", (read_words.snapshot_words,)),
    Stage("events", (read_time.events,)),
    Stage("metric phrases", (read_words.metric_phrases, read_words.unknown_metrics)),
    Stage("own store", (consume(cues.OWN_STORE),)),
    Stage("date breakdown", (read_words.dimension_date,)),
    Stage(
        "names",
        (read_words.marked_breakdowns, read_words.members, read_words.terms),
        settle=read_words.settle_families,
    ),
    Stage("fallback metric", (read_words.metric_fallbacks,)),
    Stage("components", (read_words.components,)),
    Stage("share", (read_words.share_words,)),
    # after share words proper: "what share of GM" asks a ratio's share (refused), "GM %" is a unit
    Stage("share in English", (read_words.share_words_en,), settle=read_words.settle_share),
    Stage("ranking", (read_words.superlatives, read_words.numbered_rankings, read_words.rank_all)),
    Stage("latest first", (read_words.recent_first,), settle=read_time.settle_period_end),
    Stage("change", (consume(cues.CHANGED),)),  # before trend words: "怎么变长了" is a change, not "怎么变"
    Stage("function words", (
        consume(cues.TREND, {"trend": True}), consume(cues.WHY), consume(cues.FOLLOW_UP),
        consume(cues.ADD_TO_PREVIOUS), consume(cues.TOTAL), consume(cues.EACH),
    )),
)  # fmt: skip


def parse(question: str, vocabulary: Vocabulary, master: MasterData, today: dt.date) -> Parsed:
    """The reading of ``question``; ``today`` anchors relative time words."""
    work = WorkText(question)
    context = Context(work=work, vocabulary=vocabulary, master=master, today=today, original=work.text)
    reading = run(STAGES, Parsed(text=context.original), context)
    verbs = tuple(m.group(0).strip() for m in cues.AMOUNT_VERBS.finditer(work.text) if m.group(0).strip())
    return reading.model_copy(update={"leftover": " ".join(_leftover(work)), "amount_verbs": verbs})


def _leftover(work: WorkText) -> list[str]:
    """The words nobody read. Single characters between recognised words are grammar, except next
    to a filler character that is also part of names ("天喵", "精花"): the pair is kept and asked about."""
    text = work.text
    kept = cues.FILLER.sub(lambda m: " " * len(m.group(0)), text)
    words: list[str] = []
    for token in re.finditer(r"\S+", kept):
        start, end, word = token.start(), token.end(), token.group(0)
        if len(word) > 1:
            words.append(word)
            continue
        if not is_cjk(word):
            continue
        before, after = start - 1, end
        filler_neighbour = next(
            (i for i in (before, after) if 0 <= i < len(text) and kept[i] == " " and text[i] in cues.NAME_FILLER),
            None,
        )
        if filler_neighbour is not None:
            words.append(text[min(start, filler_neighbour)] + text[max(start, filler_neighbour)])
    return words


def wants_total(question: str) -> bool:
    return bool(cues.TOTAL.search(question.casefold()))


def wants_each(question: str) -> bool:
    return bool(cues.EACH.search(question.casefold()))
