"""Every error the API returns is one JSON object ``{"error": CODE, "message": SENTENCE}``.

Clients (the widget, scripts, the bots' operators) read ``message`` and show it as is, so it
says what was wrong and how to fix it; nothing a client sends ever yields a traceback: the
catch-all handler logs the exception with an incident id and answers 500 with that id only.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from agent.conversation_store import StoreUnavailable

log = logging.getLogger("chatbi.server")

#: The ``error`` code of each status this API uses.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "unavailable",
}
#: How long a client should wait before asking again when the conversation store is busy.
RETRY_AFTER_S = 5


class ErrorBody(BaseModel):
    """The body of every non-2xx response (for the OpenAPI document)."""

    error: str
    message: str


class ApiError(Exception):
    """Raised by routes and dependencies; becomes ``{"error", "message"}`` with its status."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"error": CODES.get(status, "error"), "message": message}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def validation_message(errors: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """The status and one sentence for pydantic/FastAPI validation errors; never echoes the input."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "the request body is not valid JSON"
    parts = []
    for e in errors[:5]:
        loc = [str(p) for p in e.get("loc", ())][1:]  # without "body", "path", "query" or "header"
        if not loc:  # the body as a whole: empty, not an object, or not sent as JSON
            return (
                422,
                'the body must be a JSON object such as {"question": "..."} sent as Content-Type: application/json',
            )
        parts.append(f"{'.'.join(loc)}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts)


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

#: Friendlier words for the generic details Starlette and FastAPI raise themselves.
_GENERIC = {
    "There was an error parsing the body": "the request body is not valid JSON",
    "Not Found": "no such endpoint; see /docs for the API",
    "Method Not Allowed": "this endpoint does not accept that method; see /docs for the API",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _GENERIC.get(str(exc.detail), str(exc.detail))
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(exc.status_code, message, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path: Starlette's 405 names only the first route's."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in request.app.router.routes
        )
    ]


async def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """A conversation that cannot be read now: the client may retry, or start a new conversation."""
    assert isinstance(exc, StoreUnavailable)
    log.warning("conversation store unavailable: %s", exc)
    return error_response(503, store_message(exc), {"Retry-After": str(RETRY_AFTER_S)})


def store_message(exc: StoreUnavailable) -> str:
    return (
        f"{exc}. The conversation's earlier turns cannot be read right now: ask again in a few seconds, "
        "or ask without conversation_id to start a new conversation"
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, message = validation_message(exc.errors())
    return error_response(status, message)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s on %s %s", incident, request.method, request.url.path, exc_info=exc)
    return error_response(500, f"the server could not handle this request (incident {incident}, logged)")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(Exception, _unexpected)
