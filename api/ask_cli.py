"""`chatbi ask` and `chatbi chat`: questions in Chinese or English from the terminal.

Only the embedded path is imported here (no LangChain, no FastAPI), so `chatbi ask`
starts fast; the assistant itself is imported inside the commands, and LangChain only when
the LLM planner is chosen (``--planner llm``, or ``auto`` with an LLM configured).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from api.console import fail, print_table

if TYPE_CHECKING:
    from agent.answer import Answer
    from agent.assistant import Assistant
    from agent.llm.config import PlannerChoice

_PLANNERS = ("embedded", "llm", "auto")
_PLANNER_HELP = "auto (default: the LLM planner when one is configured, else embedded), embedded (offline) or llm."
_ROLES_HELP = "admin | finance | marketing | store_manager (with --store)."
_NO_CACHE_HELP = "Run every query on the database: no result cache (answers then never say cached)."


def _open(db: Path, engine_url: str | None, planner: str, history: bool, cache: bool = True) -> Assistant:
    from agent.assistant import Assistant
    from agent.conversation_store import default_path
    from semantic_layer.engine import EngineError

    if planner not in _PLANNERS:
        fail(f"--planner expects embedded or llm (or auto), got '{planner}'")
    if engine_url is None and not db.is_file():
        fail(f"database not found: {db} (build one with: chatbi demo build --db {db})")
    try:
        return Assistant.open(
            engine_url or db,
            planner=cast("PlannerChoice", planner),
            conversations=default_path() if history else ":memory:",
            cache=cache,
        )
    except (EngineError, ValueError) as exc:
        fail(str(exc))
        raise


def _principal(role: str, store: str | None):  # noqa: ANN202 - a Principal, imported lazily
    from semantic_layer.query import Principal

    if role == "store_manager" and not store:
        fail("--role store_manager needs --store (e.g. --store st_sh01)")
    return Principal(role=role, store_id=store)


def _today(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"--today expects a date YYYY-MM-DD, got '{text}'")
        raise


def _show(answer: Answer) -> None:
    from rich.console import Console

    if answer.status == "answer" and answer.columns:
        from semantic_layer.semantic_model import load_model

        print_table(answer, load_model(), more_options=("--csv PATH", "--xlsx PATH", "--json"))
    else:
        Console().print(answer.text, highlight=False)


def _write_files(answer: Answer, question: str, csv_path: Path | None, xlsx_path: Path | None) -> None:
    """The answer's table as the files asked for (as the server's downloads); an answer without one says so."""
    if csv_path is None and xlsx_path is None:
        return
    if answer.status != "answer" or not answer.columns:
        flag = "--csv" if csv_path is not None else "--xlsx"
        fail(f"{flag}: this answer has no table to write (it is a {answer.status})", 1)
    from api.exports.table import to_csv, to_xlsx
    from semantic_layer.semantic_model import load_model

    model = load_model()
    for path, render in (
        (csv_path, lambda: to_csv(answer, model)),
        (xlsx_path, lambda: to_xlsx(answer, model, question)),
    ):
        if path is None:
            continue
        try:
            path.write_bytes(render())
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror or exc}", 1)
        typer.echo(f"wrote {path} ({len(answer.rows)} rows)", err=True)


def ask(
    question: str = typer.Argument(
        ..., help='The question, e.g. "上个月天猫的毛利率?" or "GMV by channel last month".'
    ),
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer object (DESIGN.md) as one JSON object."),
    role: str = typer.Option("admin", "--role", help=_ROLES_HELP),
    store: str | None = typer.Option(None, "--store", help="The store of a store_manager (e.g. st_sh01)."),
    session: str | None = typer.Option(
        None, "--session", help="Conversation id: follow-ups in later calls with the same id keep the context."
    ),
    today: str | None = typer.Option(
        None, "--today", help="Reference date for relative time words (default: the day after the latest order)."
    ),
    planner: str = typer.Option("auto", "--planner", help=_PLANNER_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=_NO_CACHE_HELP),
    csv_path: Path | None = typer.Option(
        None, "--csv", metavar="PATH", help="Also write the whole table as CSV (UTF-8, exact values)."
    ),
    xlsx_path: Path | None = typer.Option(
        None,
        "--xlsx",
        metavar="PATH",
        help="Also write an Excel workbook: formatted table and definitions (a replenishment answer: purchase orders "
        "per supplier).",
    ),
) -> None:
    """Ask one question in Chinese or English; answers with the number, a table and the definition used."""
    principal = _principal(role, store)
    reference = _today(today)
    from agent.conversation_store import StoreUnavailable
    from semantic_layer.semantic_model import ModelError

    assistant = _open(db, engine_url, planner, history=session is not None, cache=not no_cache)
    try:
        answer = assistant.ask(question, conversation_id=session, principal=principal, today=reference)
    except StoreUnavailable as exc:
        fail(f"session {session}: {exc}")
    except ModelError as exc:  # the planner's files, read when the planner is first built
        fail(str(exc))
    finally:
        assistant.close()
    if as_json:
        typer.echo(answer.to_json())
    else:
        _show(answer)
    _write_files(answer, question, csv_path, xlsx_path)
    if answer.status == "error":
        raise typer.Exit(1)


def chat(
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    role: str = typer.Option("admin", "--role", help=_ROLES_HELP),
    store: str | None = typer.Option(None, "--store", help="The store of a store_manager (e.g. st_sh01)."),
    session: str | None = typer.Option(None, "--session", help="Resume a conversation id (default: a new one)."),
    today: str | None = typer.Option(None, "--today", help="Reference date for relative time words."),
    planner: str = typer.Option("auto", "--planner", help=_PLANNER_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=_NO_CACHE_HELP),
) -> None:
    """An interactive conversation in the terminal: follow-ups keep the context. /new starts over, /quit ends."""
    from rich.console import Console

    console = Console()
    principal = _principal(role, store)
    reference = _today(today)
    from agent.conversation_store import StoreUnavailable
    from semantic_layer.semantic_model import ModelError

    assistant = _open(db, engine_url, planner, history=True, cache=not no_cache)
    conversation = session or uuid.uuid4().hex[:12]
    console.print(
        f"[bold]chatbi[/bold] · session {conversation} · 问我销售、库存、财务和营销的问题 / ask about sales, "
        "inventory, finance, marketing · /new /quit",
        highlight=False,
    )
    try:
        while True:
            try:
                line = console.input("[bold cyan]› [/bold cyan]").strip()
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if not line:
                continue
            if line in ("/quit", "/exit", "/q"):
                break
            if line == "/new":
                conversation = uuid.uuid4().hex[:12]
                console.print(f"[dim]new session {conversation}[/dim]")
                continue
            try:
                answer = assistant.ask(line, conversation_id=conversation, principal=principal, today=reference)
            except StoreUnavailable as exc:
                console.print(f"[red]{exc}[/red]")
                continue
            except ModelError as exc:  # the planner's files: every question would fail the same way
                fail(str(exc))
            _show(answer)
    finally:
        assistant.close()
    console.print(f"[dim]session {conversation} saved; resume with: chatbi chat --session {conversation}[/dim]")


def register(app: typer.Typer) -> None:
    """Add `ask` and `chat` to the `chatbi` command."""
    app.command("ask")(ask)
    app.command("chat")(chat)
