"""What a new process would otherwise rebuild on every start, kept on disk: the parsed model, the
master-data index.

`chatbi ask` is one process per question, and parsing the model's YAML and indexing 35,000
member names took most of its second. Each entry is a pickle named by a digest of everything
it was built from: the inputs the caller names (the model files' bytes; the warehouse file's
identity and modification time), the source of this package (a changed class never reads an
old layout) and the Python version. So an entry is never stale: a change to any input is a new
name, and the old file is pruned. A missing or unreadable entry is rebuilt; a folder that cannot
be written only costs the rebuild next time.

Entries live in ``$CHATBI_CACHE_DIR``, else ``$CHATBI_HOME/cache`` (default ``~/.chatbi/cache``),
created private (0700): unpickling runs what the file says, so the cache is kept with the user's
other private state, never in a shared folder. ``CHATBI_CACHE_DIR=off`` turns it off.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, cast

T = TypeVar("T")
CACHE_ENV = "CHATBI_CACHE_DIR"
#: Entries of one kind kept (one per warehouse file in use, say); older ones are deleted on write.
KEEP_PER_KIND = 8
#: Bumped when the file format itself changes.
_FORMAT = b"chatbi-disk-cache-1"
log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """Where entries live, or None when ``CHATBI_CACHE_DIR=off``."""
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("CHATBI_HOME") or Path.home() / ".chatbi") / "cache"


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> bytes:
    """The source of this package: the classes an entry holds are defined here."""
    digest = hashlib.sha256(_FORMAT)
    digest.update(sys.version.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def file_digest(paths: Iterable[Path]) -> bytes:
    """The names and bytes of ``paths``: an input that is a set of files (the model's YAML)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def file_identity(path: Path) -> bytes:
    """A file by where it is and what stat says of it: any rewrite or replacement changes it."""
    st = os.stat(path)
    return f"{path.resolve()}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()


def cached(kind: str, inputs: Iterable[bytes], build: Callable[[], T], keep: int = KEEP_PER_KIND) -> T:
    """The entry built from ``inputs`` if one is on disk, else ``build()`` (stored for the next process,
    with the newest ``keep`` entries of its kind)."""
    folder = cache_dir()
    if folder is None:
        return build()
    digest = hashlib.sha256(_code_fingerprint())
    for part in inputs:
        digest.update(hashlib.sha256(part).digest())
    path = folder / f"{kind}-{digest.hexdigest()[:32]}.pickle"
    try:
        data = path.read_bytes()
    except OSError:
        pass
    else:
        loaded = _loads(data)
        if loaded is not None:
            return cast(T, loaded)
    value = build()
    _store(folder, kind, path, value, keep)
    return value


def _loads(data: bytes) -> object | None:
    """Unpickle with the cyclic collector paused: it would scan the young objects again and again
    while tens of thousands are created (half the time of a master-data load)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    except Exception as exc:  # a truncated or foreign file: rebuilt and overwritten
        log.debug("disk cache entry unreadable, rebuilding: %s", exc)
        return None
    finally:
        if was_enabled:
            gc.enable()


def _store(folder: Path, kind: str, path: Path, value: object, keep: int) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # atomic: a concurrent reader sees the old entry or the whole new one
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        others = sorted(folder.glob(f"{kind}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[keep:]:
            old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError) as exc:
        log.debug("disk cache not written (%s): %s", path, exc)
