"""Loopback plumbing for the bot tests: the real app under uvicorn, and recording stand-ins for
Slack's Web API, DingTalk's session webhook and Feishu's open API. Everything listens on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
import uvicorn

WAIT_S = 20.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Recorder:
    """An HTTP server that records each POST (JSON or form body) and answers with ``reply(path)`` as JSON."""

    def __init__(self, reply: Callable[[str], dict[str, Any]] = lambda _: {"errcode": 0, "errmsg": "ok"}) -> None:
        self.received: list[Received] = []
        self._changed = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                content_type = self.headers.get("Content-Type", "")
                # JSON by its type, or untyped and shaped like it (lark-oapi's token request names no type)
                if content_type.startswith("application/json") or (not content_type and raw.startswith("{")):
                    body = json.loads(raw) if raw else {}
                else:
                    body = dict(parse_qsl(raw))
                with recorder._changed:
                    recorder.received.append(Received(self.path, dict(self.headers), body))
                    recorder._changed.notify_all()
                out = json.dumps(reply(self.path)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, matches: Callable[[Received], bool], count: int = 1, timeout: float = WAIT_S) -> list[Received]:
        """The first ``count`` recorded requests that ``matches``, waiting for them up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.received if matches(r)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} of {count} expected requests arrived in {timeout} s")
                self._changed.wait(left)

    def all(self, matches: Callable[[Received], bool]) -> list[Received]:
        with self._changed:
            return [r for r in self.received if matches(r)]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST ``body``; the status and the JSON (or text) response, 4xx/5xx included."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WAIT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


@contextmanager
def chatbi_home(path: Any) -> Iterator[None]:
    """``$CHATBI_HOME`` set to ``path`` while the block runs (the bots open their shared state from it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHATBI_HOME", str(path))
        yield


class LogWaiter(logging.Handler):
    """Records the bots' log lines, so a test can wait for a decision the bot only logs (a skip)."""

    def __init__(self, logger: str = "api.bots") -> None:
        super().__init__(logging.DEBUG)
        self._logger = logging.getLogger(logger)
        self._records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()

    def __enter__(self) -> LogWaiter:
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def wait_for(self, needle: str, timeout: float = WAIT_S) -> logging.LogRecord:
        """The first record whose message contains ``needle``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._records if needle in r.getMessage()]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line containing {needle!r} in {timeout} s")
                self._changed.wait(left)
