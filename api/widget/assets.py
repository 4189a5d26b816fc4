"""The widget's files as HTTP responses: loaded once, revalidated by ETag, gzipped on request.

The charting library is plotly.js as shipped inside the ``plotly`` PyPI package, so the same
registry install that brings the app brings the chart code, and the app serves it itself:
customers run this on closed networks, where a CDN is out of reach. It is ~4.8 MB, so it is
sent gzipped (~1.5 MB) to browsers that accept it, and cached by the browser between visits.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

from fastapi import Request, Response

STATIC_DIR = Path(__file__).parent / "static"
#: Below this size gzip saves too little to be worth the CPU.
_GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class Asset:
    """One file served as is. ``max_age`` 0 makes browsers revalidate (cheap with the ETag), so a
    new widget reaches users on their next page load; the chart library changes only with an install."""

    body: bytes
    media_type: str
    max_age: int = 0
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"')

    @cached_property
    def gzipped(self) -> bytes:
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    def response(self, request: Request) -> Response:
        headers = {"ETag": self.etag, "Cache-Control": f"public, max-age={self.max_age}", "Vary": "Accept-Encoding"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self.body
        if len(body) >= _GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(content=body, media_type=self.media_type, headers=headers)


def static_asset(name: str, media_type: str) -> Asset:
    """A file of ``api/widget/static``."""
    return Asset((STATIC_DIR / name).read_bytes(), media_type)


def plotly_path() -> Path:
    """Where the installed ``plotly`` package keeps plotly.min.js (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    raise RuntimeError("the web widget's chart library is missing: install the 'plotly' package (pip install plotly)")


@cache
def plotly_asset() -> Asset:
    """plotly.js, read once per process and cached by browsers for a day (its URL does not change
    with its version)."""
    return Asset(plotly_path().read_bytes(), "text/javascript; charset=utf-8", max_age=86400)
