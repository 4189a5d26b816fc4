"""Spark SQL adapter: a local SparkSession (``spark://local``) or a Spark Connect server (``sc://host:port``).

Spark has no read-only session, so defence in depth under the SQL guard is built from what it has:

- the guarded text runs as a subquery, ``SELECT * FROM (<text>) AS chatbi_query``: only a query can
  stand there, so Spark's own parser refuses a command (DDL, DML, SET, ADD JAR, CACHE) even if the
  guard were bypassed;
- ``spark.sql.runSQLOnFiles`` is off, so ``parquet.`/some/path``` cannot read a file;
- in the local session the functions that call Java methods (``reflect``, ``java_method``,
  ``try_reflect``) are dropped from the session's function registry (a Spark Connect server's
  registry is the server's to harden).

The time limit puts the query's jobs in a job group (a tag on Spark Connect) that a watcher thread
cancels, interrupting the running tasks, when the query overruns; the row limit is the guard's LIMIT
(one row more than asked, so truncation is seen). The local SparkContext is started once per process
(a JVM start costs seconds) and every engine gets its own session of it, so two engines on two
folders never see each other's views. The data version for the result cache is the model's freshness
query.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engines._limits import cut, one_line
from engines._server import FreshnessVersioned
from engines.result_cache import ResultCache
from semantic_layer.engine import EngineError, QueryResult, QueryTimeout
from semantic_layer.semantic_model import Freshness

LOCAL_PREFIX = "spark://local"
CONNECT_PREFIX = "sc://"
INSTALL = "pip install 'chatbi[spark]'"
CONNECT_INSTALL = "pip install 'pyspark[connect]'"

#: Session settings every engine sets on its session: Spark's answers then match DuckDB's (UTC, ANSI
#: arithmetic), few shuffle partitions suit the small results of governed queries on two cores, and
#: SQL cannot read files by path.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.runSQLOnFiles": "false",
}
#: Settings of the process's one local SparkContext: no web UI, no progress bars on stderr.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    **SESSION_CONF,
}
_JAVA_CALLS = ("reflect", "java_method", "try_reflect")
_RECANCEL_S = 0.1
_CONNECT_RETRIES = 4  # backoffs of 0.05, 0.2, 0.8 and 2 s
_QUERY_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
_PARQUET = ".parquet"

_ROOT_LOCK = threading.Lock()
_root: Any = None  # the process's local SparkSession, started on first use


def spark_target(url: str) -> tuple[str, Path | None]:
    """``("local", warehouse folder or None)`` for ``spark://local[/DIR][?warehouse=DIR]``, or
    ``("connect", None)`` for ``sc://host:port``."""
    if url.startswith(CONNECT_PREFIX):
        return "connect", None
    parts = urlsplit(url)
    if parts.scheme != "spark" or parts.netloc != "local":
        raise EngineError("a Spark URL is spark://local, spark://local/path/to/dir or sc://host:port")
    folders = [p for p in (parts.path, *parse_qs(parts.query).get("warehouse", [])) if p and p != "/"]
    if len(folders) > 1:
        raise EngineError("give the Spark warehouse folder once: spark://local/DIR or spark://local?warehouse=DIR")
    return "local", Path(folders[0]) if folders else None


def relation_files(folder: Path) -> dict[str, Path]:
    """The relations of a warehouse folder: ``NAME.parquet`` files and ``NAME/`` folders of Parquet files."""
    if not folder.is_dir():
        raise EngineError(f"Spark warehouse folder not found: {folder}")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        name = entry.name.removesuffix(_PARQUET) if entry.is_file() else entry.name
        if entry.name.startswith((".", "_")) or (entry.is_file() and not entry.name.endswith(_PARQUET)):
            continue  # hidden files, Spark's _SUCCESS markers, a loader's temporary files
        if not name.isidentifier():
            raise EngineError(f"{entry}: a relation's file or folder must be named NAME.parquet or NAME/")
        if name in found:
            raise EngineError(f"{folder}: relation {name} is both a file and a folder")
        found[name] = entry
    return found


