"""The warehouse the cases are written against: the small demo, seed 7, as of 2026-01-01.

Gold SQL results are numbers from this exact build, so the cached file is rebuilt whenever
the demo generator's source changes (a fingerprint is kept beside it), not only when missing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

SCALE = "small"
SEED = 7
#: The dataset's "today": relative words ("last month") in the cases resolve against it.
REFERENCE_DAY = dt.date(2026, 1, 1)
CACHE_NAME = f"eval-{SCALE}-seed{SEED}.duckdb"


class DatasetError(Exception):
    """The eval warehouse is missing or cannot be built; the message is meant for the user."""


def cache_path() -> Path:
    """``$CHATBI_CACHE_DIR/eval-small-seed7.duckdb``, by default under ``~/.cache/chatbi``."""
    folder = os.environ.get("CHATBI_CACHE_DIR") or Path.home() / ".cache" / "chatbi"
    return Path(folder) / CACHE_NAME


def ensure_dataset(db: Path | None = None, *, progress: bool = False) -> Path:
    """The DuckDB file to evaluate on: ``db`` if given (it must exist), else the cached build."""
    if db is not None:
        if not db.is_file():
            raise DatasetError(f"database not found: {db}")
        return db
    path = cache_path()
    stamp = path.with_name(path.name + ".fingerprint")
    fingerprint = _generator_fingerprint()
    if path.is_file() and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return path
    from demo.build import BuildError, build_demo

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        build_demo(path, scale=SCALE, seed=SEED, force=True, progress=progress)
        stamp.write_text(fingerprint + "\n")
    except (BuildError, OSError) as exc:
        raise DatasetError(f"cannot build the eval dataset at {path}: {exc}") from None
    return path


def _generator_fingerprint() -> str:
    """A hash of the demo package's source: a changed generator means different gold numbers."""
    import demo

    digest = hashlib.sha256()
    for source in sorted(Path(demo.__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]
