"""Shared fixtures: the small demo warehouse is built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_SEED = 7


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False, help="Rewrite tests/golden/sql/*.sql.")


@pytest.fixture(autouse=True)
def _no_llm_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests are offline: a developer's own LLM settings must not reach them (``auto`` would use them)."""
    for name in ("CHATBI_LLM_MODEL", "CHATBI_LLM_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def demo_seed() -> int:
    return SMALL_SEED


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to a small-scale demo DuckDB file (built once, shared, treat as read-only)."""
    from demo.build import build_demo

    path = tmp_path_factory.mktemp("demo") / "small.duckdb"
    build_demo(path, scale="small", seed=SMALL_SEED, force=False, progress=False)
    return path
