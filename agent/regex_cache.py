"""Regular expressions compiled once per installation instead of once per process.

The planner's cue words (`agent/cues.py`), time expressions (`agent/time_expressions.py`), phrase
book and the tools' triggers are about 130 long alternations of Chinese and English words. Python's
``re`` parses and compiles a pattern in pure Python, which cost `chatbi ask` about 0.3 s of every
start. A :class:`PatternSet` keeps the compiler's output for its patterns in the disk cache
(`semantic_layer/disk_cache.py`, keyed by the pattern texts, their flags and the Python version) and
makes each pattern from it with ``_sre.compile``: the last step of ``re.compile``, taking the same
arguments, so the pattern is equal (``==`` compares the compiled code) to what ``re.compile`` makes.
With the cache off, or an entry that ``_sre`` rejects, each pattern is compiled the ordinary way.

The patterns are lazy: a module declares them at import (``YOY = _rx(...)``) and the whole set is
compiled, or read from the cache, when the first of them is used, so importing costs nothing and a
set is read once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

try:  # the compiler's internals: the same module in Python 3.11 to 3.13; anything else compiles normally
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - another Python
    _sre = None

_Args = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]


def _compile_args(source: str, flags: int) -> _Args:
    """What ``re.compile(source, flags)`` passes to ``_sre.compile`` after the pattern (re/_compiler.py)."""
    parsed = _parser.parse(source, flags)
    code = [int(op) for op in _compiler._code(parsed, flags)]  # opcodes are int subclasses pickle cannot name
    groupindex = parsed.state.groupdict
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, number in groupindex.items():
        indexgroup[number] = name
    return flags | parsed.state.flags, code, parsed.state.groups - 1, dict(groupindex), tuple(indexgroup)


class PatternSet:
    """Patterns compiled together on first use; ``name`` names their disk-cache entry.

    Patterns declared after the set was compiled (a second planner's) start a new batch, compiled
    together when one of them is first used."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._batch = _Batch()

    def pattern(self, source: str, flags: int = 0) -> re.Pattern[str]:
        """A pattern that compiles (with the rest of its batch) when first used; it answers what a
        ``re.Pattern`` does."""
        if self._batch.compiled is not None:
            self._batch = _Batch()
        self._batch.sources.append((source, int(flags)))
        return cast("re.Pattern[str]", LazyPattern(self, self._batch, len(self._batch.sources) - 1))

    def load(self) -> None:
        """Compile the patterns declared so far (``re.error`` for an invalid one), from the disk cache
        if it has them."""
        self._compiled(self._batch)

    def _compiled(self, batch: _Batch) -> list[re.Pattern[str]]:
        if batch.compiled is None:  # two threads may both compile it: the same patterns either way
            batch.compiled = _read(self.name, list(batch.sources))
        return batch.compiled


class _Batch:
    __slots__ = ("sources", "compiled")

    def __init__(self) -> None:
        self.sources: list[tuple[str, int]] = []
        self.compiled: list[re.Pattern[str]] | None = None


def _read(name: str, sources: list[tuple[str, int]]) -> list[re.Pattern[str]]:
    if _sre is None:
        return [re.compile(source, flags) for source, flags in sources]
    from semantic_layer.disk_cache import cached, file_digest

    inputs = [
        repr(sources).encode(),
        str(_sre.MAGIC).encode(),
        file_digest([Path(__file__)]),
    ]
    arguments = cached(f"regex-{name}", inputs, lambda: [_compile_args(s, f) for s, f in sources])
    try:
        return [_sre.compile(s, *args) for (s, _), args in zip(sources, arguments, strict=True)]
    except (RuntimeError, TypeError, ValueError):  # an entry _sre does not accept: compile the usual way
        return [re.compile(source, flags) for source, flags in sources]


class LazyPattern:
    """Stands for the ``re.Pattern`` it becomes on first use, with its methods and attributes."""

    __slots__ = ("_set", "_batch", "_index", "_compiled")

    def __init__(self, patterns: PatternSet, batch: _Batch, index: int) -> None:
        self._set = patterns
        self._batch = batch
        self._index = index
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        return self._compiled or self._compile()

    def _compile(self) -> re.Pattern[str]:
        compiled = self._set._compiled(self._batch)
        if self._index < len(compiled):
            self._compiled = compiled[self._index]
        else:  # declared by another thread while its batch was being compiled: on its own
            self._compiled = re.compile(*self._batch.sources[self._index])
        return self._compiled

    def search(self, string: str, *args: int) -> re.Match[str] | None:
        return (self._compiled or self._compile()).search(string, *args)

    def match(self, string: str, *args: int) -> re.Match[str] | None:
        return (self._compiled or self._compile()).match(string, *args)

    def fullmatch(self, string: str, *args: int) -> re.Match[str] | None:
        return (self._compiled or self._compile()).fullmatch(string, *args)

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:
        return (self._compiled or self._compile()).finditer(string, *args)

    def findall(self, string: str, *args: int) -> list[Any]:
        return (self._compiled or self._compile()).findall(string, *args)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)

    def subn(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> tuple[str, int]:
        return self.compiled.subn(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return self.compiled.split(string, maxsplit)

    @property
    def pattern(self) -> str:
        return self.compiled.pattern

    @property
    def flags(self) -> int:
        return self.compiled.flags

    @property
    def groups(self) -> int:
        return self.compiled.groups

    @property
    def groupindex(self) -> Any:
        return self.compiled.groupindex

    def __eq__(self, other: object) -> bool:
        return self.compiled == (other.compiled if isinstance(other, LazyPattern) else other)

    def __hash__(self) -> int:
        return hash(self.compiled)

    def __repr__(self) -> str:
        return repr(self.compiled)

    # Pickled and copied as the re.Pattern it stands for (which copies as itself: it is immutable).
    def __reduce__(self) -> tuple[Any, ...]:
        return re.compile, (self.compiled.pattern, self.compiled.flags)

    def __copy__(self) -> re.Pattern[str]:
        return self.compiled

    def __deepcopy__(self, memo: object) -> re.Pattern[str]:
        return self.compiled
