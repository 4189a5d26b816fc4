"""The disk cache of the parsed model and the master-data index: hits equal fresh builds, any changed
input is a miss, a broken or unwritable cache only costs a rebuild."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from engines import connect, members
from semantic_layer import disk_cache
from semantic_layer.semantic_model import MODEL_DIR, _load


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(folder))
    return folder


class Builds:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> dict[str, list[int]]:
        self.count += 1
        return {"value": [1, 2, 3]}


def test_an_entry_is_built_once_then_read_back(cache: Path) -> None:
    build = Builds()
    assert disk_cache.cached("demo", [b"input"], build) == {"value": [1, 2, 3]}
    assert disk_cache.cached("demo", [b"input"], build) == {"value": [1, 2, 3]}
    assert build.count == 1
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)
    disk_cache.cached("demo", [b"other input"], build)
    assert build.count == 2


def test_a_broken_entry_is_rebuilt_and_replaced(cache: Path) -> None:
    build = Builds()
    disk_cache.cached("demo", [b"input"], build)
    (entry,) = cache.glob("demo-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert disk_cache.cached("demo", [b"input"], build) == {"value": [1, 2, 3]}
    assert disk_cache.cached("demo", [b"input"], build) == {"value": [1, 2, 3]}
    assert build.count == 2


def test_off_or_unwritable_only_costs_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = Builds()
    monkeypatch.setenv(disk_cache.CACHE_ENV, "off")
    disk_cache.cached("demo", [b"input"], build)
    disk_cache.cached("demo", [b"input"], build)
    assert build.count == 2 and disk_cache.cache_dir() is None
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be", encoding="utf-8")
    monkeypatch.setenv(disk_cache.CACHE_ENV, str(blocker / "cache"))
    assert disk_cache.cached("demo", [b"input"], build) == {"value": [1, 2, 3]}
    assert build.count == 3


def test_old_entries_of_a_kind_are_pruned(cache: Path) -> None:
    build = Builds()
    for n in range(disk_cache.KEEP_PER_KIND + 3):
        disk_cache.cached("demo", [str(n).encode()], build)
    disk_cache.cached("other", [b"x"], build)
    assert len(list(cache.glob("demo-*.pickle"))) == disk_cache.KEEP_PER_KIND
    assert len(list(cache.glob("other-*.pickle"))) == 1
    assert not list(cache.glob(".*.tmp"))


def test_the_cached_model_equals_a_fresh_parse(cache: Path) -> None:
    files = sorted(MODEL_DIR.glob("*.yaml"))
    inputs = [disk_cache.file_digest(files)]
    fresh = _load(MODEL_DIR)
    first = disk_cache.cached("model", inputs, lambda: _load(MODEL_DIR))
    again = disk_cache.cached("model", inputs, lambda: pytest.fail("read back, not rebuilt"))
    assert again == fresh == first
    assert again.metric_dimensions("gmv") == fresh.metric_dimensions("gmv")


def test_master_data_from_the_cache_answers_like_a_fresh_index(
    cache: Path, demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, db)
    builds: list[int] = []
    real = members._load

    def counted(*args: object) -> object:
        builds.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(members, "_load", counted)

    def open_index() -> members.MasterData:
        engine = connect(db)
        try:
            return members.load_master_data(engine)
        finally:
            engine.close()

    fresh, cached = open_index(), open_index()
    assert len(builds) == 1
    questions = [
        "上个月天猫的毛利率",
        "GMV of Tmall and JD in Shanghai",
        "面膜和精华的销量",
        "华东地区的门店",
        "珂兰面膜套装",
    ]
    for question in questions:
        assert cached.find_mentions(question) == fresh.find_mentions(question)
    for mention in ["天猫", "tmall", "面模", "shanghai", "套装", "不存在的东西"]:
        assert cached.resolve(mention) == fresh.resolve(mention)
    assert cached.size == fresh.size and cached.members("store") == fresh.members("store")
    # Every name, as the compact pickle keeps it (and once more, pickled again from the cache's copy).
    again = pickle.loads(pickle.dumps(cached))
    for surface in fresh._surfaces:
        assert cached.resolve(surface) == fresh.resolve(surface) == again.resolve(surface)
        assert cached.find_mentions(surface) == fresh.find_mentions(surface)
    assert cached.resolve("面模", kinds={"category"}) == fresh.resolve("面模", kinds={"category"})

    os.utime(db, ns=(db.stat().st_atime_ns, db.stat().st_mtime_ns + 1_000_000_000))  # the warehouse changed
    open_index()
    assert len(builds) == 2
