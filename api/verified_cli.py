"""`chatbi verified list` and `chatbi verified add`: the model folder's verified questions.

`add` certifies what the embedded planner makes of a question, after showing it, so a person can
vouch for an answer straight from the terminal (the answer store's `feedback certify` certifies a
stored answer through the same :func:`store_verified`). Heavy modules load inside the commands.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from api.console import fail

if TYPE_CHECKING:
    from agent.assistant import Assistant
    from agent.plan import AttributePlan, QueryPlan
    from agent.verified import VerifiedQuestion
    from semantic_layer.semantic_model import SemanticModel

verified_app = typer.Typer(
    help="Verified questions: certified answers the planners use first (planner/verified.yaml of the model).",
    no_args_is_help=True,
)


@verified_app.command("list")
def verified_list(as_json: bool = typer.Option(False, "--json", help="Print the entries as one JSON list.")) -> None:
    """Show each verified question: its phrasings, its plan, who verified it and when."""
    from agent.llm.prompt import describe
    from agent.verified import VerifiedQuestions
    from semantic_layer.semantic_model import ModelError, load_model

    try:
        verified = VerifiedQuestions(load_model())
    except ModelError as exc:
        fail(str(exc))
        return
    entries = verified.entries()
    if as_json:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], ensure_ascii=False, indent=2))
        return
    if not entries:
        typer.echo(f"no verified questions in {verified.path}")
        return
    for number, entry in enumerate(entries, start=1):
        typer.echo(f"{number}. {entry.question}")
        for other in entry.phrasings[1:]:
            typer.echo(f"   also: {other}")
        typer.echo(f"   plan: {describe(entry.plan)}")
        typer.echo(
            f"   verified by {entry.verified_by} at {entry.verified_at.isoformat()} (data as of {entry.reference_date})"
        )
        if entry.note:
            typer.echo(f"   note: {entry.note}")


@verified_app.command("add")
def verified_add(
    question: str = typer.Option(..., "--question", help="The question to plan and certify, as a user asks it."),
    as_question: str | None = typer.Option(
        None, "--as-question", help="The canonical wording to store first (default: --question itself)."
    ),
    phrasing: list[str] = typer.Option([], "--phrasing", help="Another wording of the same question; repeatable."),
    user: str = typer.Option(..., "--user", help="Who verifies the answer (stored as verified_by)."),
    role: str = typer.Option("admin", "--role", help="The verifier's role: admin, or one granted certify in roles."),
    note: str | None = typer.Option(None, "--note", help="Why the answer is right, for the next reader."),
    db: Path = typer.Option(
        Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file the question is planned on."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan only; write nothing."),
) -> None:
    """Plan --question with the embedded planner, show the plan, and store it as a verified question."""
    from agent.llm.prompt import describe
    from agent.plan import AttributePlan, QueryPlan
    from agent.verified import may_certify

    if not db.is_file():
        fail(f"database not found: {db} (build one with: chatbi demo build --db {db})")
    assistant = open_embedded(db)
    try:
        if not may_certify(assistant.model, role):
            fail(f"role '{role}' may not certify answers (admin may, or a role with certify: true in roles)")
        today = assistant.today
        plan = assistant.plan_only(question, today=today)
    finally:
        assistant.close()
    if not isinstance(plan, QueryPlan | AttributePlan):
        fail(f"the embedded planner answers this with a {plan.kind}: nothing to certify ({describe(plan)})")
    typer.echo(f"plan: {describe(plan)}")
    if dry_run:
        return
    entry = store_verified(
        assistant.model, as_question or question, plan, user, role, today=today,
        phrasings=[*([question] if as_question else []), *phrasing], note=note,
    )  # fmt: skip
    typer.echo(f"verified: {' | '.join(entry.phrasings)} (by {entry.verified_by}, in {folder_of(assistant.model)})")


def open_embedded(db: Path) -> Assistant:
    """The assistant on ``db`` with the embedded planner alone, as certifying plans it (or fail with why not)."""
    from agent.assistant import Assistant
    from semantic_layer.engine import EngineError
    from semantic_layer.semantic_model import ModelError

    try:
        return Assistant.open(db, planner="embedded", cache=False, verified_first=False)
    except (EngineError, ModelError, ValueError) as exc:
        fail(str(exc))


def store_verified(
    model: SemanticModel,
    question: str,
    plan: QueryPlan | AttributePlan | dict[str, Any],
    user: str,
    role: str,
    *,
    today: dt.date,
    phrasings: list[str],
    note: str | None,
) -> VerifiedQuestion:
    """Make ``plan`` the verified answer to ``question`` in ``model``'s folder, or fail with why not:
    `verified add` and `feedback certify` differ only in where the plan comes from."""
    from agent.verified import CertifyError, certify
    from semantic_layer.semantic_model import ModelError

    try:
        return certify(
            folder_of(model), question, plan, user, role, today=today, phrasings=phrasings, note=note, model=model
        )
    except (CertifyError, ModelError) as exc:
        fail(str(exc))


def folder_of(model: SemanticModel) -> Path:
    """Where ``model`` was loaded from: its verified.yaml is written there."""
    from semantic_layer.semantic_model import MODEL_DIR

    return Path(model.folder or MODEL_DIR)


def register(app: typer.Typer) -> None:
    """Add `verified` to the `chatbi` command."""
    app.add_typer(verified_app, name="verified")
