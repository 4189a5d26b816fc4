"""`chatbi mcp`: the MCP server over stdio, for Claude Desktop, Cursor or an agent of your own.

stdout carries the protocol, so everything this command says goes to stderr. The caller is fixed
here, once: the demo admin without ``--config``, else the configured ``--user`` with their role and
row filters, exactly as their API key would make them on ``/v1/ask``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from api.console import fail

if TYPE_CHECKING:
    from agent.llm.config import PlannerChoice
    from api.server.auth import Caller


def _caller(config: Path | None, user: str | None) -> Caller:
    """The demo admin, or the named user of the server config (refused if they could ask nothing)."""
    from api.server.auth import DEMO_CALLER, Caller, user_problem
    from api.server.config import ConfigError, load_config
    from semantic_layer.semantic_model import load_model

    if config is None:
        if user is not None:
            fail("--user needs --config: the users and their roles are in the server config")
        return DEMO_CALLER
    if user is None:
        fail("--config needs --user: name the configured user this MCP server answers as")
    try:
        users = load_config(config).users
    except ConfigError as exc:
        fail(str(exc))
    found = next((u for u in users if u.name == user), None)
    if found is None:
        fail(f"no user '{user}' in {config} (users: {', '.join(u.name for u in users) or 'none'})")
    problem = user_problem(found, load_model())
    if problem:
        fail(problem)
    return Caller(name=found.name, principal=found.principal)


def mcp(
    model: Path | None = typer.Option(
        None, "--model", help="A model folder of your own, as `chatbi --model DIR` (default: the bundled demo model)."
    ),
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    config: Path | None = typer.Option(
        None, "--config", help="Server config YAML (users, roles, stores); needs --user. Without it: demo admin."
    ),
    user: str | None = typer.Option(None, "--user", help="The configured user every tool answers as."),
    planner: str = typer.Option(
        "auto", "--planner", help="For the ask tool: auto (the LLM planner when configured), embedded or llm."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every query on the database: no result cache."),
) -> None:
    """Serve the governed metrics over MCP on stdio. Without --config every tool answers as the demo admin
    (all metrics, all stores); with --config and --user, as that user: their role and row filters apply."""
    import sys

    from agent.assistant import Assistant
    from api.mcp.server import build_server
    from semantic_layer.engine import EngineError

    if model is not None:
        from api.cli import main

        main(model)  # checks the folder and makes it the model of every load_model(), as the global option does
    if planner not in ("auto", "embedded", "llm"):
        fail(f"--planner expects auto, embedded or llm, got '{planner}'")
    caller = _caller(config, user)
    if engine_url is None and not db.is_file():
        fail(f"database not found: {db} (build one with: chatbi demo build --db {db})")
    try:
        assistant = Assistant.open(engine_url or db, planner=cast("PlannerChoice", planner), cache=not no_cache)
    except (EngineError, ValueError) as exc:
        fail(str(exc))
    who = "DEMO MODE: every tool answers as admin" if config is None else f"as {caller.name} ({caller.principal.role})"
    print(f"chatbi MCP server on stdio, {engine_url or db}; {who}", file=sys.stderr)
    try:
        build_server(assistant, caller).run("stdio")
    finally:
        assistant.close()


def register(app: typer.Typer) -> None:
    """Add `mcp` to the `chatbi` command."""
    app.command("mcp")(mcp)
