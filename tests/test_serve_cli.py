"""`chatbi serve` as a real process on a free loopback port: start, health, ask, keys, stop; refusals at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

#: `chatbi serve ...` with this interpreter (the console script may not be on PATH).
SERVE = "from api.cli import app\napp(prog_name='chatbi')\n"


def chatbi_serve(*args: str) -> list[str]:
    return [sys.executable, "-c", SERVE, "serve", *args]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATBI_", "OPENAI_"))}
    return {**env, "CHATBI_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(home: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """A `chatbi serve` process until healthy; yields its base URL and the file its output goes to."""
    port = free_port()
    log = home / "serve.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            chatbi_serve("--port", str(port), *args), stdout=out, stderr=subprocess.STDOUT, env=_env(home)
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become healthy:\n" + log.read_text()
            time.sleep(0.2)
        yield base, log
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text()


def test_demo_mode_serves_on_loopback_and_says_so(demo_db: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with running(home, "--db", str(demo_db), "--planner", "embedded") as (base, log):
        banner = log.read_text()
        assert f"{base}/" in banner and "DEMO MODE" in banner and "planner: embedded" in banner
        assert "turns kept 30 days" in banner
        assert httpx.get(f"{base}/healthz").json()["warehouse"] == "ok"
        first = httpx.post(
            f"{base}/v1/ask", json={"question": "上个月天猫的销售额", "conversation_id": "p1"}, timeout=30
        )
        assert first.status_code == 200 and first.json()["status"] == "answer"
        second = httpx.post(f"{base}/v1/ask", json={"question": "那京东呢?", "conversation_id": "p1"}, timeout=30)
        assert second.json()["plan"]["filters"][0]["members"] == ["jd"]
        assert httpx.get(f"{base}/v1/conversations/p1").json()["turns"][1]["question"] == "那京东呢?"
        assert httpx.get(f"{base}/docs").status_code == 200
    assert (home / "conversations.sqlite").is_file()  # conversations outlive the process


def test_with_users_keys_are_required(demo_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(
        "users:\n"
        "  - {name: alice, role: finance, api_keys: [k-alice]}\n"
        "  - {name: sam, role: store_manager, api_keys: [k-sam]}\n",
        encoding="utf-8",
    )
    args = ("--db", str(demo_db), "--config", str(config), "--planner", "embedded", "--keep-conversations", "7")
    with running(tmp_path / "home", *args) as (base, log):
        text = log.read_text()
        assert "users: 2" in text and "DEMO MODE" not in text and "turns kept 7 days" in text
        assert "warning: user 'sam' is a store_manager without a store" in text

        def ask(*key: str) -> httpx.Response:
            headers = {"X-API-Key": key[0]} if key else {}
            return httpx.post(f"{base}/v1/ask", json={"question": "上个月销售额"}, headers=headers, timeout=30)

        assert ask().status_code == 401 and ask("k-sam").status_code == 403
        answered = ask("k-alice")
        assert answered.status_code == 200 and answered.json()["status"] == "answer"


def _refused(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(chatbi_serve(*args), capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_demo_mode_refuses_to_listen_beyond_loopback(demo_db: Path, tmp_path: Path, host: str) -> None:
    message = _refused(tmp_path, "--db", str(demo_db), "--host", host)
    assert "demo mode" in message and "loopback" in message and "--config" in message


def test_start_up_errors_say_what_to_do(demo_db: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    assert f"chatbi demo build --db {missing}" in _refused(tmp_path, "--db", str(missing))
    assert not missing.exists()
    broken = tmp_path / "bad.yaml"
    broken.write_text("users: [", encoding="utf-8")
    assert "not valid YAML" in _refused(tmp_path, "--db", str(demo_db), "--config", str(broken))
    assert "--planner" in _refused(tmp_path, "--db", str(demo_db), "--planner", "gpt")


def test_a_conversation_store_that_cannot_work_stops_the_start_with_one_line(demo_db: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("a file where the folder should be", encoding="utf-8")
    message = _refused(home, "--db", str(demo_db))
    assert message.count("\n") == 1 and str(home) in message and "CHATBI_HOME" in message

    other = tmp_path / "other"
    other.mkdir()
    (other / "conversations.sqlite").write_text("not a database\n" * 200, encoding="utf-8")
    message = _refused(other, "--db", str(demo_db))
    assert message.count("\n") == 1
    assert str(other / "conversations.sqlite") in message and "not a SQLite database" in message


def test_the_conversation_max_age_is_checked_at_start(demo_db: Path, tmp_path: Path) -> None:
    assert "--keep-conversations" in _refused(tmp_path, "--db", str(demo_db), "--keep-conversations", "0")
    result = subprocess.run(
        chatbi_serve("--db", str(demo_db)),
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "CHATBI_CONVERSATION_MAX_AGE_DAYS": "a month"},
        timeout=60,
    )
    assert result.returncode == 2 and "CHATBI_CONVERSATION_MAX_AGE_DAYS" in result.stderr
    assert "Traceback" not in result.stderr