def _quiet_import() -> Any:
    """pyspark's SparkSession, quietly: pyspark warns about pandas versions on import and logs every failed
    query's error as a JSON record with a Java stack trace on stderr; the error reaches the caller as an
    EngineError anyway."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from pyspark.logger import PySparkLogger
            from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(f"Spark support needs pyspark and Java 17+: {INSTALL}") from None
    for name in _QUERY_LOGGERS:
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
    return SparkSession


def _local_root() -> Any:
    """The process's local SparkSession (``local[2]``), started once."""
    global _root
    session_class = _quiet_import()
    with _ROOT_LOCK:
        if _root is None:
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only; no hostname warning
            builder = session_class.builder.master("local[2]").appName("chatbi")
            for key, value in LOCAL_CONF.items():
                builder = builder.config(key, value)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    _root = builder.getOrCreate()
            except Exception as exc:  # no Java, a JVM that does not start
                raise EngineError(f"cannot start a local Spark session (needs Java 17+): {one_line(exc)}") from None
            _root.sparkContext.setLogLevel("ERROR")
        return _root


def _connect_session(url: str) -> Any:
    """A new session on the Spark Connect server at `url`, checked by asking its version (Connect
    sessions are lazy: a wrong address would otherwise surface at the first question)."""
    session_class = _quiet_import()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import pyspark.sql.connect.session  # noqa: F401  needs grpcio and friends
    except ImportError:
        raise EngineError(f"Spark Connect (sc://) needs pyspark's connect extra: {CONNECT_INSTALL}") from None
    address = url.split(";")[0]  # the parameters may hold a token
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "retries exceeded": the error says it
            session = session_class.builder.remote(url).create()
            # Connect retries an unreachable server for at least 10 minutes by default; a question waits seconds.
            session.client.set_retry_policies([DefaultPolicy(max_retries=_CONNECT_RETRIES, max_backoff=2_000)])
            session.version  # noqa: B018  the first round trip
    except Exception as exc:
        raise EngineError(f"cannot connect to Spark Connect at {address}: {_rpc_reason(exc)}") from None
    return session


def _rpc_reason(exc: BaseException) -> str:
    """The gRPC error's own text (``details()``) where the error or its cause has one, else its first line."""
    cause: BaseException | None = exc
    while cause is not None:
        details = getattr(cause, "details", None)
        if callable(details) and details():
            return one_line(Exception(details()))
        cause = cause.__cause__ or cause.__context__
    return one_line(exc)


def _drop_java_calls(session: Any) -> None:
    """Remove the Java-calling functions from this local session's own function registry."""
    jvm, registry = session._jvm, session._jsparkSession.sessionState().functionRegistry()
    builtin, system = jvm.scala.Option.apply("builtin"), jvm.scala.Option.apply("system")
    for name in _JAVA_CALLS:
        registry.dropFunction(jvm.org.apache.spark.sql.catalyst.FunctionIdentifier(name, builtin, system))


def plain(value: Any, local_time: bool = False) -> Any:
    """A Spark value as DuckDB's driver returns it. pyspark gives a TIMESTAMP (with local time zone) as a
    naive datetime in this process's zone (`local_time`); it is given in UTC, the session's zone, as a
    naive datetime like DuckDB's TIMESTAMP. Nested rows become tuples, arrays lists."""
    if local_time and isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, tuple):  # a Row is a tuple
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytearray):
        return bytes(value)
    return value


