"""MCP over streamable HTTP at ``/mcp`` on the `chatbi serve` app, behind the API's own authentication.

Every request is authenticated like ``/v1/ask`` (``X-API-Key`` or ``Authorization: Bearer``; 401 without
a known key, 403 for a user entry that cannot ask; demo mode answers loopback pages only) before the
SDK sees it, and the caller it names is what the tools answer as (:data:`api.mcp.server.CALLER`).
The transport is stateless with JSON responses: no session outlives a request, so with ``--workers N``
any worker can take any call, and a session id guessed or replayed grants nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.mcp.server import CALLER, build_server
from api.server.auth import authenticate
from api.server.errors import ApiError, error_response
from api.server.services import Services

PATH = "/mcp"


class Authenticated:
    """ASGI: the caller of the request, or the API's JSON error; the MCP app runs with that caller set.

    ``app`` is the SDK's app of the current run of the server's lifespan (None outside one: 503).
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller = await authenticate(Request(scope, receive))
        except ApiError as exc:
            await error_response(exc.status, exc.message, exc.headers)(scope, receive, send)
            return
        if self.app is None:
            await error_response(503, "MCP is not running: the server has not started, or is stopping")(
                scope, receive, send
            )
            return
        token = CALLER.set(caller)
        try:
            await self.app(scope, receive, send)
        finally:
            CALLER.reset(token)


def mount_mcp(app: FastAPI, services: Services) -> None:
    """Serve MCP at ``/mcp`` while the app runs, around any lifespan it has. The SDK's session manager runs
    once, so each start of the app (tests start one app many times) builds the transport anew."""
    server = build_server(services.assistant, None)
    # With users configured every request carries a key, so the SDK's Host check (DNS rebinding) would only
    # refuse the names the server is reached by; demo mode keeps it, for loopback names only.
    security = None if services.config.demo_mode else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    endpoint = Authenticated()
    app.router.routes.append(Route(PATH, endpoint=endpoint))
    before = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        handler = server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, json_response=True, transport_security=security
        )
        async with server.session_manager.run(), before(target) as state:
            endpoint.app = handler
            try:
                yield state
            finally:
                endpoint.app = None

    app.router.lifespan_context = lifespan
