"""The OpenAPI document matches what the server does: schemathesis generates requests from it (valid and
invalid, 50 per operation and mode) and checks every response against it (status codes, bodies, headers,
no 5xx), as an admin and as a store manager.

The app is the one `chatbi serve` builds (widget and bots stubbed as in test_server_api), called in
process through ASGI; its users come from a generated server config. The schemathesis pytest plugin's
lazy fixtures do not work with this pytest, so each operation's strategy is run with hypothesis here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from agent.assistant import Assistant
from api.server.config import ServerConfig
from api.server.services import Services
from tests.test_serve_cli import running
from tests.test_server_api import _app

KEYS = {"admin": "k-fuzz-admin", "store_manager": "k-fuzz-manager"}
CONFIG = {
    "users": [
        {"name": "ada", "role": "admin", "api_keys": [KEYS["admin"]]},
        {"name": "sam", "role": "store_manager", "store": "st_sh01", "api_keys": [KEYS["store_manager"]]},
    ]
}
OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/v1/ask"),
    ("GET", "/v1/conversations/{conversation_id}"),
    ("DELETE", "/v1/conversations/{conversation_id}"),
    ("GET", "/v1/metrics"),
    ("GET", "/v1/answers/{answer_id}.csv"),
    ("GET", "/v1/answers/{answer_id}.xlsx"),
    ("POST", "/v1/answers/{answer_id}/feedback"),
]
#: Operations with a body or a path parameter: the ones schemathesis can also send wrong data to.
WITH_INPUT = [*OPERATIONS[1:4], *OPERATIONS[5:]]
CASES = [(*op, GenerationMode.POSITIVE) for op in OPERATIONS] + [(*op, GenerationMode.NEGATIVE) for op in WITH_INPUT]
EXAMPLES = 50
#: The schemathesis command of this interpreter's environment (the venv's bin/ may not be on PATH).
SCHEMATHESIS = [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"]


@pytest.fixture(scope="module")
def api_schema(demo_db: Path) -> Iterator[Any]:
    assistant = Assistant.open(demo_db)
    app = _app(Services(assistant, ServerConfig.model_validate(CONFIG)))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    assistant.close()


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert documented == set(OPERATIONS)
    with_input = {op for op in OPERATIONS if api_schema[op[1]][op[0]].body or api_schema[op[1]][op[0]].path_parameters}
    assert with_input == set(WITH_INPUT)


@pytest.mark.parametrize("role", list(KEYS))
@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_the_api_conforms_to_its_openapi(api_schema: Any, method: str, path: str, role: str, mode: Any) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def conforms(case: Any) -> None:
        case.call_and_validate(headers={"X-API-Key": KEYS[role]})

    conforms()


@pytest.mark.parametrize("role", list(KEYS))
def test_schemathesis_run_against_chatbi_serve(demo_db: Path, tmp_path: Path, role: str) -> None:
    """The rest of schemathesis' phases, every check (unsupported methods and their Allow header, ignored
    auth, missing headers, stateful sequences), against a real `chatbi serve` on loopback."""
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    args = ("--db", str(demo_db), "--config", str(config), "--planner", "embedded")
    with running(tmp_path / "home", *args) as (base, _):
        result = subprocess.run(
            [
                *SCHEMATHESIS,
                "run",
                f"{base}/openapi.json",
                "--header",
                f"X-API-Key: {KEYS[role]}",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,stateful",
                "--max-examples",
                str(EXAMPLES),
                "--workers",
                "1",
                "--seed",
                "11",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp_path,  # its own cache folder lands there
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
