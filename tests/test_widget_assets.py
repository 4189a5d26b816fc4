"""The widget's files as the app serves them, without a browser: types, caching, and no CDN.

Customers run chatbi on closed networks, so every file the widget needs, the chart library
included, comes from the app itself; the chart library from the installed ``plotly`` package.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.widget import widget_router
from api.widget.assets import STATIC_DIR, plotly_path

OWN_ASSETS = ["/widget.js", "/static/widget.css", "/"]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(widget_router())
    return TestClient(app)


def test_widget_js_is_javascript(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "attachShadow" in response.text


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/static/widget.css", "text/css; charset=utf-8"), ("/", "text/html; charset=utf-8")],
)
def test_other_files_have_their_types(client: TestClient, path: str, media_type: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type


def test_demo_page_embeds_the_widget_with_one_script_tag(client: TestClient) -> None:
    html = client.get("/").text
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="widget.js" data-ask-from-url>']


@pytest.mark.parametrize("path", OWN_ASSETS)
def test_own_files_reference_no_other_host(client: TestClient, path: str) -> None:
    body = client.get(path).text
    assert re.findall(r"https?://", body) == []
    assert re.findall(r"""(?:src|href)\s*=\s*["']//|url\(\s*["']?//|@import""", body) == []


def test_chart_library_is_the_installed_plotly_package(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content.startswith(b"/**\n* plotly.js v")
    assert response.content == plotly_path().read_bytes()
    assert "site-packages" in str(plotly_path()) or "dist-packages" in str(plotly_path())
    # not a copy kept in the repository
    assert not [p.name for p in Path(STATIC_DIR).iterdir() if "plotly" in p.name]


def test_chart_library_is_sent_gzipped_and_revalidated(client: TestClient) -> None:
    response = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 2
    assert response.content == plotly_path().read_bytes()  # httpx decompressed it
    assert "max-age=86400" in response.headers["cache-control"]
    again = client.get("/static/plotly.min.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_widget_is_revalidated_on_each_load(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.headers["cache-control"] == "public, max-age=0"
    assert client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/..%2Fwidget.js", "/static/__init__.py"])
def test_only_known_static_files_are_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_widget_routes_stay_out_of_the_api_docs() -> None:
    app = FastAPI()
    app.include_router(widget_router())
    assert app.openapi()["paths"] == {}


def test_missing_chart_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.widget.assets as assets

    monkeypatch.setattr(assets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install plotly"):
        assets.plotly_path()
