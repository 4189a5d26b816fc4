"""MCP over its two transports: `chatbi mcp` as a real stdio subprocess driven by the SDK's client, and the
streamable-HTTP mount at /mcp of `chatbi serve`'s app (in process, its lifespan running) with and without
API keys. Numbers are checked against the governed compile run directly."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from agent.answer import json_value
from agent.assistant import Assistant
from api.cli import app as cli
from api.server.app import create_app
from api.server.config import ServerConfig
from api.server.services import Services
from semantic_layer.compiler import compile_query
from semantic_layer.query import MetricQuery, Principal

STORE = "st_sh01"
BY_STORE = {"metrics": ["gmv"], "dimensions": ["store"], "period": {"start": "2025-12-01", "end": "2025-12-31"}}
USERS = [
    {"name": "ada", "role": "admin", "api_keys": ["k-ada"]},
    {"name": "bob", "role": "store_manager", "store": STORE, "api_keys": ["k-bob"]},
    {"name": "ivan", "role": "intern", "api_keys": ["k-ivan"]},
]
#: `chatbi ...` with this interpreter (the console script may not be on PATH).
CHATBI = "from api.cli import app\napp(prog_name='chatbi')\n"


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Assistant]:
    opened = Assistant.open(demo_db, conversations=":memory:")
    yield opened
    opened.close()


def governed(assistant: Assistant, principal: Principal) -> list[list[Any]]:
    compiled = compile_query(MetricQuery.model_validate(BY_STORE), assistant.model, principal, assistant.engine.dialect)
    return [[json_value(v) for v in row] for row in assistant.engine.execute(compiled.ast).rows]


def codes_and_values(result: Any) -> list[list[Any]]:
    """query_metrics' rows without the store_name column the answer adds."""
    content = result.structured_content
    keep = [i for i, column in enumerate(content["columns"]) if not column.endswith("_name")]
    return [[row[i] for i in keep] for row in content["rows"]]


async def tools_and_query(session: ClientSession) -> tuple[set[str], Any]:
    await session.initialize()
    names = {tool.name for tool in (await session.list_tools()).tools}
    return names, await session.call_tool("query_metrics", {"query": BY_STORE})


# -- stdio ------------------------------------------------------------------------------------


def _stdio(tmp_path: Path, *args: str) -> tuple[set[str], Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBI_", "OPENAI_"))}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", CHATBI, "mcp", "--planner", "embedded", *args],
        env={**env, "CHATBI_HOME": str(tmp_path)},
    )

    async def run() -> tuple[set[str], Any]:
        with (tmp_path / "stderr.log").open("w") as errors:
            async with stdio_client(params, errlog=errors) as (read, write), ClientSession(read, write) as session:
                return await tools_and_query(session)

    return anyio.run(run)


def test_chatbi_mcp_on_stdio_answers_as_the_demo_admin(tmp_path: Path, demo_db: Path, assistant: Assistant) -> None:
    names, result = _stdio(tmp_path, "--db", str(demo_db))
    assert {"query_metrics", "compiled_sql", "ask", "run_analysis"} <= names and len(names) == 7
    assert not result.is_error and codes_and_values(result) == governed(assistant, Principal())
    assert len(result.structured_content["rows"]) > 1
    assert "DEMO MODE" in (tmp_path / "stderr.log").read_text()  # stdout carries the protocol only


def test_chatbi_mcp_with_a_configured_user_applies_their_row_filter(
    tmp_path: Path, demo_db: Path, assistant: Assistant
) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"users": USERS}))
    _, result = _stdio(tmp_path, "--db", str(demo_db), "--config", str(config), "--user", "bob")
    manager = Principal(role="store_manager", store_id=STORE)
    assert not result.is_error and codes_and_values(result) == governed(assistant, manager)
    assert {row[0] for row in result.structured_content["rows"]} == {STORE}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "bob"], "--user needs --config"),
        (["--config", "{config}"], "--config needs --user"),
        (["--config", "{config}", "--user", "zoe"], "no user 'zoe'"),
        (["--config", "{config}", "--user", "ivan"], "not one of the roles"),
        (["--db", "{missing}"], "database not found"),
        (["--planner", "gpt"], "--planner expects"),
    ],
)
def test_chatbi_mcp_refuses_to_start_with_a_reason(tmp_path: Path, args: list[str], message: str) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump({"users": USERS}))
    filled = [a.format(config=config, missing=tmp_path / "none.duckdb") for a in args]
    result = CliRunner().invoke(cli, ["mcp", *filled])
    assert result.exit_code == 2 and message in result.output


