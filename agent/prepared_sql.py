"""Compiled queries kept on disk as the text the SQL guard approved, so that a repeated question
asked from a new process (a one-shot ``chatbi ask``) runs without the compiler and without sqlglot.

An entry is named by a digest of everything its text follows from: the model files' bytes (only a
model ``load_model()`` read from files qualifies; one made or changed in memory is compiled every
time), the source of ``semantic_layer/`` (compiler and guard; ``disk_cache`` adds it), of
``engines/_limits.py`` and of this module, the installed sqlglot (its files' identity), the
MetricQuery, the asker's role and store, the engine's dialect, its allowed tables and the row limit.
So an entry is only ever used for exactly the question, role and engine the guard checked it for:
another role, a changed model file or a new chatbi or sqlglot is another name, compiled afresh.
Text from outside the compiler (the LLM planner's SQL, a tool's SELECT) never comes through here.
Within a process the entries are kept in memory too, so a server reads each from disk once.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from semantic_layer.disk_cache import cached, file_identity
from semantic_layer.engine import Engine
from semantic_layer.prepared import GuardedSql, PreparedQuery
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.semantic_model import SemanticModel, files_digest

if TYPE_CHECKING:
    from sqlglot import exp

#: Entries of a kind kept on disk (one small file per question) and in memory.
KEEP = 512
_memory: OrderedDict[bytes, object] = OrderedDict()
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _code() -> bytes:
    """What the guard's text depends on outside ``semantic_layer/``: this module, the engines' guard
    call, and sqlglot (which renders it), by its installed files' identity (no import needed)."""
    spec = importlib.util.find_spec("sqlglot")
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    parts = [Path(__file__).read_bytes(), (Path(__file__).parents[1] / "engines" / "_limits.py").read_bytes()]
    return b"\0".join([*parts, file_identity(origin) if origin is not None else b"no sqlglot"])


def _inputs(model: SemanticModel, engine: Engine, row_limit: int, *parts: str) -> list[bytes] | None:
    digest = files_digest(model)
    tables = getattr(engine, "allowed_tables", None)
    if digest is None or not isinstance(tables, frozenset):
        return None
    return [digest, _code(), engine.dialect.encode(), "\0".join(sorted(tables)).encode(), str(row_limit).encode()] + [
        p.encode() for p in parts
    ]


def _kept(kind: str, inputs: list[bytes], build: Callable[[], object]) -> object:
    key = b"\1".join([kind.encode(), *inputs])
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    value = cached(kind, inputs, build, keep=KEEP)
    with _lock:
        _memory[key] = value
        while len(_memory) > KEEP:
            _memory.popitem(last=False)
    return value


def prepared_query(
    query: MetricQuery, model: SemanticModel, principal: Principal, engine: Engine, row_limit: int
) -> PreparedQuery | None:
    """``query`` compiled for ``principal`` and approved by the guard for ``engine``, from the disk cache
    when an earlier process did it; None when nothing may be kept (see the module). A refusal raises
    the compiler's ``QueryError`` and is not kept."""
    inputs = _inputs(model, engine, row_limit, query.model_dump_json(), principal.model_dump_json())
    if inputs is None:
        return None

    def build() -> PreparedQuery:
        from agent.metric_runner import compile_cached
        from engines._limits import approve

        compiled = compile_cached(query, model, principal, engine.dialect)
        tables = getattr(engine, "allowed_tables")  # noqa: B009 - checked by _inputs
        guarded = approve(compiled.ast, dialect=engine.dialect, allowed_tables=tables, row_limit=row_limit)
        return PreparedQuery(
            query=query,
            principal=principal,
            dialect=compiled.dialect,
            columns=list(compiled.columns),
            previous_period=compiled.previous_period,
            sql=compiled.sql,
            guarded=guarded,
        )

    prepared = _kept("prepared", inputs, build)
    assert isinstance(prepared, PreparedQuery)
    return prepared


def approved_select(
    name: str, tree: Callable[[], exp.Expr], model: SemanticModel, engine: Engine, row_limit: int
) -> GuardedSql | None:
    """A fixed statement of chatbi's own (``name`` says which, with what it is built from), built by
    ``tree()`` as a sqlglot tree and approved for ``engine``: from the disk cache when it was before."""
    inputs = _inputs(model, engine, row_limit, name)
    if inputs is None:
        return None

    def build() -> GuardedSql:
        from engines._limits import approve

        tables = getattr(engine, "allowed_tables")  # noqa: B009 - checked by _inputs
        return approve(tree(), dialect=engine.dialect, allowed_tables=tables, row_limit=row_limit)

    guarded = _kept("approved", inputs, build)
    assert isinstance(guarded, GuardedSql)
    return guarded
