"""The functions the model may call, with JSON schemas generated from the plan types themselves.

Answers are plans: ``query_metrics`` takes a :class:`~agent.plan.QueryPlan`, ``ask_clarification`` a
:class:`~agent.plan.Clarify` (options that run metric queries), ``refuse`` a
:class:`~agent.plan.Refuse`, ``run_sql`` a :class:`~agent.plan.SqlPlan`, and each analysis tool its
own pydantic ``Arguments`` (loaded through the tool registry, so tools being written elsewhere join
when they exist). Two look-ups help the model fill them: ``search_catalog`` and ``resolve_members``.

Schemas are compacted for the prompt (titles, null branches, descriptions past their first sentence
and the fields a model must never fill, ``kind`` and ``note``, removed): tool definitions are
prompt tokens on every call.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from agent.plan import Clarify, ClarifyOption, QueryPlan, Refuse, SqlPlan, ToolCall

log = logging.getLogger("chatbi.llm")
#: Where a description's first sentence ends ("e.g. gmv" does not end one).
_SENTENCE_END = re.compile(r"(?<=[.。])\s+(?=[A-Z])")

#: Fields of the plan types that are ours to set, never the model's (a model-written note would
#: be shown to the user verbatim; a model-written verification would claim a certification).
PLANNER_FIELDS = ("kind", "note", "verified")
SEARCH, RESOLVE = "search_catalog", "resolve_members"
QUERY, CLARIFY, REFUSE, SQL = "query_metrics", "ask_clarification", "refuse", "run_sql"


class SearchCatalog(BaseModel):
    """Look up governed metrics, dimensions, relations (tables) and analysis tools by words."""

    query: str = Field(description="Words in Chinese or English, e.g. '毛利率 渠道' or 'days of inventory'.")


class ResolveMembers(BaseModel):
    """Map what users call products, stores, cities, brands, categories, channels, warehouses or
    promotions to the member keys filters take."""

    mentions: list[str] = Field(min_length=1, max_length=10, description="Names as written, e.g. ['天猫', '面膜10P'].")


class _Option(BaseModel):
    label: str = Field(description=ClarifyOption.model_fields["label"].description)
    plan: dict[str, Any] = Field(description="What picking it runs: the arguments query_metrics takes.")


class AskClarification(BaseModel):
    """The schema view of :class:`Clarify` given to the model. An option's plan refers to the
    query_metrics schema instead of repeating it (some 450 prompt tokens); :func:`to_plan` still
    validates it as a :class:`QueryPlan`."""

    text: str = Field(description="The question back to the user, in the answer language.")
    options: list[_Option] = Field(min_length=2, max_length=8)


@dataclass(frozen=True)
class ToolSpec:
    """One function: its name, what it is for, and the pydantic type its arguments are."""

    name: str
    description: str
    arguments: type[BaseModel]
    reads: tuple[str, ...] = ()  # an analysis tool's governed metrics: the role must be granted them
    about: str = ""  # what retrieval matches a question against (an analysis tool's docstrings and words)
    hidden: tuple[str, ...] = ()  # fields left out of the schema: the plan types' kind and note

    def definition(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry."""
        parameters = compact_schema(self.arguments.model_json_schema(), self.hidden)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }


def core_tools(dialect: str, sql_fallback: bool) -> list[ToolSpec]:
    """The look-ups and the plan functions every question gets."""
    specs = [
        ToolSpec(SEARCH, "Search the catalog when the context lacks a metric, dimension or relation.", SearchCatalog),
        ToolSpec(RESOLVE, ResolveMembers.__doc__ or "", ResolveMembers),
        ToolSpec(QUERY, "The normal answer: one governed metric query; list words you did not use in ignored.",
                 QueryPlan, hidden=PLANNER_FIELDS),
        ToolSpec(CLARIFY, "Ask back when the question can mean several things; each option runs a query.",
                 AskClarification, hidden=PLANNER_FIELDS),
        ToolSpec(REFUSE, "Decline, with the reason and, for unknown metrics, metric ids to suggest.", Refuse,
                 hidden=PLANNER_FIELDS),
    ]  # fmt: skip
    if sql_fallback:
        description = (
            f"Last resort, only when no metric query can express the question (listing rows, say): one {dialect} "
            "SELECT over the relations listed. The answer is marked as not a governed metric."
        )
        specs.append(ToolSpec(SQL, description, SqlPlan, hidden=PLANNER_FIELDS))
    return specs


