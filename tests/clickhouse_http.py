"""A loopback stand-in for a ClickHouse server's HTTP interface, backed by the real ClickHouse engine (chdb).

No usable ClickHouse server package is at hand (Debian's is far too old), so the adapter is tested
against this: a threaded HTTP server on 127.0.0.1 whose every statement runs in chdb, on a chdb
directory. The SQL's semantics (types, functions, settings, ``readonly``, time limits, errors) are
ClickHouse's own; only the transport is the stand-in's. It implements what clickhouse-connect uses:

- the statement from the ``query`` parameter followed by the body (or the body alone), the
  ``database`` parameter, and every other parameter as a setting, applied with SET before the
  statement with ``readonly`` last: as ClickHouse checks a request's settings against the user's
  profile before applying any, ``readonly=1`` does not stop the settings sent with it;
- ``user``/``password`` as Basic authentication, ``X-ClickHouse-User``/``-Key`` headers or
  parameters, checked against the one user given (a wrong one is ClickHouse's 516);
- a user profile (settings applied before the request's, e.g. ``readonly``), as the server's
  users.xml would give it; HTTPS with a given certificate and key;
- the output format of a trailing ``FORMAT`` clause (clickhouse-connect asks for Native), else
  ``default_format``, else TabSeparated, named in ``X-ClickHouse-Format``; the response is gzip
  compressed when ``enable_http_compression`` is on (ClickHouse's default now) and the client
  accepts gzip;
- ``INSERT ... FORMAT fmt`` with the data in the body (written to a temporary file and inserted
  with ``file()``, ClickHouse's own reader of that format);
- ``X-ClickHouse-Query-Id``, ``-Timezone`` and ``-Summary`` headers; errors as ClickHouse sends them:
  status 500 (403 for authentication), the ``Code: N. DB::Exception: ...`` text as the body and the
  code in ``X-ClickHouse-Exception-Code``.

Not implemented: sessions (``session_id`` is ignored: every request is on its own connection),
compressed request bodies, chunked uploads, ``client_protocol_version`` (ignored, so the client
falls back to the plain Native format, as it does behind a proxy that drops the parameter), query
parameters (``param_*`` are passed on as settings) and progress headers.

chdb runs one embedded server per process, on one directory: the stand-in shares the process-wide
lock of engines.chdb_engine, and each request opens its own connection (fresh settings) under it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import ssl
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engines.chdb_engine import _LOCK, connect_chdb

#: Request parameters ClickHouse's HTTP interface takes for itself: all others are settings.
HTTP_PARAMETERS = {
    "query",
    "database",
    "default_format",
    "user",
    "password",
    "quota_key",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "stacktrace",
    "role",
    "client_protocol_version",
}
_AUTHENTICATION_FAILED = 516
_FORMAT = re.compile(rb"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(rb"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)[ \t]*\r?\n", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(r"Code: (\d+)\.")


class ClickHouseError(Exception):
    """A ClickHouse exception to answer with: its code and its ``Code: N. DB::Exception`` text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


