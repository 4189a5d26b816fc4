"""`chatbi feedback list` and `certify`: what users said about answers (thumbs and comments from the
widget, the bots, the API), and turning a reviewed answer into a verified question.

Feedback lives in the answer store under ``$CHATBI_HOME`` (agent/answer_store.py), written by
``chatbi serve``; this command reads the same file, so run it with the server's ``CHATBI_HOME``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api.console import fail

feedback_app = typer.Typer(help="Feedback on answers (thumbs up/down, comments).", no_args_is_help=True)


@feedback_app.command("list")
def list_feedback(
    rating: str | None = typer.Option(None, "--rating", help="Only up or only down."),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="At most this many, newest first."),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON array: each with question, conversation, plan, SQL, user, role and store."
    ),
) -> None:
    """The latest feedback, newest first: rating, comment, who (user, role, store), the question and where."""
    if rating not in (None, "up", "down"):
        fail(f"--rating expects up or down, got '{rating}'")
    from agent.answer_store import AnswerStore, default_path
    from agent.conversation_store import StoreError

    if not default_path().is_file():
        if as_json:
            typer.echo("[]")
        else:
            typer.echo(f"no feedback yet (none kept in {default_path()})")
        return
    try:
        store = AnswerStore(default_path())
        items = store.feedback(rating=rating, limit=limit)  # type: ignore[arg-type]
    except StoreError as exc:
        fail(str(exc))
        return
    store.close()
    if as_json:
        typer.echo(json.dumps([f.model_dump(mode="json") for f in items], ensure_ascii=False))
        return
    if not items:
        typer.echo("no feedback" + (f" rated {rating}" if rating else ""))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for header in ("when (UTC)", "", "comment", "question", "user", "role", "via"):
        table.add_column(header)
    for f in items:
        who = f.role + (f" {f.store}" if f.store else "")
        table.add_row(
            f.created_at.strftime("%Y-%m-%d %H:%M"), "👍" if f.rating == "up" else "👎", f.comment or "",
            f.question, f.user, who, f.channel,
        )  # fmt: skip
    Console().print(table)


@feedback_app.command("certify")
def certify_feedback(
    feedback_id: int = typer.Argument(..., help="The feedback's id (`chatbi feedback list`)."),
    question: str | None = typer.Option(
        None,
        "--question",
        help="The canonical wording to store (default: the question as asked, kept as a phrasing too).",
    ),
    user: str = typer.Option(..., "--user", help="Who verifies the answer (stored as verified_by)."),
    role: str = typer.Option("admin", "--role", help="The verifier's role: admin, or one granted certify in roles."),
    note: str | None = typer.Option(None, "--note", help="Why the answer is right, for the next reader."),
    db: Path = typer.Option(
        Path("chatbi.duckdb"), "--db", help="The warehouse the answer came from (its reference date dates the plan)."
    ),
) -> None:
    """Store the plan of the answer that feedback is about as a verified question in the model folder
    (planner/verified.yaml): both planners then answer its phrasings with it, marked verified."""
    from agent.answer_store import AnswerStore, default_path
    from agent.conversation_store import StoreError
    from agent.verified import reads_as_follow_up
    from api.verified_cli import open_embedded, store_verified

    if not default_path().is_file():
        fail(f"no feedback kept in {default_path()} (run with the server's CHATBI_HOME)")
    try:
        store = AnswerStore(default_path())
        found = [f for f in store.feedback() if f.id == feedback_id]
        store.close()
    except StoreError as exc:
        fail(str(exc))
        return
    if not found:
        fail(f"no feedback with id {feedback_id} (`chatbi feedback list` shows them)")
    item = found[0]
    plan = item.plan
    if plan is None:
        fail(f"feedback {feedback_id} is about an answer without a plan: nothing to certify")
        return
    if not db.is_file():
        fail(f"database not found: {db}")
    # the warehouse's reference date, as the answer read it: the plan's dates are relative to it
    assistant = open_embedded(db)
    try:
        today, model = assistant.today, assistant.model
    finally:
        assistant.close()
    canonical = question or item.question
    phrasings = [item.question] if question and not reads_as_follow_up(item.question) else []
    entry = store_verified(model, canonical, plan, user, role, today=today, phrasings=phrasings, note=note)
    typer.echo(f"verified: {' | '.join(entry.phrasings)} (by {entry.verified_by}, from feedback {feedback_id})")


def register(app: typer.Typer) -> None:
    """Add `feedback` to the `chatbi` command."""
    app.add_typer(feedback_app, name="feedback")
