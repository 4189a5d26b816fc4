"""The embeddable web chat widget: ``GET /widget.js``, its static files and a demo page at ``GET /``.

One ``<script src=".../widget.js" data-api-key="..." data-lang="zh|en">`` tag embeds a chat
bubble into any page. The widget lives in a shadow root (its styles cannot leak out, the host's
cannot leak in), talks only to ``POST /v1/ask`` (server-sent events for progress, plain JSON as
the fallback) and draws the answer's chart spec with plotly.js served by this router, never a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from api.widget.assets import Asset, plotly_asset, static_asset

_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
_HTML = "text/html; charset=utf-8"


def widget_router() -> APIRouter:
    """Routes for the widget (kept out of the OpenAPI docs, which describe the API).

    Files are read when the router is built: a missing chart library fails the server's start
    with a clear message rather than a chart that silently never draws. Column labels and cell text
    come with each answer (``labels``, ``display``): the widget formats nothing itself.
    """
    widget = static_asset("widget.js", _JS)
    demo = static_asset("demo.html", _HTML)
    static: dict[str, Asset] = {"widget.css": static_asset("widget.css", _CSS), "plotly.min.js": plotly_asset()}
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def demo_page(request: Request) -> Response:
        return demo.response(request)

    @router.get("/widget.js")
    def widget_js(request: Request) -> Response:
        return widget.response(request)

    @router.get("/static/{name}")
    def static_file(name: str, request: Request) -> Response:
        asset = static.get(name)
        if asset is None:
            raise HTTPException(status_code=404, detail=f"no static file named {name!r}")
        return asset.response(request)

    return router
