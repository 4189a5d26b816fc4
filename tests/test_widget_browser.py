"""The web widget end to end in real headless Chromium: Playwright drives Debian's ``chromium``
against the app of ``create_app`` served by uvicorn on a loopback port.

A person opens the demo page, opens the bubble, asks, and sees the answer, a chart drawn by
plotly.js, the SQL behind a disclosure, clarification options as buttons, follow-ups; in Chinese
and in English. The page may load nothing from another host (the customer's network is closed),
and the widget's shadow root keeps the host page's CSS and its own apart, both ways.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package: skipped
when either is missing, unless ``CHATBI_REQUIRE_BROWSER=1`` (CI), where that is a failure.
Screenshots go to the test's tmp dir and, when ``CHATBI_SCREENSHOT_DIR`` is set, to that folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000
API_KEY = "k-widget-test"
#: A slow network for the event stream: the real response, re-chunked into 50-byte pieces (splitting
#: events and UTF-8 characters) with a pause after each piece that ends an event.
SLOW_STREAM = """(() => {
  const realFetch = window.fetch;
  window.fetch = async (url, init) => {
    const response = await realFetch(url, init);
    if (!init || !init.headers || init.headers.Accept !== 'text/event-stream') return response;
    const bytes = new Uint8Array(await response.arrayBuffer());
    const body = new ReadableStream({ async start(controller) {
      for (let i = 0; i < bytes.length; i += 50) {
        const piece = bytes.slice(i, i + 50);
        controller.enqueue(piece);
        if (piece.includes(10)) await new Promise((r) => setTimeout(r, 60));  // 10: a newline
      }
      controller.close();
    } });
    return new Response(body, { status: response.status, headers: response.headers });
  };
})()"""
#: Streaming that cannot start (a proxy that drops it): the widget must ask again in plain JSON.
BROKEN_STREAM = """(() => {
  const realFetch = window.fetch;
  window.fetch = (url, init) => init && init.headers && init.headers.Accept === 'text/event-stream'
    ? Promise.reject(new TypeError('Failed to fetch')) : realFetch(url, init);
})()"""
#: Records the widget's progress lines as they appear (the widget's shadow root is open).
WATCH_PROGRESS = """() => {
  window.__progress = [];
  const root = document.querySelector('chatbi-widget').shadowRoot;
  new MutationObserver(() => {
    root.querySelectorAll('.cb-progress').forEach((p) => {
      if (window.__progress[window.__progress.length - 1] !== p.textContent) window.__progress.push(p.textContent);
    });
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


def _require(reason: str) -> NoReturn:
    if os.environ.get("CHATBI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CHATBI_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# -- the app on a loopback port ------------------------------------------------------------------
def _serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread on a free loopback port; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Any]:
    from agent.assistant import Assistant

    opened = Assistant.open(demo_db)
    yield opened
    opened.close()


def _app(assistant: Any, config: Any) -> Any:
    from api.server.app import create_app
    from api.server.services import Services

    return create_app(Services(assistant, config))


@pytest.fixture(scope="module")
def base_url(assistant: Any) -> Iterator[str]:
    """The app in demo mode (no users): what ``chatbi serve`` runs on the demo data."""
    from api.server.config import ServerConfig

    yield from _serve(_app(assistant, ServerConfig()))


@pytest.fixture(scope="module")
def keyed_url(assistant: Any) -> Iterator[str]:
    """The app with one user and an API key: the widget must send ``X-API-Key``."""
    from api.server.config import ServerConfig

    config = ServerConfig.model_validate({"users": [{"name": "ann", "role": "admin", "api_keys": [API_KEY]}]})
    yield from _serve(_app(assistant, config))


# -- the browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _require(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


class Visit:
    """One browser page on the app, recording what must not happen: requests to other hosts,
    uncaught script errors, console errors."""

    def __init__(
        self, browser: Any, base: str, locale: str, html: Callable[[str], str] | None, script: str | None
    ) -> None:
        self.context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
        if script:
            self.context.add_init_script(script)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.asks: list[dict[str, str]] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("request", self._on_request)
        self.context.route("**/*", self._route)
        self.base, self.html = base, html

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname != "127.0.0.1":
            self.foreign.append(url)
            route.abort()
        elif self.html is not None and url.rstrip("/") == self.base:
            response = route.fetch()
            route.fulfill(response=response, body=self.html(response.text()))
        else:
            route.continue_()

    def _on_request(self, request: Any) -> None:
        if request.url.endswith("/v1/ask"):
            self.asks.append(request.headers)

    def open(self) -> Any:
        self.page.goto(self.base + "/")
        self.page.click("chatbi-widget .cb-bubble")
        self.page.wait_for_selector("chatbi-widget .cb-panel", state="visible")
        return self.page

    def ask(self, question: str) -> Any:
        """Type a question, send it with Enter; the answer card once it has settled."""
        count = self.page.locator("chatbi-widget .cb-bot").count()
        self.page.fill("chatbi-widget .cb-input", question)
        self.page.press("chatbi-widget .cb-input", "Enter")
        return self.settled(count)

    def settled(self, count: int) -> Any:
        card = self.page.locator("chatbi-widget .cb-bot").nth(count)
        card.and_(self.page.locator("chatbi-widget .cb-bot[data-status]:not([aria-busy])")).wait_for()
        return card

    def screenshot(self, tmp_path: Path, name: str) -> Path:
        path = tmp_path / name
        self.page.screenshot(path=str(path))
        folder = os.environ.get("CHATBI_SCREENSHOT_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(folder) / name)
        return path

    def close(self) -> None:
        self.context.close()
        assert self.foreign == [], f"the page tried to load from other hosts: {self.foreign}"
        assert self.errors == [], f"script errors in the page: {self.errors}"


@pytest.fixture
def visit(browser: Any, base_url: str) -> Iterator[Callable[..., Visit]]:
    opened: list[Visit] = []

    def make(
        locale: str = "zh-CN",
        base: str | None = None,
        html: Callable[[str], str] | None = None,
        script: str | None = None,
    ) -> Visit:
        opened.append(Visit(browser, base or base_url, locale, html, script))
        return opened[-1]

    yield make
    for v in opened:
        v.close()


def _chart_drawn(card: Any) -> Any:
    """The plotly SVG of the card's chart, once drawn."""
    chart = card.locator(".cb-chart[data-rendered='true']")
    chart.wait_for()
    return chart


# -- the flows -----------------------------------------------------------------------------------
def test_chinese_answer_chart_sql_and_clarification(visit: Callable[..., Visit], tmp_path: Path) -> None:
    v = visit("zh-CN", script=SLOW_STREAM)
    page = v.open()
    assert page.get_attribute("chatbi-widget .cb-input", "placeholder").startswith("输入问题")
    page.evaluate(WATCH_PROGRESS)

    card = v.ask("上个月各渠道的销售额")
    assert card.get_attribute("data-status") == "answer"
    assert "天猫" in card.locator(".cb-text").inner_text()
    assert v.asks[-1].get("accept") == "text/event-stream"
    progress = page.evaluate("window.__progress")
    assert progress == ["正在理解问题…", "正在运行 SQL…", "正在组织回答…"], progress

    chart = _chart_drawn(card)
    assert chart.locator("svg.main-svg").count() >= 1
    assert chart.locator(".barlayer .point").count() >= 4  # one bar per channel
    assert card.locator(".cb-chart-title").inner_text() == "各渠道销售额"
    assert chart.locator(".ytick text").first.text_content().startswith("¥")

    headers = card.locator(".cb-table th").all_inner_texts()
    assert headers == ["渠道", "销售额"]
    cells = card.locator(".cb-table td").all_inner_texts()
    assert "天猫" in cells and any(c.startswith("¥") and c.endswith("万") for c in cells)

    v.screenshot(tmp_path, "widget-zh-answer.png")

    assert not card.locator(".cb-sql").is_visible()
    card.locator(".cb-details summary").click()
    assert "SELECT" in card.locator(".cb-sql").inner_text()
    assert "销售额" in card.locator(".cb-defs").inner_text()
    chips = card.locator(".cb-chip").all_inner_texts()
    assert 2 <= len(chips) <= 3 and "同比" in chips

    clarification = v.ask("上个月周转怎么样")
    assert clarification.get_attribute("data-status") == "clarification"
    options = clarification.locator(".cb-option")
    assert options.count() == 2
    picked = options.first.inner_text()
    before = page.locator("chatbi-widget .cb-bot").count()
    options.first.click()
    answer = v.settled(before)
    assert page.locator("chatbi-widget .cb-user").last.inner_text() == picked
    assert answer.get_attribute("data-status") == "answer"
    assert "库存周转" in answer.locator(".cb-text").inner_text()
    # the conversation goes on: every question after the first carried the id the server gave back
    assert len(v.asks) == 3
    v.screenshot(tmp_path, "widget-zh-clarification.png")


def test_english_question_gets_english_answer_and_ui(visit: Callable[..., Visit], tmp_path: Path) -> None:
    v = visit("en-US")
    page = v.open()
    assert page.get_attribute("chatbi-widget .cb-bubble", "aria-label") == "Open the data assistant"
    assert page.locator("chatbi-widget .cb-title").inner_text().startswith("Data assistant")
    card = v.ask("GMV by channel last month")
    assert card.get_attribute("data-status") == "answer"
    assert card.get_attribute("lang") == "en"
    assert "Tmall" in card.locator(".cb-text").inner_text()
    assert card.locator(".cb-details summary").inner_text() == "SQL and definitions"
    assert card.locator(".cb-table th").all_inner_texts() == ["channel", "GMV"]
    assert "vs last year" in card.locator(".cb-chip").all_inner_texts()
    _chart_drawn(card)
    v.screenshot(tmp_path, "widget-en-answer.png")


def test_falls_back_to_json_when_streaming_fails(visit: Callable[..., Visit]) -> None:
    v = visit("zh-CN", script=BROKEN_STREAM)
    v.open()
    card = v.ask("上个月天猫的毛利率是多少")
    assert card.get_attribute("data-status") == "answer"
    assert "毛利率" in card.locator(".cb-text").inner_text()
    assert [h.get("accept") for h in v.asks] == ["application/json"]
    assert card.locator(".cb-table").count() == 0  # one number: the text says it


def test_a_link_with_a_question_opens_the_widget_and_asks_it(visit: Callable[..., Visit]) -> None:
    v = visit("zh-CN")
    v.page.goto(v.base + "/?q=" + quote("上个月各渠道的销售额"))
    card = v.settled(1)  # after the welcome card
    assert card.get_attribute("data-status") == "answer"
    _chart_drawn(card)


def test_line_chart_for_a_time_series(visit: Callable[..., Visit]) -> None:
    v = visit("zh-CN")
    v.open()
    card = v.ask("去年各月销售额")
    chart = _chart_drawn(card)
    assert chart.locator(".scatterlayer .trace").count() == 1
    # the buckets by name, as the table shows them (the answer's display cells)
    assert chart.locator(".xtick text").first.text_content().startswith("2025年")
    assert card.locator(".cb-table td").first.inner_text() == "2025年1月"
    assert "按月拆开" not in card.locator(".cb-chip").all_inner_texts()  # it is by month already


def test_api_key_is_sent_and_bad_credentials_read_friendly(
    visit: Callable[..., Visit], keyed_url: str, tmp_path: Path
) -> None:
    def with_key(key: str, lang: str = "zh") -> Callable[[str], str]:
        return lambda html: html.replace('src="widget.js"', f'src="widget.js" data-api-key="{key}" data-lang="{lang}"')

    good = visit("zh-CN", keyed_url, with_key(API_KEY, "en"))
    page = good.open()
    assert page.locator("chatbi-widget .cb-send").inner_text() == "Send"  # data-lang beats the browser's language
    assert good.ask("上个月各渠道的销售额").get_attribute("data-status") == "answer"
    assert good.asks[-1].get("x-api-key") == API_KEY

    bad = visit("zh-CN", keyed_url, with_key("wrong"))
    bad.open()
    card = bad.ask("上个月各渠道的销售额")
    assert card.get_attribute("data-status") == "failed"
    assert card.inner_text().strip() == "无法验证身份:请检查 API key。"
    bad.errors.clear()  # the browser logs the 401 itself


# -- style isolation -----------------------------------------------------------------------------
HOSTILE_CSS = """
* { color: red !important; font-size: 40px !important; font-family: serif !important;
    line-height: 3 !important; background: yellow !important; letter-spacing: 4px !important; }
chatbi-widget { display: none !important; position: absolute !important; left: -9999px !important; }
button, input, div, section { border: 6px solid lime !important; padding: 30px !important; margin: 20px !important; }
"""
WIDGET_STYLES = """() => {
  const root = document.querySelector('chatbi-widget').shadowRoot;
  const pick = (sel) => {
    const e = root.querySelector(sel), s = getComputedStyle(e), r = e.getBoundingClientRect();
    return [sel, s.color, s.fontSize, s.fontFamily, s.lineHeight, s.backgroundColor, s.borderTopWidth,
            s.paddingTop, s.letterSpacing, Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)];
  };
  return ['.cb-panel', '.cb-title', '.cb-text', '.cb-input', '.cb-send', '.cb-chip', '.cb-log'].map(pick);
}"""
HOST_STYLES = """() => ['body', 'header h1', 'nav a', 'h2', 'li', 'p', 'th', 'td', 'button', 'input', 'footer', 'div']
  .map((sel) => { const s = getComputedStyle(document.querySelector(sel));
    return [sel, s.color, s.fontSize, s.fontFamily, s.lineHeight, s.backgroundColor, s.borderTopWidth, s.borderTopColor,
            s.padding, s.margin, s.boxSizing, s.letterSpacing, s.textAlign, s.display]; })"""


def test_host_css_does_not_reach_the_widget(visit: Callable[..., Visit], tmp_path: Path) -> None:
    v = visit("zh-CN")
    page = v.open()
    before = page.evaluate(WIDGET_STYLES)
    page.add_style_tag(content=HOSTILE_CSS)
    assert page.evaluate(WIDGET_STYLES) == before
    assert page.locator("chatbi-widget .cb-panel").is_visible()
    v.screenshot(tmp_path, "widget-hostile-host.png")


def test_widget_css_does_not_reach_the_host(browser: Any, visit: Callable[..., Visit]) -> None:
    bare = visit("zh-CN")
    bare.context.route("**/widget.js", lambda route: route.abort())
    bare.page.goto(bare.base + "/")
    without_widget = bare.page.evaluate(HOST_STYLES)
    assert bare.page.locator("chatbi-widget").count() == 0
    bare.errors.clear()  # the aborted script is logged

    v = visit("zh-CN")
    page = v.open()
    _chart_drawn(v.ask("上个月各渠道的销售额"))  # plotly loaded and drawn too
    assert page.evaluate(HOST_STYLES) == without_widget


# -- downloads and feedback ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def kept_url(assistant: Any) -> Iterator[tuple[str, Any]]:
    """A keyed app whose answer store the test reads back."""
    from api.server.app import create_app
    from api.server.config import ServerConfig
    from api.server.services import Services

    config = ServerConfig.model_validate({"users": [{"name": "ann", "role": "admin", "api_keys": [API_KEY]}]})
    services = Services(assistant, config)
    for url in _serve(create_app(services)):
        yield url, services


def test_download_buttons_and_thumbs_with_a_comment(
    visit: Callable[..., Visit], kept_url: tuple[str, Any], tmp_path: Path
) -> None:
    import openpyxl

    url, services = kept_url
    v = visit("zh-CN", url, lambda html: html.replace('src="widget.js"', f'src="widget.js" data-api-key="{API_KEY}"'))
    page = v.open()
    card = v.ask("上个月各渠道的销售额")
    assert [b.inner_text() for b in card.locator(".cb-download").all()] == ["下载 Excel", "下载 CSV"]
    with page.expect_download() as download:
        card.locator(".cb-download[data-format='xlsx']").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("chatbi-") and saved.suffix == ".xlsx"
    book = openpyxl.load_workbook(saved)
    assert [c.value for c in book["结果"][1]] == ["渠道代码", "渠道", "销售额"] and book["结果"].max_row == 6
    card.locator(".cb-thumb[data-rating='down']").click()
    assert card.locator(".cb-thumb[data-rating='down']").get_attribute("aria-pressed") == "true"
    card.locator(".cb-comment").fill("少了小红书的退货")
    card.locator(".cb-send-feedback").click()
    card.locator(".cb-thanks").wait_for()
    assert card.locator(".cb-thanks").inner_text() == "谢谢反馈!"
    v.screenshot(tmp_path, "widget-feedback.png")
    kept = services.answers.feedback()
    assert [(f.rating, f.comment, f.user, f.question) for f in kept] == [("down", "少了小红书的退货", "ann", "上个月各渠道的销售额")]
    clarified = v.ask("上个月周转怎么样?")
    assert clarified.locator(".cb-download, .cb-thumb").count() == 0  # no rows: nothing to download or judge
