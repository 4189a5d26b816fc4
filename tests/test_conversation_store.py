"""The conversation store keeps turns across processes and returns them in order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from agent.conversation_store import MAX_TURNS, ConversationStore
from agent.plan import QueryPlan, Refuse, Turn
from semantic_layer.query import MetricQuery


def turn(i: int) -> Turn:
    query = MetricQuery(metrics=["gmv"], period={"start": dt.date(2025, 1, 1), "end": dt.date(2025, 1, i)})
    return Turn(question=f"q{i}", language="zh", plan=QueryPlan(query=query), status="answer")


def test_turns_survive_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    store = ConversationStore(path)
    store.append("a", turn(1))
    store.append("a", Turn(question="hi", language="en", plan=Refuse(reason="out_of_scope", text="x"), status="refusal"))
    store.append("b", turn(2))
    store.close()
    again = ConversationStore(path)
    conversation = again.load("a")
    assert [t.question for t in conversation.turns] == ["q1", "hi"]
    assert conversation.last_query() is not None and conversation.last_query().period.end == dt.date(2025, 1, 1)
    assert again.load("missing").turns == []
    again.forget("a")
    assert again.load("a").turns == [] and len(again.load("b").turns) == 1


def test_only_the_latest_turns_are_read_back() -> None:
    store = ConversationStore(":memory:")
    for i in range(1, MAX_TURNS + 6):
        store.append("a", turn(min(i, 28)))
    turns = store.load("a").turns
    assert len(turns) == MAX_TURNS and turns[-1].question == f"q{min(MAX_TURNS + 5, 28)}"
