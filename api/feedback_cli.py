"""`chatbi feedback list`: what users said about answers (thumbs and comments from the widget, the bots, the API).

Feedback lives in the answer store under ``$CHATBI_HOME`` (agent/answer_store.py), written by
``chatbi serve``; this command reads the same file, so run it with the server's ``CHATBI_HOME``.
"""

from __future__ import annotations

import json

import typer

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
    from api.cli import fail

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


def register(app: typer.Typer) -> None:
    """Add `feedback` to the `chatbi` command (`chatbi feedback certify` comes from elsewhere)."""
    app.add_typer(feedback_app, name="feedback")
