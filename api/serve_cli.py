"""`chatbi serve`: the HTTP API, the web widget and the chat bots, in one process or ``--workers N``.

FastAPI and uvicorn are imported inside the command, so the rest of `chatbi` starts without them.
"""

from __future__ import annotations

import ipaddress
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from api.console import fail

if TYPE_CHECKING:
    from agent.assistant import Assistant
    from agent.conversation_store import ConversationStore
    from api.server.config import ServerConfig
    from semantic_layer.semantic_model import SemanticModel

_PLANNERS = ("auto", "embedded", "llm")
#: Seconds an idle keep-alive connection stays open. uvicorn's default, 5 s, is also httpx's (and other
#: clients') idle expiry: a client reusing a connection just as the server closed it got a ReadError for a
#: question the server never saw. Longer than clients and proxies keep idle connections (httpx 5 s, nginx's
#: upstream keep-alive 60 s), so the client always closes first.
KEEP_ALIVE_S = 75
_LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _open(
    db: Path, planner: str, store: ConversationStore, cache: bool = True, tools: tuple[int, int] = (1, 1)
) -> tuple[Assistant, str]:
    """The assistant and a note on its planner; `auto` takes the LLM planner when it opens, else the embedded one.
    ``tools``: the analysis-tool slots and the queue behind them (--tool-slots, --tool-queue)."""
    from agent.assistant import Assistant
    from agent.tool_slots import ToolSlots
    from semantic_layer.engine import EngineError

    slots = ToolSlots(*tools)

    note = ""
    try:
        if planner == "auto":
            try:
                return Assistant.open(db, planner="llm", conversations=store, cache=cache, tool_slots=slots), "llm"
            except ValueError as exc:
                note = f" (no LLM planner: {exc})"
        kind: Literal["embedded", "llm"] = "llm" if planner == "llm" else "embedded"
        return Assistant.open(db, planner=kind, conversations=store, cache=cache, tool_slots=slots), kind + note
    except (EngineError, ValueError) as exc:
        fail(str(exc))
        raise


def _open_store(max_age_days: float | None) -> ConversationStore:
    """The conversation store at $CHATBI_HOME, checked writable before anything else starts."""
    from agent.conversation_store import ConversationStore, StoreError

    try:
        return ConversationStore(max_age_days=max_age_days)
    except StoreError as exc:
        fail(str(exc))
        raise


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def default_workers() -> int:
    """The cores this process may run on (a container's CPU set where there is one, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def serve(
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (demo mode: loopback only)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    config: Path | None = typer.Option(
        None, "--config", help="Server config YAML: users, API keys, roles, bots (default: $CHATBI_SERVER_CONFIG)."
    ),
    planner: str = typer.Option("auto", "--planner", help="auto (the LLM planner when configured), embedded or llm."),
    build_demo: bool = typer.Option(False, "--build-demo", help="Build the demo warehouse at --db first if missing."),
    keep_days: float | None = typer.Option(
        None,
        "--keep-conversations",
        min=0.001,
        metavar="DAYS",
        help="Forget conversation turns older than this (default: $CHATBI_CONVERSATION_MAX_AGE_DAYS, else 30).",
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every query on the database: no result cache."),
    tool_slots: int = typer.Option(
        1,
        "--tool-slots",
        min=1,
        help="Analysis-tool runs (replenishment, elasticity, cash cycle: seconds each) at once per worker; "
        "metric questions never wait for them.",
    ),
    tool_queue: int = typer.Option(
        1,
        "--tool-queue",
        min=0,
        help="Tool runs that may wait for a slot per worker; past that a tool question is answered at once "
        "with 'busy, ask again shortly' (status error, retry_after_s).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help=f"Processes serving the one port (default: the cores this machine gives us, {default_workers()} here; "
        "so 1 on a one-core machine). Each worker loads the model and master data itself; conversations and the "
        "bots' dedupe are shared through SQLite in $CHATBI_HOME, so any worker can take any request.",
    ),
) -> None:
    """Serve the HTTP API, the web widget (open the printed URL) and the Slack/DingTalk/Feishu bots."""
    from agent.conversation_store import default_path
    from api.server.config import ConfigError, load_config

    if planner not in _PLANNERS:
        fail(f"--planner expects auto, embedded or llm, got '{planner}'")
    try:
        server_config = load_config(config)
    except ConfigError as exc:
        fail(str(exc))
        raise
    if server_config.demo_mode and not is_loopback(host):
        fail(
            f"demo mode (no users configured) listens on loopback only, not on '{host}': every request is admin. "
            "Pass --config with users and API keys to listen on other addresses."
        )
    _check_phrase_book()
    store = _open_store(keep_days)
    if not db.is_file():
        if not build_demo:
            fail(f"database not found: {db} (build it with: chatbi demo build --db {db}, or add --build-demo)")
        from demo.build import BuildError
        from demo.build import build_demo as build

        try:
            typer.echo(build(db, progress=True))
        except BuildError as exc:
            fail(str(exc))
    count = workers or default_workers()
    if count == 1:
        assistant, planner_used = _open(db, planner, store, cache=not no_cache, tools=(tool_slots, tool_queue))
        banner = _banner(db, host, port, server_config, planner_used, store.max_age_days, count)
        try:
            _run(assistant, server_config, host, port, banner=banner)
        finally:
            assistant.close()
    else:
        store.close()  # each worker opens its own; this one only checked that the store works
        kind, note = _planner_for_workers(planner)
        _check_warehouse(db)
        from api.server.worker import worker_environment

        banner = _banner(db, host, port, server_config, kind + note, store.max_age_days, count)
        env = worker_environment(
            db, kind, config, keep_days, cache=not no_cache, tools=(tool_slots, tool_queue),
            duckdb_threads=max(1, default_workers() // count),
        )  # fmt: skip
        _run_workers(count, env, server_config, host, port, banner)
    typer.echo(f"chatbi serve stopped; conversations are kept in {default_path()}")


def _planner_for_workers(planner: str) -> tuple[Literal["embedded", "llm"], str]:
    """The planner every worker builds, chosen once here (as :func:`_open` chooses it) so that all agree."""
    from agent.llm.config import choose_planner

    if planner == "embedded":
        return "embedded", ""
    try:
        choose_planner("llm")
    except ValueError as exc:
        if planner == "llm":
            fail(str(exc))
        return "embedded", f" (no LLM planner: {exc})"
    return "llm", ""


def _check_phrase_book() -> None:
    """Read the model folder's planner phrase book once, so that a broken one stops the start with its reason
    instead of failing every worker's first question (the planner is built lazily)."""
    from agent.phrases import Phrases
    from semantic_layer.semantic_model import ModelError, load_model

    try:
        Phrases.load(load_model())
    except ModelError as exc:
        fail(str(exc))