class SparkEngine(FreshnessVersioned):
    """Read-only Spark SQL engine: a session of the local SparkContext on a folder of Parquet files
    (each registered as a temporary view named after its relation), or a Spark Connect session."""

    dialect = "spark"

    def __init__(
        self,
        url: str,
        *,
        allowed_tables: frozenset[str],
        cache: ResultCache | None = None,
        freshness: Freshness | None = None,
    ) -> None:
        kind, folder = spark_target(url)
        self.allowed_tables = allowed_tables
        self._connected = kind == "connect"
        self._views: list[str] = []
        if self._connected:
            self._session = _connect_session(url)
            self.identity = f"spark-connect:{url.split(';')[0]}"  # parameters may hold a token
        else:
            files = relation_files(folder) if folder is not None else {}
            self._session = _local_root().newSession()
            for key, value in SESSION_CONF.items():
                self._session.conf.set(key, value)
            _drop_java_calls(self._session)
            self._register(files)
            self.identity = f"spark:local:{folder.resolve() if folder is not None else ''}"
        self._versioning(cache, freshness)

    def _register(self, files: dict[str, Path]) -> None:
        self._views = list(files)
        try:
            for name, path in files.items():
                self._session.read.parquet(str(path)).createOrReplaceTempView(name)
        except Exception as exc:
            raise EngineError(f"cannot read the Spark warehouse: {one_line(exc)}") from None

    def catalog(self, *, timeout_s: float = 60.0) -> list[tuple]:
        """What ``chatbi model init`` scaffolds from: Spark's catalog is the session's, the folder's views
        (local: no database, so unqualified) or the tables of a Connect session's current database. Read
        from the schemas Spark already holds, not by a statement, so ``timeout_s`` has nothing to bound."""
        try:
            if self._connected:
                tables = [(t.database or "", t.name) for t in self._session.catalog.listTables() if not t.isTemporary]
            else:
                tables = [("", name) for name in self._views]
            rows = []
            for schema, name in tables:
                for column in self._session.table(f"{schema}.{name}" if schema else name).schema.fields:
                    rows.append((schema, name, column.name, column.dataType.simpleString()))
        except Exception as exc:  # py4j and Connect errors alike
            raise EngineError(f"cannot read Spark's catalog: {one_line(exc)}") from None
        return rows

    def _run(self, text: str, row_limit: int, timeout_s: float) -> QueryResult:
        group = f"chatbi-{uuid.uuid4().hex}"
        done, timed_out = threading.Event(), threading.Event()

        def watch() -> None:
            """Cancel the query's jobs once it overruns, and again until it returns: a cancel reaches only
            jobs already running, and a query still being planned starts its jobs later."""
            if done.wait(max(0.001, timeout_s)):
                return
            timed_out.set()
            while not done.is_set():
                self._cancel(group)
                done.wait(_RECANCEL_S)

        self._label(group)
        watcher = threading.Thread(target=watch, name=f"{group}-timeout", daemon=True)
        watcher.start()
        try:
            frame = self._session.sql(f"SELECT * FROM ({text}) AS chatbi_query")
            fields = frame.schema.fields
            rows = frame.collect()
        except Exception as exc:  # py4j / Spark Connect errors share no useful base class
            if timed_out.is_set():
                raise QueryTimeout(f"query cancelled after {timeout_s:g} s") from None
            raise EngineError(f"Spark: {one_line(exc)}") from None
        finally:
            done.set()
            self._unlabel(group)
        local_time = [f.dataType.typeName() == "timestamp" for f in fields]  # not timestamp_ntz
        values = [tuple(plain(v, lt) for v, lt in zip(row, local_time, strict=True)) for row in rows]
        kept, truncated = cut(values, row_limit)
        return QueryResult(columns=[f.name for f in fields], rows=kept, truncated=truncated)

    # The jobs of a query are labelled from the thread that runs it, so the watcher can cancel them. Locally
    # that is a job group whose running tasks are interrupted on cancel (a local session's interruptTag
    # finds no jobs to cancel); Spark Connect's server runs the jobs, and cancels them by tag.

    def _label(self, group: str) -> None:
        if self._connected:
            self._session.addTag(group)
        else:
            self._session.sparkContext.setJobGroup(group, "chatbi query", interruptOnCancel=True)

    def _cancel(self, group: str) -> None:
        if self._connected:
            self._session.interruptTag(group)
        else:
            self._session.sparkContext.cancelJobGroup(group)

    def _unlabel(self, group: str) -> None:
        if self._connected:
            self._session.removeTag(group)
        else:
            self._session.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    def close(self) -> None:
        """End a Spark Connect session; locally, drop this engine's views (the process's SparkContext stays
        up for the next engine)."""
        if self._connected:
            self._session.stop()
            return
        for name in self._views:  # by name: listing the catalog resolves every view, reading its files
            self._session.catalog.dropTempView(name)
