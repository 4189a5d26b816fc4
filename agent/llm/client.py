"""One model call under a deadline: per-request timeouts, retries with backoff on 429 and 5xx, and a
hard wall clock so that a slow or silent endpoint hands over to the embedded planner in time.

The OpenAI client's own retries are switched off (``max_retries=0``): its backoff does not know
the per-question deadline, and a Retry-After of 60 s would blow it. Each call runs in a daemon
thread that is abandoned when the deadline passes, because a read timeout alone does not bound a
server that trickles a byte every few seconds. Failures become :class:`EndpointError` with a
kind and an HTTP status, never the endpoint's message (which may echo a key).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from agent.llm.config import LLMConfig

FailureKind = Literal["timeout", "unreachable", "rate_limited", "server_error", "rejected", "failed"]
#: Time left under which a new request is not worth starting.
MIN_REQUEST_S = 0.2


class EndpointError(Exception):
    """The endpoint gave no usable reply in time; ``kind`` says how (for the answer's note)."""

    def __init__(self, kind: FailureKind, status: int | None = None) -> None:
        super().__init__(kind if status is None else f"{kind} (HTTP {status})")
        self.kind = kind
        self.status = status


@dataclass
class Caller:
    """Calls a chat model (bound to tools) until ``deadline`` on ``clock``; ``sleep`` waits between retries."""

    config: LLMConfig
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def call(self, runnable: Runnable[Any, Any], messages: Sequence[BaseMessage], deadline: float) -> AIMessage:
        import openai

        attempt = 0
        while True:
            remaining = deadline - self.clock()
            if remaining < MIN_REQUEST_S:
                raise EndpointError("timeout")
            try:
                return _within(runnable, list(messages), min(self.config.request_timeout_s, remaining), remaining)
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                kind: FailureKind = "rate_limited" if exc.status_code == 429 else "server_error"
                wait = _retry_after(exc) or self.config.backoff_s * 2**attempt
                if attempt >= self.config.max_retries or self.clock() + wait + MIN_REQUEST_S > deadline:
                    raise EndpointError(kind, exc.status_code) from None
                self.sleep(wait)
                attempt += 1
            except openai.APITimeoutError:
                raise EndpointError("timeout") from None
            except openai.APIConnectionError:
                raise EndpointError("unreachable") from None
            except openai.APIStatusError as exc:
                raise EndpointError("rejected", exc.status_code) from None


def _within(runnable: Runnable[Any, Any], messages: list[BaseMessage], timeout: float, wall: float) -> AIMessage:
    """``runnable.invoke`` with a request timeout, abandoned after ``wall`` seconds whatever happens."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["reply"] = runnable.invoke(messages, timeout=timeout)
        except BaseException as exc:  # handed to the calling thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="chatbi-llm-call", daemon=True)
    worker.start()
    worker.join(wall)
    if worker.is_alive():
        raise EndpointError("timeout")
    if "error" in box:
        error = box["error"]
        if _is_openai_error(error):
            raise error
        raise EndpointError("failed") from None
    reply = box["reply"]
    if not isinstance(reply, AIMessage):
        raise EndpointError("failed")
    return reply


def _is_openai_error(error: BaseException) -> bool:
    import openai

    return isinstance(error, openai.APIError)


def _retry_after(exc: Any) -> float | None:
    """The server's Retry-After in seconds, when it sends a number."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
