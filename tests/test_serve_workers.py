"""`chatbi serve --workers 2` as a real process: follow-ups and bot dedupe hold whichever worker answers.

The server runs on a free loopback port against the small demo, with Slack's Web API and DingTalk's
session webhook played by a recorder in this process. Which worker took a request is read from the
``X-Chatbi-Worker`` header; requests are repeated (bounded) until the kernel has handed related ones
to different workers, so each check below is made across processes, not just within one.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from api.serve_cli import KEEP_ALIVE_S
from tests.bot_harness import Recorder
from tests.test_bot_deployment import (
    ADMIN,
    CHANNEL,
    DINGTALK_SECRET,
    SLACK_SECRET,
    TEAM,
    dingtalk_headers,
    robot_message,
    slack_api,
    webhook_posts,
)
from tests.test_serve_cli import _env, chatbi_serve, free_port

KEY = "k-alice-workers"
WORKER = "x-chatbi-worker"
#: Attempts at getting two related requests onto different workers (each lands on either, the kernel decides).
ATTEMPTS = 40
_ids = itertools.count(1)


@dataclass
class Server:
    base: str
    log: Path
    process: subprocess.Popen[bytes]
    #: The worker pids seen answering; all must be gone once the server stopped.
    workers: set[int] = field(default_factory=set)

    def wait_for_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, f"no {needle!r} in the server log:\n" + self.log.read_text()
            time.sleep(0.1)


def start(home: Path, *args: str) -> Server:
    """`chatbi serve --workers 2 ...`, returned once both workers have answered a health check."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "serve.log"
    with log.open("w") as out:
        command = chatbi_serve("--port", str(port), "--workers", "2", "--planner", "embedded", *args)
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=_env(home))
    server = Server(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + 90
    while len(server.workers) < 2:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "two workers did not become healthy:\n" + log.read_text()
        try:
            with ThreadPoolExecutor(4) as pool:  # concurrent, so that a busy worker leaves some to the other
                for response in pool.map(lambda _: httpx.get(f"{server.base}/healthz", timeout=5), range(8)):
                    if response.status_code == 200:
                        server.workers.add(int(response.headers[WORKER]))
        except httpx.TransportError:
            time.sleep(0.3)
    return server


def stop(server: Server, sig: signal.Signals) -> None:
    """Signal the parent: it must exit 0 within the grace period, every worker gone with it."""
    server.process.send_signal(sig)
    try:
        code = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    assert code == 0, server.log.read_text()
    assert len(server.workers) == 2
    for pid in server.workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "chatbi serve stopped" in server.log.read_text()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    with Recorder(slack_api) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def server(demo_db: Path, recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("workers")
    config = home / "server.yaml"
    config.write_text(
        json.dumps(
            {
                "users": [
                    {
                        "name": "alice",
                        "role": "admin",
                        "api_keys": [KEY],
                        "slack_ids": [ADMIN],
                        "dingtalk_ids": ["staff-admin"],
                    }
                ],
                "slack": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test", "api_base": recorder.url + "api/"},
                "dingtalk": {"app_secret": DINGTALK_SECRET, "webhook_hosts": ["127.0.0.1"]},
            }
        ),  # fmt: skip
        encoding="utf-8",
    )
    running = start(home / "home", "--db", str(demo_db), "--config", str(config))
    try:
        yield running
    finally:
        if running.process.poll() is None:
            stop(running, signal.SIGTERM)


def ask(server: Server, question: str, conversation: str) -> httpx.Response:
    """One request on a new connection, so that either worker may accept it."""
    body = {"question": question, "conversation_id": conversation}
    return httpx.post(f"{server.base}/v1/ask", json=body, headers={"X-API-Key": KEY}, timeout=60)


def across(server: Server, pair: Callable[[int], tuple[str, str]]) -> list[tuple[str, str]]:
    """Run ``pair(n)`` (two related requests, returning the worker of each) until one pair spanned both workers."""
    done: list[tuple[str, str]] = []
    for n in range(ATTEMPTS):
        done.append(pair(n))
        if done[-1][0] != done[-1][1]:
            assert {int(pid) for pid in done[-1]} == server.workers
            return done
    raise AssertionError(f"{ATTEMPTS} pairs of requests all stayed on one worker: {done}")


def test_a_follow_up_lands_in_its_conversation_whichever_worker_answers(server: Server) -> None:
    def conversation(n: int) -> tuple[str, str]:
        conversation_id = f"workers-{n}"
        first = ask(server, "上个月天猫的销售额", conversation_id)
        follow_up = ask(server, "那京东呢?", conversation_id)
        assert first.status_code == 200 and follow_up.status_code == 200, follow_up.text
        plan = follow_up.json()["plan"]
        assert plan["metrics"] == ["gmv"] and plan["filters"][0]["members"] == ["jd"], plan
        return first.headers[WORKER], follow_up.headers[WORKER]

    with ThreadPoolExecutor(4) as pool:  # load on both workers meanwhile, so neither takes everything
        busy = [pool.submit(ask, server, "2025年按月的毛利率", f"busy-{i}") for i in range(8)]
        pairs = across(server, conversation)
        assert all(f.result().status_code == 200 for f in busy)
    assert len({worker for pair in pairs for worker in pair}) == 2


def slack_delivery(server: Server, event: dict[str, Any]) -> httpx.Response:
    """One signed Events API delivery of ``event`` (each delivery has its own event id, as Slack's do)."""
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": f"EvW{next(_ids)}", "event": event})
    stamp = str(int(time.time()))
    signature = str(SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
    return httpx.post(f"{server.base}/slack/events", content=body.encode(), headers=headers, timeout=30)


def test_a_slack_event_delivered_twice_is_answered_once_across_workers(server: Server, recorder: Recorder) -> None:
    def twice(n: int) -> tuple[str, str]:
        ts = f"{int(time.time())}.{next(_ids):06d}"
        event = {"type": "app_mention", "user": ADMIN, "text": "<@U0BOT> 上个月销售额", "ts": ts, "channel": CHANNEL}
        first = slack_delivery(server, event)
        recorder.wait_for(lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == ts)
        second = slack_delivery(server, event)
        assert first.status_code == 200 and second.status_code == 200
        server.wait_for_log(f"{TEAM}:{CHANNEL}:{ts} was answered already")
        replies = recorder.all(lambda r: r.path.endswith("chat.postMessage") and r.body.get("thread_ts") == ts)
        assert len(replies) == 1
        return first.headers[WORKER], second.headers[WORKER]

    across(server, twice)


def dingtalk_delivery(server: Server, message: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    body = json.dumps(message, ensure_ascii=False).encode()
    return httpx.post(f"{server.base}/dingtalk/callback", content=body, headers=headers, timeout=30)


def test_a_dingtalk_message_delivered_twice_is_answered_once_across_workers(server: Server, recorder: Recorder) -> None:
    def twice(n: int) -> tuple[str, str]:
        message = robot_message(recorder, "上个月销售额")
        first = dingtalk_delivery(server, message, dingtalk_headers())
        recorder.wait_for(lambda r: r.path.endswith(f"session={message['msgId']}"))
        second = dingtalk_delivery(server, message, dingtalk_headers())  # a redelivery, newly signed
        assert first.status_code == 200 and second.status_code == 200
        server.wait_for_log(f"DingTalk message {message['msgId']} was answered already")
        assert len(webhook_posts(recorder, message)) == 1
        return first.headers[WORKER], second.headers[WORKER]

    across(server, twice)


def test_a_captured_dingtalk_signature_is_refused_by_every_worker(server: Server, recorder: Recorder) -> None:
    def replayed(n: int) -> tuple[str, str]:
        headers = dingtalk_headers()
        genuine = dingtalk_delivery(server, robot_message(recorder, "上个月销售额"), headers)
        forged = robot_message(recorder, "上个月各渠道的销售额")
        replay = dingtalk_delivery(server, forged, headers)
        assert genuine.status_code == 200
        assert replay.status_code == 401 and "once" in replay.json()["message"], replay.text
        return genuine.headers[WORKER], replay.headers[WORKER]

    across(server, replayed)


def test_ctrl_c_stops_every_worker(demo_db: Path, tmp_path: Path) -> None:
    server = start(tmp_path / "home", "--db", str(demo_db))
    assert "workers: 2" in server.log.read_text()
    stop(server, signal.SIGINT)


def test_each_question_is_logged_once(server: Server) -> None:
    """One line per question: chatbi's loggers keep off the root logger, which the MCP SDK gives a Rich handler
    (it wrote every line a second time, rendered, at a cost on every question)."""
    conversation_id = f"logged-once-{next(_ids)}"
    assert ask(server, "上个月天猫的销售额", conversation_id).status_code == 200
    server.wait_for_log(f"conversation={conversation_id} ")
    assert server.log.read_text(errors="replace").count(f"conversation={conversation_id}") == 1


def test_an_idle_keep_alive_connection_outlives_the_clients_expiry(server: Server) -> None:
    """A connection idle past 5 s (httpx's idle expiry, and uvicorn's default keep-alive) still answers: with
    both at 5 s a client could send its question just as the server closed the connection (ReadError)."""
    host, port = server.base.removeprefix("http://").split(":")
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        for pause in (0.0, 6.0):  # past 5 s idle: within the server's KEEP_ALIVE_S
            time.sleep(pause)
            connection.sendall(request)
            assert read_response(connection).startswith(b"HTTP/1.1 200"), f"closed after {pause} s idle"
    assert KEEP_ALIVE_S > 6.0


def read_response(connection: socket.socket) -> bytes:
    """One whole response (head and a Content-Length body); what came before the close if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length and (chunk := connection.recv(65536)):
        body += chunk
    return data[: len(head) + 4] + body
