"""Patterns made from the disk cache are the patterns re.compile makes (== compares the compiled code)."""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path

import pytest

from agent import cues, time_expressions
from agent.regex_cache import LazyPattern, PatternSet

SOURCES = [(r"(?P<n>\d+)\s*(?:天|days?)", 0), (r"\bq([1-4])\b", re.IGNORECASE), (r"同比|环比|yoy", 0)]


def _set(sources: list[tuple[str, int]]) -> tuple[PatternSet, list[re.Pattern[str]]]:
    patterns = PatternSet("test")
    return patterns, [patterns.pattern(source, flags) for source, flags in sources]


@pytest.mark.parametrize("cache", ["empty", "filled", "off"])
def test_patterns_equal_re_compile(cache: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBI_CACHE_DIR", "off" if cache == "off" else str(tmp_path))
    if cache == "filled":
        _set(SOURCES)[0].load()
        assert len(list(tmp_path.glob("regex-test-*.pickle"))) == 1
    _, lazy = _set(SOURCES)
    for (source, flags), pattern in zip(SOURCES, lazy, strict=True):
        expected = re.compile(source, flags)
        assert pattern == expected
        assert pattern.groupindex == expected.groupindex and pattern.groups == expected.groups
    assert lazy[0].search("库存 30 天").group("n") == "30"  # type: ignore[union-attr]
    assert [m.group(1) for m in lazy[1].finditer("Q3 vs q4")] == ["3", "4"]
    assert lazy[2].sub("*", "同比和环比") == "*和*"


def test_an_entry_sre_rejects_is_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBI_CACHE_DIR", str(tmp_path))
    _set(SOURCES)[0].load()
    (entry,) = tmp_path.glob("regex-test-*.pickle")
    arguments = pickle.loads(entry.read_bytes())
    arguments[0] = (arguments[0][0], [0, 1, 2, 3], *arguments[0][2:])  # not valid SRE code
    entry.write_bytes(pickle.dumps(arguments))
    _, lazy = _set(SOURCES)
    assert lazy[0] == re.compile(*SOURCES[0])


def test_the_planner_patterns_equal_re_compile() -> None:
    for module in (cues, time_expressions):
        batch = module._PATTERNS._batch
        module._PATTERNS.load()
        assert batch.compiled is not None and len(batch.compiled) == len(batch.sources) > 40
        for (source, flags), pattern in zip(batch.sources, batch.compiled, strict=True):
            assert pattern == re.compile(source, flags)


def test_patterns_declared_after_a_load_are_a_batch_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBI_CACHE_DIR", str(tmp_path))
    patterns, first = _set(SOURCES[:1])
    assert first[0].search("7天") is not None
    later = patterns.pattern(*SOURCES[1])
    assert later == re.compile(*SOURCES[1]) and first[0] == re.compile(*SOURCES[0])
    assert len(list(tmp_path.glob("regex-test-*.pickle"))) == 2


def test_a_lazy_pattern_pickles_and_copies_as_its_pattern() -> None:
    assert pickle.loads(pickle.dumps(cues.YOY)) == re.compile(cues.YOY.pattern)
    assert copy.deepcopy(cues.POP) is copy.copy(cues.POP)
    assert isinstance(copy.copy(cues.POP), re.Pattern)


def test_an_invalid_pattern_fails_at_load() -> None:
    patterns, _ = _set([("(unclosed", 0)])
    with pytest.raises(re.error):
        patterns.load()


def test_a_pattern_declared_while_its_batch_compiles_is_compiled_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATBI_CACHE_DIR", str(tmp_path))
    patterns, _ = _set(SOURCES[:1])
    batch = patterns._batch
    patterns.load()
    batch.sources.append(SOURCES[1])  # what another thread's declaration does between the snapshot and the store
    assert LazyPattern(patterns, batch, 1) == re.compile(*SOURCES[1])
