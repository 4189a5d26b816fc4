"""The recognisers as one declared table: candidate spans, longest first, an immutable reading."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pydantic
import pytest

from agent import question
from agent.embedded_planner import EmbeddedPlanner
from agent.reading import Parsed
from agent.recognition import Context, Span, Stage, WorkText, consume, run
from agent.vocabulary import Vocabulary
from engines import connect
from engines.members import load_master_data
from semantic_layer.master_data import MasterData
from semantic_layer.semantic_model import load_model

TODAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def words(demo_db: Path) -> tuple[Vocabulary, MasterData]:
    model = load_model()
    engine = connect(demo_db)
    try:
        master = load_master_data(engine, model=model)
    finally:
        engine.close()
    return EmbeddedPlanner(model, master).vocabulary, master


def context_for(text: str, words: tuple[Vocabulary, MasterData]) -> Context:
    work = WorkText(text)
    return Context(work=work, vocabulary=words[0], master=words[1], today=TODAY, original=work.text)


def test_the_longest_span_wins_an_overlap_and_a_tie_goes_to_the_first_declared(
    words: tuple[Vocabulary, MasterData],
) -> None:
    short = consume(re.compile("前三"), {"scope_word": "short"})
    long = consume(re.compile("倒数前三"), {"scope_word": "long"})
    context = context_for("倒数前三的品类", words)
    assert run([Stage("t", (short, long))], Parsed(), context).scope_word == "long"
    assert context.work.text.strip() == "的品类"  # the winner's characters are read, the loser's too
    first = consume(re.compile("品类"), {"scope_word": "first"})
    second = consume(re.compile("品类"), {"scope_word": "second"})
    assert run([Stage("t", (first, second))], Parsed(), context_for("品类", words)).scope_word == "first"


def test_a_later_stage_never_reads_what_an_earlier_one_read(words: tuple[Vocabulary, MasterData]) -> None:
    seen: list[str] = []

    def spy(reading: Parsed, context: Context) -> list[Span]:
        seen.append(context.work.text)
        return []

    run([Stage("a", (consume(re.compile("上个月")),)), Stage("b", (spy,))], Parsed(), context_for("上个月GMV", words))
    assert seen == ["   gmv"]


def test_updates_see_the_reading_so_far_and_build_a_new_one(words: tuple[Vocabulary, MasterData]) -> None:
    def add(word: str) -> consume.__class__:  # type: ignore[valid-type]
        return consume(re.compile(word), lambda r, c: {"metrics": r.with_metric(word)})

    before = Parsed()
    after = run([Stage("m", (add("gmv"), add("aov")))], before, context_for("aov and gmv", words))
    assert after.metrics == ("gmv", "aov")  # in the order the recognisers are declared, then the text's
    assert before.metrics == ()


def test_the_reading_cannot_be_edited_in_place() -> None:
    with pytest.raises(pydantic.ValidationError):
        Parsed().share = True  # type: ignore[misc]


def test_a_new_modifier_is_one_row_in_the_table(words: tuple[Vocabulary, MasterData]) -> None:
    """A word the bundled table leaves unread becomes a modifier by adding a stage, nothing else."""
    text = "上个月各渠道GMV的权重"
    plain = run(question.STAGES, Parsed(), context_for(text, words))
    assert not plain.share
    extra = Stage("share (new word)", (consume(re.compile("权重"), {"share": True}),))
    stages = (*question.STAGES[:2], extra, *question.STAGES[2:])
    read = run(stages, Parsed(), context_for(text, words))
    assert read.share and read.metrics == ("gmv",) and read.dimensions == ("channel",)


def test_parse_reads_every_slot_into_the_typed_reading(words: tuple[Vocabulary, MasterData]) -> None:
    vocabulary, master = words
    read = question.parse("2025年Q4天猫各品类的GMV环比Q3,前3", vocabulary, master, TODAY)
    assert read.metrics == ("gmv",)
    assert read.dimensions == ("category",)
    assert [(f.dimension, f.members) for f in read.filters] == [("channel", ["tmall"])]
    assert read.compare == "pop" and read.period is not None and read.period.start == dt.date(2025, 10, 1)
    assert read.rank is not None and (read.rank.kind, read.rank.limit) == ("top", 3)
    assert read.leftover == ""
