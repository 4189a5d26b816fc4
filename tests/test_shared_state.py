"""The deployment's shared memory of what was seen: once per key, across threads and processes, until it expires."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from api.shared_state import SharedState, SharedStateError, default_path


def test_a_key_is_seen_once_per_kind(tmp_path: Path) -> None:
    state = SharedState(tmp_path / "state.sqlite")
    assert state.seen_once("sign", "1700000000000:abc", 60)
    assert not state.seen_once("sign", "1700000000000:abc", 60)
    assert state.seen_once("message", "1700000000000:abc", 60)  # kinds do not collide
    assert state.seen_once("sign", "1700000000001:abc", 60)


def test_a_key_is_forgotten_when_it_expires_and_expired_rows_are_pruned(tmp_path: Path) -> None:
    now = [1000.0]
    state = SharedState(tmp_path / "state.sqlite", clock=lambda: now[0])
    assert state.seen_once("k", "a", 10) and state.seen_once("k", "b", 100)
    now[0] += 9.9
    assert not state.seen_once("k", "a", 10)
    now[0] += 0.2
    assert state.seen_once("k", "a", 10)  # its first sighting expired: a new one
    now[0] += 200
    state.seen_once("k", "c", 10)
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        assert db.execute("SELECT key FROM seen").fetchall() == [("c",)]


def test_another_connection_to_the_same_file_sees_the_same_keys(tmp_path: Path) -> None:
    first, second = SharedState(tmp_path / "s.sqlite"), SharedState(tmp_path / "s.sqlite")
    assert first.seen_once("k", "x", 60)
    assert not second.seen_once("k", "x", 60)
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_threads_racing_on_one_key_see_it_first_exactly_once(tmp_path: Path) -> None:
    state = SharedState(tmp_path / "s.sqlite")
    results: list[bool] = []
    start = threading.Barrier(8)

    def race() -> None:
        start.wait()
        results.extend(state.seen_once("k", f"key{i}", 60) for i in range(50))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 400 and results.count(True) == 50


def _claim(path: str, keys: int) -> list[int]:
    """In a worker process: the keys this process saw first."""
    state = SharedState(path)
    return [i for i in range(keys) if state.seen_once("event", f"ev{i}", 60)]


def test_processes_racing_on_the_same_keys_each_key_is_first_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        claimed = list(pool.map(_claim, [path] * 4, [200] * 4))
    everyone = sorted(i for mine in claimed for i in mine)
    assert everyone == list(range(200))  # each key claimed by exactly one process


def test_the_file_lives_beside_the_conversation_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBI_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "server_state.sqlite"
    SharedState().seen_once("k", "v", 1)
    assert (tmp_path / "home" / "server_state.sqlite").is_file()


def test_a_time_to_live_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        SharedState(tmp_path / "s.sqlite").seen_once("k", "v", 0)


def test_an_unusable_home_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(SharedStateError, match="CHATBI_HOME") as caught:
        SharedState(tmp_path / "a-file" / "server_state.sqlite")
    assert "a-file" in str(caught.value)