class StandIn:
    """The stand-in server on a chdb directory; ``url(database)`` is the adapter's URL for it."""

    def __init__(
        self,
        path: Path,
        *,
        user: str = "default",
        password: str = "",
        profile: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ):
        """`tls`: (certificate, key) PEM files to serve HTTPS with."""
        self.path, self.user, self.password, self.scheme = path, user, password, "clickhouses" if tls else "clickhouse"
        self.profile = dict(profile or {})
        with _LOCK:
            anchor = connect_chdb(path, "default")  # kept open: chdb's server is not restarted per request
            row = anchor.query("SELECT timezone(), version()", "TabSeparated").bytes().decode().split("\t")
        self._anchor, self.timezone, self.version = anchor, row[0], row[1].strip()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="clickhouse-http", daemon=True)
        self._thread.start()

    def url(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        user = self.user if user is None else user
        password = self.password if password is None else password
        return f"{self.scheme}://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with _LOCK:
            self._anchor.close()

    def authenticate(self, user: str, password: str) -> None:
        if (user or "default") != self.user or password != self.password:
            raise ClickHouseError(
                _AUTHENTICATION_FAILED,
                f"Code: {_AUTHENTICATION_FAILED}. DB::Exception: {user or 'default'}: Authentication failed: password"
                " is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
            )

    def run(
        self, statement: bytes, database: str, settings: dict[str, str], default_format: str
    ) -> tuple[bytes, str, Any, bool]:
        """Run one statement as the server would: the output bytes, their format, chdb's result and
        whether ``enable_http_compression`` is on (by default, or as the request set it)."""
        ordered = {**self.profile, **{k: v for k, v in settings.items() if k != "readonly"}}
        insert = _INSERT.match(statement)
        match = _FORMAT.search(statement)
        fmt = (match.group(1).decode() if match and not insert else "") or default_format
        with _LOCK:
            try:
                conn = connect_chdb(self.path, database)
            except Exception as exc:  # EngineError carrying chdb's text
                raise _clickhouse_error(exc) from None
            try:
                for name, value in ordered.items():
                    conn.query(f"SET {name} = {_quoted(value)}")
                if "readonly" in settings:
                    conn.query(f"SET readonly = {_quoted(settings['readonly'])}")
                setting = conn.query("SELECT getSetting('enable_http_compression')", "TabSeparated")
                compress = setting.bytes().strip() in (b"1", b"true")
                if insert:
                    result = _insert(
                        conn, insert.group(1).decode(), insert.group(2).decode(), statement[insert.end() :]
                    )
                    return b"", fmt, result, compress
                result = conn.query(statement.decode(), fmt)
                return result.bytes(), fmt, result, compress
            except Exception as exc:  # chdb raises its own exceptions with ClickHouse's text
                raise _clickhouse_error(exc) from None
            finally:
                conn.close()


def _quoted(value: str) -> str:
    """A setting's value as a SQL string literal (ClickHouse parses a setting from its text)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _insert(conn: Any, into: str, fmt: str, data: bytes) -> Any:
    with tempfile.TemporaryDirectory(prefix="clickhouse-http-") as tmp:
        path = Path(tmp) / "data"
        path.write_bytes(data)
        return conn.query(f"{into} SELECT * FROM file('{path}', {fmt})")


def _clickhouse_error(exc: Exception) -> ClickHouseError:
    text = str(exc).strip()
    text = text[text.index("Code: ") :] if "Code: " in text else text
    match = _CODE.search(text)
    return ClickHouseError(int(match.group(1)) if match else 1000, text)


def _handler(server: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as clickhouse-connect's pool expects

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            """Quiet: the tests' output is the tests'."""

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            self._answer()

        def _answer(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query_id = params.get("query_id") or str(uuid.uuid4())
            try:
                if self.headers.get("Content-Encoding"):
                    raise ClickHouseError(1000, "Code: 1000. DB::Exception: the stand-in takes no compressed bodies.")
                server.authenticate(*self._credentials(params))
                statement = params["query"].encode() + (b"\n" + body if body else b"") if "query" in params else body
                settings = {k: v for k, v in params.items() if k not in HTTP_PARAMETERS}
                database = params.get("database", "default")
                out, fmt, result, compress = server.run(
                    statement, database, settings, params.get("default_format", "TabSeparated")
                )
            except ClickHouseError as exc:
                status = 403 if exc.code == _AUTHENTICATION_FAILED else 500
                text = f"{exc} (version {server.version})\n".encode()
                self._send(status, text, {"X-ClickHouse-Exception-Code": str(exc.code), "Content-Type": "text/plain"})
                return
            headers = {
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": server.timezone,
                "X-ClickHouse-Summary": json.dumps(
                    {
                        "read_rows": str(result.rows_read()),
                        "read_bytes": str(result.bytes_read()),
                        "elapsed_ns": str(int(result.elapsed() * 1e9)),
                    }
                ),
                "Content-Type": "application/octet-stream" if fmt == "Native" else "text/plain; charset=UTF-8",
            }
            accepted = {e.strip() for e in self.headers.get("Accept-Encoding", "").split(",")}
            if compress and "gzip" in accepted and out:
                out = gzip.compress(out)
                headers["Content-Encoding"] = "gzip"
            self._send(200, out, headers)

        def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                return user, password
            if "X-ClickHouse-User" in self.headers:
                return self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
            return params.get("user", ""), params.get("password", "")

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            """The response; nothing when the client has gone (it gave up waiting), as a server would."""
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


@contextmanager
def serving(path: Path, **options: Any) -> Iterator[StandIn]:
    """The stand-in on `path` for the duration of a block (options: see StandIn)."""
    server = StandIn(path, **options)
    try:
        yield server
    finally:
        server.close()
