"""A loopback stand-in for Feishu's open API, and Feishu's side of a callback, written from Feishu's docs
rather than from the bot's code: the tenant_access_token endpoint, message replies, the long
connection's endpoint and its websocket (protobuf frames, the SDK's own pbbp2 schema), and callbacks
encrypted (AES-256-CBC, key sha256(encrypt_key), IV first, PKCS#7, base64) and signed
(sha256(timestamp + nonce + encrypt_key + body)) as Feishu sends them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from Crypto.Cipher import AES
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.asyncio.server import ServerConnection, serve

from tests.bot_harness import WAIT_S, Received, Recorder

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
ENDPOINT_PATH = "/callback/ws/endpoint"
TENANT_TOKEN = "t-loopback-tenant-token"
_ids = itertools.count(1)


def open_api(ws_url: Callable[[], str | None] = lambda: None, reconnects: int = -1) -> Callable[[str], dict[str, Any]]:
    """Answers for the Recorder: a token, a reply's new message id, the long connection's endpoint.

    ``reconnects`` is the ClientConfig's ReconnectCount: -1, Feishu's own, retries for good (a count
    of 0 made a worker whose first handshake failed on a loaded machine give up for good); a client
    in the test process itself, which nothing stops, is given a few so it ends after its tests.
    """

    def reply(path: str) -> dict[str, Any]:
        if path.startswith(TOKEN_PATH):
            return {"code": 0, "msg": "ok", "tenant_access_token": TENANT_TOKEN, "expire": 7200}
        if path.startswith(ENDPOINT_PATH):
            url = ws_url()
            if url is None:
                return {"code": 1000040343, "msg": "no websocket in this test"}
            config = {"ReconnectCount": reconnects, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120}
            return {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}}
        return {"code": 0, "msg": "success", "data": {"message_id": f"om_reply{next(_ids)}"}}

    return reply


def replies(api: Recorder, message_id: str) -> list[Received]:
    return api.all(lambda r: r.path == f"/open-apis/im/v1/messages/{message_id}/reply")


def reply_to(api: Recorder, message_id: str) -> Received:
    return api.wait_for(lambda r: r.path == f"/open-apis/im/v1/messages/{message_id}/reply")[0]


def encrypt(plaintext: str, key: str) -> str:
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    iv = os.urandom(16)
    cipher = AES.new(hashlib.sha256(key.encode()).digest(), AES.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(data + bytes([pad]) * pad)).decode()


def signed_headers(body: bytes, key: str, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = base64.b16encode(os.urandom(8)).decode()
    sign = hashlib.sha256((stamp + nonce + key).encode() + body).hexdigest()
    return {"X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": sign}


def event_frame(payload: dict[str, Any], service_id: int) -> bytes:
    """A data frame as Feishu's long connection pushes an event."""
    frame = Frame()
    frame.SeqID, frame.LogID, frame.service, frame.method = next(_ids), next(_ids), service_id, 1
    for key, value in {"type": "event", "message_id": f"ws-msg{next(_ids)}", "trace_id": "trace",
                       "sum": "1", "seq": "0"}.items():  # fmt: skip
        header = frame.headers.add()
        header.key, header.value = key, value
    frame.payload = json.dumps(payload, ensure_ascii=False).encode()
    return frame.SerializeToString()


class LongConnection:
    """Feishu's websocket end: pushes event frames to the connected client and records its answers."""

    SERVICE_ID = 7

    def __init__(self) -> None:
        self.answers: list[Frame] = []
        self._changed = threading.Condition()
        self.connections: list[ServerConnection] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self.url = ""
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{port}/ws?device_id=loopback&service_id={self.SERVICE_ID}"
            self._ready.set()
            await self._stop

    async def _handler(self, connection: ServerConnection) -> None:
        with self._changed:
            self.connections.append(connection)
            self._changed.notify_all()
        async for raw in connection:
            frame = Frame()
            frame.ParseFromString(raw if isinstance(raw, bytes) else raw.encode())
            if frame.method == 1:  # a data frame: the client's answer to an event (pings are control frames)
                with self._changed:
                    self.answers.append(frame)
                    self._changed.notify_all()

    def __enter__(self) -> LongConnection:
        self._thread.start()
        if not self._ready.wait(WAIT_S):
            raise RuntimeError("the websocket stand-in did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(timeout=10)

    def wait_for_connections(self, count: int, timeout: float = WAIT_S) -> list[ServerConnection]:
        """The first ``count`` clients that connected, waiting for them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.connections) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.connections)} of {count} clients connected in {timeout} s")
                self._changed.wait(left)
            return self.connections[:count]

    def push(self, payload: dict[str, Any], to: int = 0) -> None:
        """Send an event to the ``to``-th client that connected, waiting for it to connect first."""
        connection = self.wait_for_connections(to + 1)[to]
        frame = event_frame(payload, self.SERVICE_ID)
        asyncio.run_coroutine_threadsafe(connection.send(frame), self._loop).result(WAIT_S)

    def wait_for_answers(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` answers' payloads (the SDK's Response: code, data), waiting for them."""
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while len(self.answers) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.answers)} of {count} answers arrived in {WAIT_S} s")
                self._changed.wait(left)
            return [json.loads(f.payload) for f in self.answers[:count]]
