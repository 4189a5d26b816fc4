"""`--update-golden`: rewrite the golden SQL files from the current compiler instead of comparing.

The option itself is declared in tests/conftest.py so that it works from the root. Run as
``pytest --update-golden`` (or set CHATBI_UPDATE_GOLDEN=1 with any
pytest command line), then review the diff like any other code change.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture()
def update_golden(request: pytest.FixtureRequest) -> bool:
    return (
        bool(request.config.getoption("--update-golden", default=False))
        or os.environ.get("CHATBI_UPDATE_GOLDEN") == "1"
    )
