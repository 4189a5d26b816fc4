"""Answers after the fact: downloads (``GET /v1/answers/{id}.csv`` / ``.xlsx``) and feedback (``POST .../feedback``).

Every channel keeps an answer with rows through :func:`keep_answer`, which gives it its
``answer_id``. Reading one back is allowed to the caller it was answered for, or to a caller whose
role and store scope read the same rows (agent/answer_store.py decides); anyone else gets the
404 of an unknown id, so ids cannot be probed. Chat users carry no API key when they click a
download link in a reply, so those links carry the answer's own link token instead
(:func:`download_url`): a capability for that one answer's file, given only in the reply that
already shows its rows, and gone when the answer expires.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from agent.answer import Answer
from agent.answer_store import MAX_COMMENT_CHARS, Asker, Feedback, StoredAnswer
from agent.conversation_store import StoreUnavailable
from api.exports.table import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from api.server.auth import Caller, authenticate, services_of
from api.server.errors import ApiError, ErrorBody
from api.server.services import Services

log = logging.getLogger("chatbi.server")

ANSWER_ID = r"^[A-Za-z0-9_-]{8,64}$"
AnswerId = Annotated[str, Path(pattern=ANSWER_ID, description="The `answer_id` of an answer with rows.")]
Format = Literal["csv", "xlsx"]

_MEDIA = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key (and no link token), or an unknown one."},
    403: {"model": ErrorBody, "description": "The user's entry in the server config cannot ask."},
    404: {"model": ErrorBody, "description": "No such answer for this caller (or it expired)."},
}


#: OpenAPI links from an answer (``POST /v1/ask``) to its downloads and feedback, for clients and API fuzzers.
ANSWER_LINKS = {
    name: {"operationId": operation, "parameters": {"answer_id": "$response.body#/answer_id"}}
    for name, operation in (
        ("DownloadCsv", "download_answer_csv"),
        ("DownloadXlsx", "download_answer_xlsx"),
        ("GiveFeedback", "post_answer_feedback"),
    )
}


class FeedbackRequest(BaseModel):
    """``POST /v1/answers/{answer_id}/feedback``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"rating": "down", "comment": "漏了退货"}]}
    )

    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


def keep_answer(
    services: Services,
    answer: Answer,
    asker: Asker,
    question: str,
    *,
    conversation_id: str | None,
    channel: str,
) -> None:
    """Give an answer with rows its ``answer_id`` and keep it; a store that cannot keep it costs only the downloads."""
    if answer.status != "answer" or not answer.rows:
        return
    try:
        services.answers.save(answer, asker, question, conversation_id=conversation_id, channel=channel)
    except StoreUnavailable as exc:
        answer.answer_id = None
        log.warning("answer not kept for downloads: %s", exc)


def download_url(services: Services, base_url: str, answer_id: str, fmt: Format) -> str | None:
    """An absolute link to the answer's file that works without an API key (for chat replies)."""
    try:
        token = services.answers.link_token(answer_id)
    except StoreUnavailable:
        return None
    if token is None:
        return None
    base = (services.config.public_url or base_url).rstrip("/")
    return f"{base}/v1/answers/{answer_id}.{fmt}?token={token}"


def answers_router() -> APIRouter:
    router = APIRouter(tags=["answers"])
    for fmt, media in _MEDIA.items():
        router.add_api_route(
            f"/v1/answers/{{answer_id}}.{fmt}",
            _download(fmt),  # type: ignore[arg-type]
            methods=["GET"],
            response_class=Response,
            summary=f"The answer's full result as {fmt.upper()}",
            operation_id=f"download_answer_{fmt}",
            responses={200: {"content": {media: {}}}, **_NOT_FOUND},
        )
    router.add_api_route(
        "/v1/answers/{answer_id}/feedback",
        post_feedback,
        methods=["POST"],
        status_code=201,
        response_model=Feedback,
        operation_id="post_answer_feedback",
        responses={
            400: {"model": ErrorBody, "description": "The body is not valid JSON."},
            413: {"model": ErrorBody, "description": "The body is larger than 64 KiB."},
            **_NOT_FOUND,
        },
    )
    return router


def _download(fmt: Format):  # noqa: ANN202 - a route function
    async def download(
        answer_id: AnswerId,
        request: Request,
        token: Annotated[str | None, Query(max_length=64, description="The link token of a chat reply.")] = None,
    ) -> Response:
        """The full result (within the row limit): CSV with exact values, or XLSX for people (headers in the
        asker's language, number formats, frozen header, definitions sheet; purchase orders for replenishment)."""
        from starlette.concurrency import run_in_threadpool

        services = services_of(request)
        if token:
            stored = await run_in_threadpool(services.answers.load_by_link, answer_id, token)
        else:
            caller = await authenticate(request)
            stored = await run_in_threadpool(services.answers.load_for, answer_id, asker_of(caller))
        if stored is None:
            raise ApiError(404, f"no answer '{answer_id}' for this caller (answers are kept as long as conversations)")
        body = await run_in_threadpool(render_file, stored, services, fmt)
        return Response(
            body,
            media_type=_MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="chatbi-{answer_id}.{fmt}"'},
        )

    return download


def render_file(stored: StoredAnswer, services: Services, fmt: Format) -> bytes:
    from api.exports.table import to_csv, to_xlsx

    model = services.assistant.model
    if fmt == "csv":
        return to_csv(stored.answer, model)
    return to_xlsx(stored.answer, model, stored.question)


def post_feedback(
    answer_id: AnswerId, body: FeedbackRequest, request: Request, caller: Annotated[Caller, Depends(authenticate)]
) -> Feedback:
    """Thumbs up or down on an answer, with an optional comment; kept with the question, plan, SQL, user and role."""
    services = services_of(request)
    asker = asker_of(caller)
    stored = services.answers.load_for(answer_id, asker)
    if stored is None:
        raise ApiError(404, f"no answer '{answer_id}' for this caller (answers are kept as long as conversations)")
    return services.answers.add_feedback(stored, body.rating, body.comment, asker)


def asker_of(caller: Caller) -> Asker:
    return Asker.of(caller.name, caller.principal)
