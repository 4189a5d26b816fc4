"""One worker of `chatbi serve --workers N`: a new interpreter that builds its own app from the environment.

uvicorn's supervisor binds the port once and spawns N interpreters that accept on it; each calls
:func:`create_worker_app`, which opens its own warehouse connection, model, master data and
conversation store from what the parent wrote into the environment (a spawned process shares
nothing else with its parent). What the workers must agree on, the conversations, the bots'
dedupe and DingTalk's replay memory, lives in SQLite under the shared ``$CHATBI_HOME``
(agent/conversation_store.py, api/shared_state.py), so a follow-up or a redelivered event is
handled the same whichever worker it reaches.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

#: The import string uvicorn's workers load (``factory=True``).
FACTORY = "api.server.worker:create_worker_app"
#: What the parent passes to its workers, beside ``CHATBI_SERVER_CONFIG``, ``CHATBI_HOME`` and the max age.
ENV_DB = "CHATBI_SERVE_DB"
ENV_PLANNER = "CHATBI_SERVE_PLANNER"
ENV_CACHE = "CHATBI_SERVE_CACHE"  # "0": --no-cache
ENV_TOOLS = "CHATBI_SERVE_TOOLS"  # "<slots>:<queue>": --tool-slots, --tool-queue

log = logging.getLogger("chatbi.server")


def worker_environment(db: Path, planner: Literal["embedded", "llm"], config: Path | None,
                       keep_days: float | None, cache: bool = True,
                       tools: tuple[int, int] = (1, 1), duckdb_threads: int | None = None) -> dict[str, str]:  # fmt: skip
    """The variables a worker builds its app from: absolute paths, the planner already chosen by the parent;
    ``tools``: each worker's analysis-tool slots and queue (a worker is a process: its own slots);
    ``duckdb_threads``: each worker's share of the cores for one query (unset: DuckDB's default)."""
    from agent.conversation_store import MAX_AGE_ENV
    from engines.duckdb_engine import THREADS_ENV

    env = {ENV_DB: str(db.resolve()), ENV_PLANNER: planner, ENV_CACHE: "1" if cache else "0",
           ENV_TOOLS: f"{tools[0]}:{tools[1]}"}  # fmt: skip
    if duckdb_threads is not None and THREADS_ENV not in os.environ:
        env[THREADS_ENV] = str(duckdb_threads)
    if config is not None:
        env["CHATBI_SERVER_CONFIG"] = str(config.resolve())
    if keep_days is not None:
        env[MAX_AGE_ENV] = repr(keep_days)
    return env


def configure_logging() -> None:
    """One line per question (user, status, ms) and incidents on stderr, and the bots' skips (a redelivery)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    for name in ("chatbi.server", "api.bots"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Not again through the root logger: the MCP SDK gives it a Rich handler, which wrote every line a
        # second time, rendered (a tenth of a cached question's CPU under load).
        logger.propagate = False


def start_background(services: Any) -> list[str]:
    """The bots' outgoing connections, when configured: DingTalk Stream mode and Feishu's long connection.
    Each process opens its own; the platform hands a message to one of an app's connections, and the
    shared dedupe answers it once anyway. The names of what was started."""
    started = []
    dingtalk = services.config.dingtalk
    if dingtalk is not None and dingtalk.client_id:
        from api.bots.dingtalk import run_stream

        threading.Thread(target=run_stream, args=(services,), daemon=True, name="dingtalk-stream").start()
        started.append("DingTalk Stream mode")
    feishu = services.config.feishu
    if feishu is not None and feishu.long_connection:
        from api.bots.feishu import run_long_connection

        threading.Thread(target=run_long_connection, args=(services,), daemon=True, name="feishu-ws").start()
        started.append("Feishu long connection")
    return started


class WorkerHeader:
    """ASGI middleware: ``X-Chatbi-Worker: <pid>`` on every response, so logs, load tests and the tests can
    tell which process of a multi-worker server answered (a process id says nothing about the data)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.header = (b"x-chatbi-worker", str(os.getpid()).encode())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)


def create_worker_app() -> Any:
    """The app of one worker; a worker that cannot open what it needs exits with uvicorn's startup-failure
    code, which stops the whole server (a restart would fail the same way) after one line saying why."""
    from uvicorn.config import STARTUP_FAILURE

    from semantic_layer.engine import EngineError

    try:
        return _build()
    except Exception as exc:  # whatever stops a worker stops the server, with the reason in the log
        log_error = logging.getLogger("uvicorn.error")
        if isinstance(exc, ValueError | EngineError):  # a setting or the warehouse: the message says which
            log_error.error("chatbi worker %d cannot start: %s", os.getpid(), exc)
        else:
            log_error.exception("chatbi worker %d cannot start", os.getpid())
        sys.exit(STARTUP_FAILURE)


def _build() -> Any:
    from agent.assistant import Assistant
    from agent.conversation_store import ConversationStore
    from agent.tool_slots import ToolSlots
    from api.server.app import create_app
    from api.server.config import load_config
    from api.server.services import Services
    from api.shared_state import default_path as shared_state_path

    planner: Literal["embedded", "llm"] = "llm" if os.environ.get(ENV_PLANNER) == "llm" else "embedded"
    config = load_config()
    cache = os.environ.get(ENV_CACHE, "1") != "0"
    running, waiting = (int(n) for n in os.environ.get(ENV_TOOLS, "1:1").split(":"))
    assistant = Assistant.open(
        Path(os.environ[ENV_DB]),
        planner=planner,
        conversations=ConversationStore(),
        cache=cache,
        tool_slots=ToolSlots(running, waiting, shared=shared_state_path().with_name("tool-slots")),
    )
    try:
        services = Services(assistant, config)
        app = create_app(services)
    except BaseException:
        assistant.close()
        raise
    configure_logging()
    start_background(services)

    opened = app.router.lifespan_context  # the app's own (MCP's session manager)

    @asynccontextmanager
    async def closing(target: Any) -> AsyncIterator[None]:
        async with opened(target):
            yield
        assistant.close()  # the warehouse and the store, once uvicorn has finished the requests in flight

    app.router.lifespan_context = closing
    return app
