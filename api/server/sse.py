"""The answer as server-sent events, for clients that show progress (the web widget).

Events, always in this order, each ``event: NAME`` with one ``data:`` line of JSON:

- ``plan``: ``{"status", "language", "plan", "period", "definitions"}``: what was understood;
- ``sql``: ``{"sql"}``: the SQL that ran (null for clarifications and refusals);
- ``rows``: ``{"columns", "rows", "chart"}``: the table and the chart spec;
- ``text``: ``{"text", "options"}``: the answer in words, and clarification options;
- ``done``: the whole answer object with ``conversation_id``, as ``POST /v1/ask`` returns in JSON.

If the server fails after the stream has started, one ``error`` event ``{"error", "message"}``
ends it instead. A comment line opens the stream at once, so proxies and the widget know the
question was accepted while it is being answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def opening() -> str:
    return ": answering\n\n"


def plan_event(plan: Any, language: str, model: Any) -> str:
    """The ``plan`` event, sent as soon as the question is understood and before anything runs.

    Its ``status`` is what the plan leads to (a query or tool: ``answer``); ``done`` carries the
    final one, which is ``error`` if running it failed.
    """
    from agent.metric_runner import definitions
    from agent.plan import Clarify, QueryPlan, Refuse

    status = "clarification" if isinstance(plan, Clarify) else ("refusal" if isinstance(plan, Refuse) else "answer")
    body: dict[str, Any] = {"status": status, "language": language, "plan": None, "period": None, "definitions": []}
    if isinstance(plan, QueryPlan):
        query = plan.query
        body["plan"] = query.model_dump(mode="json")
        body["period"] = {"start": query.period.start.isoformat(), "end": query.period.end.isoformat()}
        lang: Literal["zh", "en"] = "en" if language == "en" else "zh"
        body["definitions"] = [d.model_dump() for d in definitions(query.metrics, model, lang)]
    elif not isinstance(plan, Clarify | Refuse):
        body["plan"] = plan.model_dump(mode="json", exclude={"note"})
    return event("plan", body)


def answer_events(payload: dict[str, Any], *, planned: bool = False) -> Iterator[str]:
    """The events of one answer, from its JSON form (``AskResponse``'s fields); without ``plan``
    when it was already sent."""
    if not planned:
        yield event("plan", {k: payload[k] for k in ("status", "language", "plan", "period", "definitions")})
    yield event("sql", {"sql": payload["sql"]})
    yield event("rows", {k: payload[k] for k in ("columns", "rows", "chart")})
    yield event("text", {k: payload[k] for k in ("text", "options")})
    yield event("done", payload)
