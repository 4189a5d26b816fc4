"""The plan of a process's first question, kept on disk, so that a one-shot ``chatbi ask`` of a question
asked before builds no planner: importing the embedded planner and building its phrase indexes over the
model and the master data was about a quarter of a cold ``chatbi ask`` (README "Cold start").

Only the embedded planner's plans are kept, only for a question without earlier turns, and only while
the process has not built its planner (a server builds it at its first new question and from then on
remembers plans in memory). An entry is named by everything such a plan follows from: the question,
the asker, the reference date, the model files (``files_digest``: only a model read from files
qualifies), the planner's phrase files and verified questions (every file under the model folder's
``planner/``), the warehouse's data version (the master data the planner resolves members against;
an engine that keeps no version keeps no plans), whether verified questions answer first, and the
source of agent/, tools/ and presentation/ by file identity (semantic_layer/ is in every disk entry's
name already). A refusal or a clarification is a plan like another and kept the same way.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from semantic_layer.disk_cache import file_identity
from semantic_layer.engine import Engine
from semantic_layer.query import Principal
from semantic_layer.semantic_model import SemanticModel, files_digest

#: The packages a plan's making reads beside semantic_layer/: the planner, the tool registry (what
#: each tool can be asked), the message catalogue.
_PACKAGES = ("agent", "tools", "presentation")


@functools.lru_cache(maxsize=1)
def _code() -> bytes:
    root = Path(__file__).parents[1]
    files = sorted(p for package in _PACKAGES for p in (root / package).rglob("*.py"))
    return b"\0".join(file_identity(p) for p in files)


def _planner_files(model: SemanticModel) -> bytes | None:
    if model.folder is None:
        return None
    folder = Path(model.folder) / "planner"
    return b"\0".join(file_identity(p) for p in sorted(folder.rglob("*")) if p.is_file()) if folder.is_dir() else b""


def plan_inputs(
    question: str, principal: Principal, today: dt.date, model: SemanticModel, engine: Engine, verified_first: bool
) -> list[bytes] | None:
    """The entry's inputs, or None when nothing may be kept (a model not from files, no data version)."""
    digest = files_digest(model)
    planner_files = _planner_files(model) if digest is not None else None
    version = engine.cache_version() if planner_files is not None else None
    if digest is None or planner_files is None or version is None:
        return None
    parts: list[Any] = [question, principal.model_dump_json(), today.isoformat(), version, str(verified_first)]
    return [digest, planner_files, _code(), *(p.encode() for p in parts)]