# -- streamable HTTP under chatbi serve ---------------------------------------------------------


def _http(assistant: Assistant, config: ServerConfig, headers: dict[str, str], base: str = "http://testserver") -> Any:
    """One MCP session over /mcp of a fresh app (its lifespan running), as the client these headers make."""
    app = create_app(Services(assistant, config))

    async def run() -> Any:
        async with app.router.lifespan_context(app):
            client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base, headers=headers)
            async with (
                client,
                streamable_http_client(f"{base}/mcp", http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await tools_and_query(session)

    return anyio.run(run)


def _raw(assistant: Assistant, config: ServerConfig, headers: dict[str, str]) -> httpx2.Response:
    """A bare JSON-RPC POST to /mcp, for the answers that come before MCP: 401 and 403."""
    app = create_app(Services(assistant, config))
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}

    async def run() -> httpx2.Response:
        async with (
            app.router.lifespan_context(app),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://testserver") as client,
        ):
            return await client.post(
                "/mcp", json=body, headers={"Accept": "application/json, text/event-stream", **headers}
            )

    return anyio.run(run)


def test_mcp_over_http_needs_a_known_key(assistant: Assistant) -> None:
    config = ServerConfig.model_validate({"users": USERS})
    missing = _raw(assistant, config, {})
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert _raw(assistant, config, {"X-API-Key": "k-nobody"}).json()["message"] == "unknown API key"
    forbidden = _raw(assistant, config, {"X-API-Key": "k-ivan"})
    assert forbidden.status_code == 403 and "intern" in forbidden.json()["message"]


def test_mcp_over_http_answers_as_the_keys_user(assistant: Assistant) -> None:
    config = ServerConfig.model_validate({"users": USERS})
    names, manager = _http(assistant, config, {"X-API-Key": "k-bob"})
    assert len(names) == 7 and not manager.is_error
    assert codes_and_values(manager) == governed(assistant, Principal(role="store_manager", store_id=STORE))
    _, admin = _http(assistant, config, {"Authorization": "Bearer k-ada"})
    assert codes_and_values(admin) == governed(assistant, Principal()) and len(admin.structured_content["rows"]) > 1


def test_mcp_over_http_in_demo_mode_is_admin_for_this_machine_only(assistant: Assistant) -> None:
    _, result = _http(assistant, ServerConfig(), {}, base="http://127.0.0.1:8000")
    assert codes_and_values(result) == governed(assistant, Principal())
    foreign = _raw(assistant, ServerConfig(), {"Origin": "https://example.com"})
    assert foreign.status_code == 403 and "this machine" in foreign.json()["message"]


def test_the_app_serves_mcp_each_time_it_starts_and_503_when_not_running(assistant: Assistant) -> None:
    """An app may start and stop several times (the fuzz tests do): each start gets a new transport."""
    app = create_app(Services(assistant, ServerConfig()))
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}

    async def run() -> list[int]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            statuses = [(await client.post("/mcp", json=body, headers=headers)).status_code]
            for _ in range(2):
                async with app.router.lifespan_context(app):
                    response = await client.post("/mcp", json=body, headers=headers)
                    statuses.append(response.status_code)
                    assert len(response.json()["result"]["tools"]) == 7
            statuses.append((await client.post("/mcp", json=body, headers=headers)).status_code)
            return statuses

    assert anyio.run(run) == [503, 200, 200, 503]