def analysis_tools(words: Mapping[str, str]) -> dict[str, ToolSpec]:
    """The analysis tools whose modules import, by name; a tool still being written is skipped. A tool is
    described by its class docstring, else its package's, else its arguments', and by the words people use
    for it (``words``: the model's phrase book's, by tool)."""
    from tools.registry import NAMES, load

    specs: dict[str, ToolSpec] = {}
    for name in NAMES:
        try:
            tool = load(name)
            arguments = tool.Arguments
        except Exception as exc:  # a missing or broken tool module must not take the planner down
            log.warning("analysis tool %s is not available to the LLM planner: %s", name, type(exc).__name__)
            continue
        package = sys.modules.get(".".join(type(tool).__module__.split(".")[:2]))
        docs = [d for d in (type(tool).__doc__, package.__doc__ if package else None, arguments.__doc__) if d]
        about = " ".join([*map(_first_paragraph, docs), words.get(name, "")]).strip()
        specs[name] = ToolSpec(name, _first_paragraph(docs[0] if docs else name), arguments, tuple(tool.reads), about)
    return specs


def to_plan(
    name: str, arguments: dict[str, Any], analysis: dict[str, ToolSpec]
) -> QueryPlan | ToolCall | Clarify | Refuse | SqlPlan:
    """The plan a terminal call stands for; pydantic's ValidationError (or KeyError) when it is not one."""
    if name in analysis:
        checked = analysis[name].arguments.model_validate(arguments)
        return ToolCall(tool=name, arguments=checked.model_dump(mode="json", exclude_defaults=True))
    given = _strip(arguments)
    if name == QUERY:
        return QueryPlan.model_validate(given)
    if name == CLARIFY:
        options = [
            {**_strip(o), "plan": _strip(o.get("plan"))} if isinstance(o, dict) else o
            for o in given.get("options") or []
        ]
        return Clarify.model_validate({**given, "options": options})
    if name == REFUSE:
        return Refuse.model_validate(given)
    if name == SQL:
        return SqlPlan.model_validate(given)
    raise KeyError(name)


def _strip(value: Any) -> Any:
    """A plan's arguments without ``kind`` and ``note``: those are the planner's to set."""
    return {k: v for k, v in value.items() if k not in PLANNER_FIELDS} if isinstance(value, dict) else value


def compact_schema(schema: dict[str, Any], hidden: tuple[str, ...] = ()) -> dict[str, Any]:
    """``schema`` without what costs tokens and tells the model nothing, nor the ``hidden`` fields."""
    return _compact(schema, hidden, top=True)


def _compact(node: Any, hidden: tuple[str, ...], top: bool = False) -> Any:
    if isinstance(node, list):
        return [_compact(x, hidden) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "additionalProperties") or (key == "default" and value is None):
            continue
        if key == "description" and isinstance(value, str):
            out[key] = _SENTENCE_END.split(_first_paragraph(value))[0]
        elif key == "properties":
            out[key] = {k: _compact(v, hidden) for k, v in value.items() if k not in hidden}
        elif key == "required":
            out[key] = [k for k in value if k not in hidden]
        elif key == "$defs":  # their class docstrings repeat what the fields say
            out[key] = {
                k: {x: y for x, y in _compact(v, hidden).items() if x != "description"} for k, v in value.items()
            }
        else:
            out[key] = _compact(value, hidden)
    if top:
        out.pop("description", None)  # the function's description says it
    branches = out.get("anyOf")
    if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
        (other,) = [b for b in branches if b != {"type": "null"}]
        out.pop("anyOf")
        out = {**other, **out}
    if out.get("required") == []:
        out.pop("required")
    return out


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())
