"""The ``verified`` eval suite: every verified question of the model folder as a regression case.

Each phrasing is a case; its gold is the certified plan's result, compiled by the semantic layer for
the eval's reference day and run on today's data. The assistant answers the cases with the verified
shortcut off (``Assistant.open(verified_first=False)``), or every case would pass by construction:
a case fails when the planner on its own no longer reaches the certified answer for that wording (a
user asking exactly it still gets the certified one; a rewording would not), which is what a change
to the planner, the phrase book or a phrasing edited into another question shows up as.
"""

from __future__ import annotations

import datetime as dt
import json

from agent.plan import AttributePlan, QueryPlan
from agent.verified import VerifiedQuestions, plan_for
from agent.vocabulary import detect_language
from evals.case_file import Case, CaseFileError, Expect, Family, Suite
from evals.dataset import REFERENCE_DAY
from semantic_layer.compiler import compile_attributes, compile_query
from semantic_layer.semantic_model import ModelError, SemanticModel

NAME = "verified"


def verified_suite(model: SemanticModel, today: dt.date = REFERENCE_DAY) -> tuple[Suite, list[str]]:
    """The suite, and the phrasings left out because their plan's dates cannot be read on ``today``."""
    try:
        verified = VerifiedQuestions(model)
    except ModelError as exc:
        raise CaseFileError(str(exc)) from None
    entries = verified.entries()
    if not entries:
        raise CaseFileError(f"{verified.path}: no verified questions (certify some with: chatbi verified add)")
    families: list[Family] = []
    skipped: list[str] = []
    for number, entry in enumerate(entries, start=1):
        groups: dict[str, tuple[str, list[str]]] = {}  # the phrasings that read one plan share a family
        for phrasing in entry.phrasings:
            plan = plan_for(entry, phrasing, today)
            if plan is None:
                skipped.append(phrasing)
                continue
            compiled = (
                compile_query(plan.query, model)
                if isinstance(plan, QueryPlan)
                else compile_attributes(plan.query, model)
            )
            key = json.dumps(plan.query.model_dump(mode="json"), sort_keys=True)
            groups.setdefault(key, (compiled.sql_for("duckdb"), []))[1].append(phrasing)
        for part, (sql, phrasings) in enumerate(groups.values(), start=1):
            family_id = f"verified-{number}" + (f".{part}" if len(groups) > 1 else "")
            families.append(
                Family(
                    id=family_id,
                    category="verified",
                    today=today,
                    expect=Expect(status="answer", sql=sql, order_matters=_ordered(entry.plan)),
                    cases=[Case(q=p, turns=None, lang=detect_language(p)) for p in phrasings],
                )
            )
    sources = {f.id: verified.path for f in families}
    return Suite(NAME, [verified.path], families, sources), skipped


def _ordered(plan: QueryPlan | AttributePlan) -> bool:
    """A ranking's order is part of its answer ("top 3"): compared in order."""
    return plan.query.order_by is not None and plan.query.limit is not None