def _check_warehouse(db: Path) -> None:
    """Open and close the warehouse once, so a file DuckDB cannot read stops the start with its reason."""
    from engines import connect
    from semantic_layer.engine import EngineError

    try:
        connect(db).close()
    except EngineError as exc:
        fail(str(exc))


def _banner(db: Path, host: str, port: int, config: ServerConfig, planner: str, keep_days: float,
            workers: int) -> str:  # fmt: skip
    from agent.conversation_store import default_path

    url = _url(host, port)
    if config.demo_mode:
        who = "DEMO MODE: no users configured, every request is admin; listening on loopback only"
    else:
        bots = [name for name in ("slack", "dingtalk", "feishu") if getattr(config, name) is not None]
        who = f"users: {len(config.users)} (API keys required)" + (f"; bots: {', '.join(bots)}" if bots else "")
    return "\n".join(
        [
            f"chatbi is serving {db} at {url}  (open it in a browser; API docs at {url}docs)",
            who,
            f"planner: {planner}; workers: {workers}; conversations: {default_path()} (turns kept {keep_days:g} days)",
        ]
    )


def _warn_about_users(config: ServerConfig, model: SemanticModel) -> None:
    from api.server.auth import user_problem

    for user in config.users:
        problem = user_problem(user, model)
        if problem:
            typer.secho(f"warning: {problem}; their requests get 403", err=True, fg=typer.colors.YELLOW)


def _run(assistant: Assistant, config: ServerConfig, host: str, port: int, banner: str) -> None:
    import uvicorn

    from api.server.app import create_app
    from api.server.services import Services
    from api.server.worker import configure_logging, start_background
    from api.shared_state import SharedStateError

    configure_logging()
    services = Services(assistant, config)
    try:
        app = create_app(services)
    except SharedStateError as exc:
        fail(str(exc))
    typer.secho(banner, fg=typer.colors.GREEN)
    for started in start_background(services):
        typer.echo(f"{started}: connecting with the configured app credentials")
    _warn_about_users(config, assistant.model)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal to the handler it found;
    # finding this one, `chatbi serve` goes on to close the warehouse and exits 0 (no "Aborted!", no -15).
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.run(
            app,
            host=host.strip("[]"),
            port=port,
            log_level="info",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


def _run_workers(count: int, env: dict[str, str], config: ServerConfig, host: str, port: int, banner: str) -> None:
    """uvicorn's supervisor: binds the port, spawns ``count`` workers (each builds the app from ``env``), restarts
    one that dies, and on SIGINT/SIGTERM stops them all, each finishing its requests in flight first."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from api.server.worker import FACTORY
    from semantic_layer.semantic_model import load_model

    os.environ.update(env)  # spawned workers inherit the environment, and nothing else of this process
    settings = uvicorn.Config(FACTORY, factory=True, host=host.strip("[]"), port=port, workers=count,
                              log_level="info", timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE_S)  # fmt: skip
    sock = settings.bind_socket()
    typer.secho(banner, fg=typer.colors.GREEN)
    if config.dingtalk is not None and config.dingtalk.client_id:
        typer.echo("DingTalk Stream mode: every worker connects with the configured client id")
    if config.feishu is not None and config.feishu.long_connection:
        typer.echo("Feishu long connection: every worker connects with the configured app id")
    if config.users:
        _warn_about_users(config, load_model())
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    supervisor = Multiprocess(settings, sockets=[sock])  # installs its own signal handlers
    try:
        supervisor.run()
    finally:
        sock.close()
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        fail("chatbi serve stopped: a worker could not start (the reason is above)", 1)


def _stopped(signum: int, frame: object) -> None:
    """Stand-in handler while uvicorn runs: the stop it re-raises after shutting down is the normal end."""


def register(app: typer.Typer) -> None:
    """Add `serve` to the `chatbi` command."""
    app.command("serve")(serve)
