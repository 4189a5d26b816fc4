"""Downloads and feedback over HTTP: who may fetch an answer's file or judge it, and what comes back.

The answer store is a file under a temporary ``$CHATBI_HOME`` shared by two apps, as by two workers
of ``chatbi serve --workers 2``: an answer given by one is downloaded and judged through the other.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from agent.answer_store import AnswerStore
from agent.assistant import Assistant
from agent.conversation_store import ConversationStore
from api.server.config import ServerConfig
from api.server.services import Services
from tests.test_server_api import _app

USERS = [
    {"name": "alice", "role": "finance", "api_keys": ["k-alice"]},
    {"name": "fay", "role": "finance", "api_keys": ["k-fay"]},
    {"name": "bob", "role": "store_manager", "store": "st_sh01", "api_keys": ["k-bob"]},
    {"name": "bea", "role": "store_manager", "store": "st_sh01", "api_keys": ["k-bea"]},
    {"name": "carl", "role": "store_manager", "store": "st_bj01", "api_keys": ["k-carl"]},
    {"name": "mia", "role": "marketing", "api_keys": ["k-mia"]},
]


def key(name: str) -> dict[str, str]:
    return {"X-API-Key": f"k-{name}"}


@pytest.fixture(scope="module")
def clients(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps (two workers) on one answer store file."""
    home = tmp_path_factory.mktemp("home")
    config = ServerConfig.model_validate({"users": USERS})
    opened = []
    for _ in range(2):
        assistant = Assistant.open(demo_db, conversations=ConversationStore(home / "conversations.sqlite"))
        opened.append(assistant)
    services = [Services(a, config) for a in opened]
    assert all(s.answers.path == home / "answers.sqlite" for s in services)
    yield tuple(TestClient(_app(s), raise_server_exceptions=False) for s in services)  # type: ignore[misc]
    for assistant in opened:
        assistant.close()


def asked(client: TestClient, who: str, question: str) -> dict:
    response = client.post("/v1/ask", json={"question": question}, headers=key(who))
    assert response.status_code == 200
    return response.json()


def test_an_answer_with_rows_downloads_whole_from_another_worker(clients: tuple[TestClient, TestClient]) -> None:
    one, two = clients
    answer = asked(one, "alice", "去年各月各渠道的销售额")
    assert answer["answer_id"] and len(answer["rows"]) == 60
    response = two.get(f"/v1/answers/{answer['answer_id']}.csv", headers=key("alice"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert f'filename="chatbi-{answer["answer_id"]}.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["月", "渠道代码", "渠道", "销售额"]
    assert rows[1:] == [[str(v) for v in row] for row in answer["rows"]]
    xlsx = two.get(f"/v1/answers/{answer['answer_id']}.xlsx", headers=key("alice"))
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["结果", "指标定义"] and book["结果"].max_row == 61
    assert book["结果"].freeze_panes == "A2"


def test_no_answer_id_without_rows(clients: tuple[TestClient, TestClient]) -> None:
    one, _ = clients
    clarification = asked(one, "alice", "上个月周转怎么样?")
    refusal = asked(one, "mia", "上个月的应收余额是多少?")  # marketing reads no AR
    assert (clarification["status"], refusal["status"]) == ("clarification", "refusal")
    assert clarification["answer_id"] is None and refusal["answer_id"] is None


def test_a_store_manager_cannot_fetch_another_stores_answer(clients: tuple[TestClient, TestClient]) -> None:
    one, two = clients
    answer_id = asked(one, "bob", "上个月每天的销售额")["answer_id"]
    assert answer_id
    assert two.get(f"/v1/answers/{answer_id}.csv", headers=key("bob")).status_code == 200
    assert two.get(f"/v1/answers/{answer_id}.csv", headers=key("bea")).status_code == 200  # same store scope
    for other in ("carl", "alice"):  # another store; another role
        refused = two.get(f"/v1/answers/{answer_id}.xlsx", headers=key(other))
        unknown = two.get("/v1/answers/nosuchanswer0.xlsx", headers=key(other))
        assert refused.status_code == unknown.status_code == 404  # not 403: ids cannot be probed
        assert refused.json()["error"] == "not_found"
        assert refused.json()["message"].replace(answer_id, "X") == unknown.json()["message"].replace(
            "nosuchanswer0", "X"
        )
    assert two.get(f"/v1/answers/{answer_id}.csv").status_code == 401
    assert two.get(f"/v1/answers/{answer_id}.csv", headers={"X-API-Key": "nope"}).status_code == 401
    assert two.get("/v1/answers/bad%20id.csv", headers=key("bob")).status_code == 422


def test_a_link_token_downloads_without_a_key_and_only_its_answer(clients: tuple[TestClient, TestClient]) -> None:
    one, two = clients
    first = asked(one, "bob", "上个月每天的销售额")["answer_id"]
    second = asked(one, "carl", "上个月每天的销售额")["answer_id"]
    services: Services = two.app.state.services  # type: ignore[attr-defined]
    token = services.answers.link_token(first)
    assert two.get(f"/v1/answers/{first}.csv?token={token}").status_code == 200
    assert two.get(f"/v1/answers/{second}.csv?token={token}").status_code == 404
    assert two.get(f"/v1/answers/{first}.csv?token=wrong").status_code == 404


def test_feedback_is_kept_with_everything_and_only_for_callers_who_may_see_the_answer(
    clients: tuple[TestClient, TestClient],
) -> None:
    one, two = clients
    answer = asked(one, "bob", "上个月每天的销售额")
    url = f"/v1/answers/{answer['answer_id']}/feedback"
    kept = two.post(url, json={"rating": "down", "comment": "少了退货"}, headers=key("bea"))
    assert kept.status_code == 201
    body = kept.json()
    assert {k: body[k] for k in ("rating", "comment", "user", "role", "store", "channel", "question", "sql")} == {
        "rating": "down", "comment": "少了退货", "user": "bea", "role": "store_manager", "store": "st_sh01",
        "channel": "api", "question": "上个月每天的销售额", "sql": answer["sql"],
    }  # fmt: skip
    assert body["plan"] == answer["plan"] and body["conversation_id"] == answer["conversation_id"]
    assert two.post(url, json={"rating": "up"}, headers=key("carl")).status_code == 404
    assert two.post(url, json={"rating": "meh"}, headers=key("bob")).status_code == 422
    assert two.post(url, json={"rating": "up", "comment": "x" * 2001}, headers=key("bob")).status_code == 422
    assert two.post(url, json={"rating": "up"}).status_code == 401
    store: AnswerStore = one.app.state.services.answers  # type: ignore[attr-defined]
    assert [(f.user, f.rating) for f in store.feedback() if f.answer_id == answer["answer_id"]] == [("bea", "down")]


def test_downloads_and_feedback_are_in_the_openapi_document(clients: tuple[TestClient, TestClient]) -> None:
    paths = clients[0].get("/openapi.json").json()["paths"]
    assert {"/v1/answers/{answer_id}.csv", "/v1/answers/{answer_id}.xlsx", "/v1/answers/{answer_id}/feedback"} <= set(
        paths
    )
    assert set(paths["/v1/answers/{answer_id}/feedback"]["post"]["responses"]) >= {"201", "401", "404", "422"}
