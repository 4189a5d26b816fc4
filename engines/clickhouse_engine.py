"""ClickHouse server adapter over the HTTP interface (clickhouse-connect):
``clickhouse://user:password@host:port/database`` (port 8123 by default), ``clickhouses://`` for TLS
(8443; the server's certificate is verified against the system's trust store, or against the CA
file of ``?ca_cert=/path/ca.pem`` for a private CA).

Defence in depth under the SQL guard: every query is sent with the settings of engines._clickhouse
(shared with the embedded adapter) as request parameters, ``readonly=1`` among them. ClickHouse checks
all of a request's settings against the user's own profile before applying any of them, so the time
and row limits ride along with ``readonly=1``, and from then on the SQL can neither write, run DDL,
reach files or the network, nor change a setting (SET or a SETTINGS clause).

That holds for a user whose profile is ``readonly=0``. A ``readonly=1`` user may change no setting
at all, not even the time limit: refused when connecting, with what to do. A ``readonly=2`` user
(read, and change settings) may not change ``readonly`` either, so its queries carry the limits
without it: its profile still refuses writes and DDL, but only the guard (which refuses SET and
SETTINGS) stops SQL from changing a setting, so a ``readonly=0`` user with only SELECT grants is
the better service account.

The time limit is the server's ``max_execution_time`` (TIMEOUT_EXCEEDED -> QueryTimeout); the HTTP
read timeout a little longer is the backstop when the server does not answer at all, and the client
asks the server to cancel a read-only query whose connection is closed. No HTTP session is used: the
settings travel with every request, so nothing is carried over between queries. The data version for
the result cache is the model's freshness query.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from engines._clickhouse import CATALOG_SQL, DIALECT, TIMEOUT_CODE, query_settings, runnable
from engines._limits import cut, one_line
from engines._server import FreshnessVersioned
from engines.result_cache import ResultCache
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.semantic_model import Freshness

try:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError
    from urllib3 import Timeout
    from urllib3.exceptions import ReadTimeoutError
except ImportError:  # pragma: no cover - exercised only without the extra installed
    clickhouse_connect = None  # type: ignore[assignment]

# The driver logs a transport failure with its traceback as a warning; the adapter turns it into one
# line of EngineError, so the traceback reaches stderr only where logging is configured to show it.
logging.getLogger("clickhouse_connect").addHandler(logging.NullHandler())

_PORTS = {"clickhouse": 8123, "clickhouses": 8443}
_CONNECT_TIMEOUT_S = 10
#: The HTTP read timeout outside queries (connecting, loading a batch).
_READ_TIMEOUT_S = 300
#: How much longer than the server's time limit the client waits for an answer before giving up.
_READ_GRACE_S = 10.0


def clickhouse_params(url: str) -> dict[str, Any]:
    """clickhouse-connect's get_client() arguments for ``clickhouse[s]://user:password@host:port/database``
    (database default: ``default``; ``clickhouses://...?ca_cert=PATH``: the CA to verify the server with)."""
    parts = urlsplit(url)
    if parts.scheme not in _PORTS or not parts.hostname or parts.path.count("/") > 1:
        raise EngineError("a ClickHouse URL is clickhouse://user:password@host:port/database (clickhouses:// for TLS)")
    options = parse_qs(parts.query)
    if set(options) - {"ca_cert"} or (options and parts.scheme != "clickhouses"):
        raise EngineError("a ClickHouse URL takes one option, ca_cert=PATH, and only with clickhouses://")
    tls = {"ca_cert": options["ca_cert"][0]} if options else {}
    return {
        "host": parts.hostname,
        "port": parts.port or _PORTS[parts.scheme],
        "username": unquote(parts.username or "default"),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/")) or "default",
        "secure": parts.scheme == "clickhouses",
        **tls,
    }


def open_client(params: dict[str, Any]) -> Any:
    """A clickhouse-connect HTTP client on `params` (see clickhouse_params); EngineError, one line and
    without the password, when the server cannot be reached or refuses the user."""
    if clickhouse_connect is None:
        raise EngineError("ClickHouse server support needs clickhouse-connect: pip install 'chatbi[engines]'")
    try:
        return clickhouse_connect.get_client(
            **params,
            connect_timeout=_CONNECT_TIMEOUT_S,
            send_receive_timeout=_READ_TIMEOUT_S,
            autogenerate_session_id=False,  # settings travel per request; a session would serialise callers
            show_clickhouse_errors="scrub",  # the server's message without the URL and version trailer
        )
    except ClickHouseError as exc:
        where = f"{params['host']}:{params['port']}"
        raise EngineError(f"cannot connect to ClickHouse at {where}: {reason(exc)}") from None


def reason(exc: BaseException) -> str:
    """One line for a clickhouse-connect error: the server's own ``Code: N. DB::Exception: ...`` text
    when it answered, else the innermost transport error (refused, unknown host, TLS)."""
    text = one_line(exc)
    if "Code: " in text:
        return text[text.index("Code: ") :]
    inner = exc.__cause__  # urllib3's error, whose `reason` (or cause) is the socket's
    while inner is not None and (getattr(inner, "reason", None) or inner.__cause__) is not None:
        inner = getattr(inner, "reason", None) or inner.__cause__
    return text if inner is None else one_line(inner)


class ClickHouseEngine(FreshnessVersioned):
    """Read-only ClickHouse server engine over one HTTP client, queries serialised by a lock."""

    catalog_sql = CATALOG_SQL
    dialect = DIALECT

    def __init__(
        self,
        url: str,
        *,
        allowed_tables: frozenset[str],
        cache: ResultCache | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        self.allowed_tables = allowed_tables
        p = clickhouse_params(url)
        self._client = open_client(p)
        profile = self._client.server_settings.get("readonly")
        self._profile_readonly = "0" if profile is None else profile.value
        if self._profile_readonly == "1":
            self._client.close()
            raise EngineError(
                f"ClickHouse user {p['username']} is readonly=1, which forbids the time limit each query carries:"
                " give it readonly=0 and only SELECT grants (chatbi sends readonly=1 with every query), or readonly=2"
            )
        self._lock = threading.Lock()  # the read timeout is set per query on the shared client
        scheme = "https" if p["secure"] else "http"
        self.identity = (
            f"clickhouse:{scheme} host={p['host']} port={p['port']} database={p['database']} user={p['username']}"
        )
        self._versioning(cache, freshness)

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        text = runnable(text)
        settings = query_settings(row_limit, timeout_s)
        if self._profile_readonly != "0":  # readonly=2 cannot be changed, not even to 1 (see above)
            del settings["readonly"]
        with self._lock:
            self._client.timeout = Timeout(connect=_CONNECT_TIMEOUT_S, read=max(0.001, timeout_s) + _READ_GRACE_S)
            try:
                result = self._client.query(text, settings=settings)
            except ClickHouseError as exc:
                if getattr(exc, "code", None) == TIMEOUT_CODE or _read_timed_out(exc):
                    raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
                raise EngineError(f"ClickHouse: {reason(exc)}") from None
        rows = [tuple(row) for row in result.result_rows]
        kept, truncated = cut(rows, row_limit)
        return QueryResult(columns=list(result.column_names), rows=kept, truncated=truncated)

    def close(self) -> None:
        self._client.close()


def _read_timed_out(exc: BaseException) -> bool:
    """Whether the HTTP read timed out (the server neither answered nor cancelled in time)."""
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, ReadTimeoutError) or isinstance(getattr(inner, "reason", None), ReadTimeoutError):
            return True
        inner = inner.__cause__
    return False
