"""The HTTP API (`chatbi serve`): questions, conversations, the metric catalog, health, docs.

One FastAPI app per server; the web widget, the chat bots and MCP (``/mcp``) are mounted on it.
The Assistant is synchronous (planning in Python, SQL in DuckDB), so each question runs in
the threadpool and the event loop keeps serving other requests meanwhile; the conversation
routes are plain functions, which FastAPI also runs there, as the SQLite store blocks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from agent.conversation_store import StoreUnavailable
from agent.redaction import without_paths
from api.catalog import readable_metrics
from api.mcp.http import mount_mcp
from api.server import sse
from api.server.answers import ANSWER_LINKS, answers_router, asker_of, keep_answer
from api.server.auth import Caller, authenticate, services_of
from api.server.body_limit import MAX_BODY_BYTES, BodyLimit
from api.server.errors import ApiError, ErrorBody, install_error_handlers, store_message
from api.server.schemas import CONVERSATION_ID, AskRequest, AskResponse, ConversationView, Health
from api.server.services import Services
from api.server.worker import WorkerHeader

log = logging.getLogger("chatbi.server")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "The body is not valid JSON.",
        401: "No API key, or an unknown one.",
        403: "The user's entry in the server config cannot ask (unknown role, store manager without store); "
        "in demo mode, a page not served from this machine.",
        413: "The body is larger than 64 KiB.",
        422: "A field is missing or has the wrong type.",
    }.items()
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "The conversation store cannot be read right now (locked or unreadable); retry later.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    }
}
_SSE_DOC = "With `Accept: text/event-stream`: events `plan`, `sql`, `rows`, `text`, `done` (see api/server/sse.py)."

ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID, description="As returned by POST /v1/ask.")]


def create_app(services: Services) -> FastAPI:
    """The server: the API, the web widget and, when configured, the Slack, DingTalk and Feishu bots."""
    from api.bots.dingtalk import dingtalk_router
    from api.bots.slack import slack_router
    from api.widget import widget_router

    app = FastAPIOffline(
        title="chatbi",
        version="0.1.0",
        description="Conversational analytics on a governed metrics semantic layer. "
        "Authenticate with `X-API-Key: KEY` or `Authorization: Bearer KEY` (none in demo mode).",
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(WorkerHeader)
    if services.config.demo_mode:  # pages on this machine only (see api/server/auth.py)
        app.add_middleware(CORSMiddleware, allow_origin_regex=r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")
    else:  # any page may embed the widget: every request must carry a key, never a cookie
        app.add_middleware(
            CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "DELETE"], allow_headers=["*"]
        )
    app.include_router(api_router())
    app.include_router(answers_router())
    app.include_router(widget_router())
    if services.config.slack is not None:
        app.include_router(slack_router(services))
    if services.config.dingtalk is not None:
        app.include_router(dingtalk_router(services))
    if services.config.feishu is not None and services.config.feishu.callback_mode:
        from api.bots.feishu import feishu_router  # lark-oapi imports its whole API: only when configured

        app.include_router(feishu_router(services))
    mount_mcp(app, services)
    return app


def api_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["server"],
        response_model=Health,
        responses={503: {"model": Health, "description": "Degraded: the warehouse or the conversations fail."}},
    )
    router.add_api_route(
        "/v1/ask",
        ask,
        methods=["POST"],
        tags=["questions"],
        response_model=None,
        responses={
            200: {
                "model": AskResponse,
                "description": "The answer object of DESIGN.md.",
                "content": {"text/event-stream": {"schema": {"type": "string", "description": _SSE_DOC}}},
                "links": ANSWER_LINKS,
            },
            **_ERRORS,
            **_UNAVAILABLE,
        },
    )
    router.add_api_route(
        "/v1/conversations/{conversation_id}",
        get_conversation,
        methods=["GET"],
        tags=["conversations"],
        response_model=ConversationView,
        responses={
            404: {"model": ErrorBody, "description": "No such conversation for this user."},
            **_ERRORS,
            **_UNAVAILABLE,
        },
    )
    router.add_api_route(
        "/v1/conversations/{conversation_id}",
        delete_conversation,
        methods=["DELETE"],
        tags=["conversations"],
        status_code=204,
        response_class=Response,
        responses={
            404: {"model": ErrorBody, "description": "No such conversation for this user."},
            **_ERRORS,
            **_UNAVAILABLE,
        },
    )
    router.add_api_route("/v1/metrics", metric_catalog, methods=["GET"], tags=["catalog"], responses=_ERRORS)
    return router


def healthz(request: Request, response: Response) -> Health:
    """Readiness for load balancers, no credentials needed: a trivial read on the warehouse and on the
    conversation store; either failing makes it ``degraded`` with status 503."""
    services = services_of(request)
    report = Health(
        status="ok",
        warehouse=_check(services.assistant.warehouse_check),
        conversations=_check(services.assistant.conversations.check),
        demo_mode=services.config.demo_mode,
    )
    if report.warehouse != "ok" or report.conversations != "ok":
        report.status = "degraded"
        response.status_code = 503
    return report


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as exc:  # a health check reports every failure, whatever raised it
        log.warning("health check failed: %s", exc)
        return "unavailable: " + without_paths(str(exc) or type(exc).__name__)
    return "ok"


async def ask(body: AskRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Response:
    """Ask a question; follow-ups send the `conversation_id` of the previous answer."""
    conversation_id = body.conversation_id or uuid.uuid4().hex
    services = services_of(request)

    def answer(on_plan: Callable[[Any, str], None] | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        result = services.assistant.ask(
            body.question,
            conversation_id=stored_id(caller, conversation_id),
            principal=caller.principal,
            on_plan=on_plan,
            new_conversation=body.conversation_id is None,
        )
        keep_answer(services, result, asker_of(caller), body.question, conversation_id=conversation_id, channel="api")
        log.info(
            "ask user=%s conversation=%s status=%s ms=%.0f",
            caller.name,
            conversation_id,
            result.status,
            (time.perf_counter() - started) * 1000,
        )
        return {**result.model_dump(mode="json"), "conversation_id": conversation_id}

    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream(answer, services.assistant.model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return JSONResponse(await run_in_threadpool(answer))


async def _stream(answer: Callable[..., dict[str, Any]], model: Any) -> AsyncIterator[str]:
    """The plan as soon as the question is understood, the rest when the answer is ready."""
    yield sse.opening()
    loop = asyncio.get_running_loop()
    planned: asyncio.Queue[str] = asyncio.Queue()

    def on_plan(plan: Any, language: str) -> None:  # runs in the worker thread
        loop.call_soon_threadsafe(planned.put_nowait, sse.plan_event(plan, language, model))

    work = asyncio.ensure_future(run_in_threadpool(answer, on_plan))
    waiting = asyncio.ensure_future(planned.get())
    await asyncio.wait({work, waiting}, return_when=asyncio.FIRST_COMPLETED)
    sent_plan = waiting.done()
    if sent_plan:
        yield waiting.result()
    else:
        waiting.cancel()  # the answer came first (or failed); a plan still queued is sent below
    try:
        payload = await work
    except StoreUnavailable as exc:
        log.warning("conversation store unavailable: %s", exc)
        yield sse.event("error", {"error": "unavailable", "message": store_message(exc)})
        return
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("incident %s while streaming an answer", incident)
        yield sse.event("error", {"error": "internal", "message": f"the server could not answer (incident {incident})"})
        return
    if not sent_plan and not planned.empty():
        yield planned.get_nowait()
        sent_plan = True
    for text in sse.answer_events(payload, planned=sent_plan):
        yield text


def get_conversation(
    conversation_id: ConversationId, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> ConversationView:
    """The turns of one of the caller's conversations (the last 20, which follow-ups see)."""
    conversation = services_of(request).assistant.conversations.load(stored_id(caller, conversation_id))
    if not conversation.turns:
        raise ApiError(404, f"no conversation '{conversation_id}' for this user")
    turns = [
        {"question": t.question, "language": t.language, "status": t.status, "plan": t.plan.model_dump(mode="json")}
        for t in conversation.turns
    ]
    return ConversationView.model_validate({"conversation_id": conversation_id, "turns": turns})


def delete_conversation(
    conversation_id: ConversationId, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Response:
    """Forget one of the caller's conversations; the next question with its id starts afresh."""
    store = services_of(request).assistant.conversations
    key = stored_id(caller, conversation_id)
    if not store.load(key).turns:
        raise ApiError(404, f"no conversation '{conversation_id}' for this user")
    store.forget(key)
    return Response(status_code=204)


async def metric_catalog(request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> list[dict[str, Any]]:
    """The governed metrics the caller's role may read: names (中文/English), definitions, formats, cuts."""
    return readable_metrics(services_of(request).assistant.model, caller.principal)


def stored_id(caller: Caller, conversation_id: str) -> str:
    """Conversations are kept per user: another user's id, even guessed, reads nothing.

    Conversation ids cannot contain "/", so the part after the last one is the id and no two
    (user, id) pairs share a key.
    """
    return f"api/{caller.name}/{conversation_id}"
