"""Answer -> what a chat platform shows: Slack Block Kit, DingTalk markdown or an ActionCard, a Feishu card.

All show the answer text as the assistant wrote it (its numbers already formatted by
:mod:`presentation.metric_format`), a compact table of the first rows with the answer's own labels and
display cells (``Answer.labels`` / ``Answer.display``: nothing is formatted here), the governed
definitions, and clarification options as buttons.

Each stays inside its platform's limits, by construction rather than by cutting the result:
Slack allows 50 blocks and 3000 characters per text, and a message here has at most
``SLACK_TEXT_SECTIONS + 5`` blocks; DingTalk clients stop rendering markdown past about
3500 characters, so the text is kept under :data:`DINGTALK_MAX_TEXT`; a Feishu card may carry
30 KB of JSON, and one here holds at most :data:`FEISHU_MAX_TEXT` characters of text, a table of
:data:`TABLE_ROWS` rows of cut cells and :data:`MAX_OPTIONS` buttons.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from agent.answer import Answer
from presentation.cells import NAME_SUFFIX, numeric_columns
from semantic_layer.semantic_model import SemanticModel

#: Rows the compact table shows; the whole table is behind the chart link and the API.
TABLE_ROWS = 10
#: Clarification options offered as buttons.
MAX_OPTIONS = 10
#: A cell wider than this (in monospace columns; CJK characters take two) is cut with an ellipsis.
CELL_WIDTH = 24

SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 3000
#: The answer text takes at most this many sections (each up to SLACK_MAX_TEXT characters).
SLACK_TEXT_SECTIONS = 5
SLACK_MAX_CONTEXT_ELEMENTS = 10
SLACK_BUTTON_TEXT = 75
SLACK_BUTTON_VALUE = 2000
#: action_id prefix of the clarification buttons; a click comes back as a block_actions interaction.
OPTION_ACTION = "chatbi_option_"
#: action_id prefix of the thumbs buttons (``chatbi_feedback_up`` / ``_down``); their value is the answer_id.
FEEDBACK_ACTION = "chatbi_feedback_"
#: What the DingTalk thumbs buttons send back as the user's message: ``反馈 👍 <answer_id>`` (a comment may follow).
DINGTALK_FEEDBACK = "反馈"
THUMBS = {"up": "👍", "down": "👎"}

DINGTALK_MAX_TEXT = 3500
#: A DingTalk client link that sends its content as the user's next message in the same chat.
DINGTALK_SEND = "dtmd://dingtalkclient/sendMessage?content="

FEISHU_MAX_TEXT = 4000
FEISHU_BUTTON_TEXT = 40
FEISHU_BUTTON_VALUE = 2000
#: The key of a Feishu option button's value: a click sends it back in a card.action.trigger callback.
FEISHU_OPTION = "chatbi_option"
#: The keys of a Feishu thumbs button's value: the rating (a key of THUMBS) and the answer it is about.
FEISHU_FEEDBACK, FEISHU_ANSWER = "chatbi_feedback", "chatbi_answer"

_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


@dataclass(frozen=True)
class CompactTable:
    """The first rows of an answer's table as a person reads them (display names, formatted cells)."""

    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    total: int


def compact_table(answer: Answer, model: SemanticModel, limit: int = TABLE_ROWS) -> CompactTable | None:
    """The answer's labels and display cells without the code columns that a ``<column>_name`` column names;
    None for a single number."""
    columns = answer.columns
    if not columns or not answer.rows or (len(columns) == 1 and len(answer.rows) == 1):
        return None
    answer.ensure_cells(model)
    keep = [i for i, column in enumerate(columns) if column + NAME_SUFFIX not in columns]
    numeric = numeric_columns(answer.rows, len(columns))
    headers = [answer.labels[i] for i in keep]
    rows = [[row[i] for i in keep] for row in answer.display[:limit]]
    return CompactTable(headers, rows, [numeric[i] for i in keep], len(answer.rows))


def _rows_note(table: CompactTable, shown: int, language: str) -> str | None:
    if shown >= table.total:
        return None
    return f"前 {shown} 行，共 {table.total} 行" if language == "zh" else f"first {shown} of {table.total} rows"


# -- Slack ------------------------------------------------------------------------------------
def slack_blocks(
    answer: Answer,
    model: SemanticModel,
    *,
    chart_url: str | None = None,
    picked: str | None = None,
    downloads: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Block Kit for ``answer``: text sections, a monospace table, chart and download links, definitions,
    option buttons (a clarification) or thumbs buttons (an answer kept for feedback).

    ``chart_url`` is where the widget renders the chart (shown only when the answer has one);
    ``picked`` is the option a button click asked, echoed so the thread shows what was chosen;
    ``downloads``: format (csv, xlsx) -> the link to the full result.
    """
    blocks: list[dict[str, Any]] = []
    if picked:
        blocks.append(_context(["› " + _mrkdwn(picked, SLACK_MAX_TEXT - 2)]))
    blocks += [_section(piece) for piece in _pieces(answer.text, SLACK_MAX_TEXT, SLACK_TEXT_SECTIONS)]
    notes = []
    table = compact_table(answer, model)
    if table is not None:
        text, shown = _monospace(table, SLACK_MAX_TEXT)
        blocks.append(_section(text))
        notes.append(_rows_note(table, shown, answer.language))
    if chart_url and answer.chart:
        label = "查看图表" if answer.language == "zh" else "Open the chart"
        title = _mrkdwn(str(answer.chart.get("title") or ""), 200)
        notes.append(
            f":chart_with_upwards_trend: <{chart_url}|{label}{'：' if answer.language == 'zh' else ': '}{title}>"
        )
    if downloads:
        notes.append(
            ":arrow_down: "
            + " · ".join(f"<{url}|{_download_label(fmt, answer.language)}>" for fmt, url in downloads.items())
        )
    if any(notes):
        blocks.append(_context([n for n in notes if n]))
    if answer.definitions:
        shown_definitions = answer.definitions[:SLACK_MAX_CONTEXT_ELEMENTS]
        blocks.append(_context([_mrkdwn(f"{d.name}: {d.definition}", SLACK_MAX_TEXT) for d in shown_definitions]))
    if answer.status == "clarification" and answer.options:
        blocks.append(
            {"type": "actions", "elements": [_button(i, o) for i, o in enumerate(answer.options[:MAX_OPTIONS])]}
        )
    elif answer.answer_id:
        blocks.append({"type": "actions", "elements": [_thumb(rating, answer) for rating in THUMBS]})
    return blocks


def _download_label(fmt: str, language: str) -> str:
    name = "Excel" if fmt == "xlsx" else fmt.upper()
    return f"下载 {name}" if language == "zh" else f"Download {name}"


def _thumb_label(rating: str, answer: Answer) -> str:
    words = {"up": ("有用", "Helpful"), "down": ("不对", "Not right")}[rating]
    return f"{THUMBS[rating]} {words[0] if answer.language == 'zh' else words[1]}"


def _thumb(rating: str, answer: Answer) -> dict[str, Any]:
    label = _thumb_label(rating, answer)
    return {
        "type": "button",
        "action_id": FEEDBACK_ACTION + rating,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": str(answer.answer_id),
    }


def slack_text(answer: Answer) -> str:
    """The message's plain ``text``: what notifications and screen readers show."""
    return _mrkdwn(answer.text, SLACK_MAX_TEXT)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(texts: list[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _button(index: int, option: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{OPTION_ACTION}{index}",
        "text": {"type": "plain_text", "text": _cut(option, SLACK_BUTTON_TEXT), "emoji": False},
        "value": option[:SLACK_BUTTON_VALUE],
    }


def _monospace(table: CompactTable, limit: int) -> tuple[str, int]:
    """The table as a code block of at most ``limit`` characters, and how many rows it kept."""
    cells = [table.headers, *table.rows]
    widths = [max(_width(_cut_width(row[i])) for row in cells) for i in range(len(table.headers))]

    def line(row: list[str]) -> str:
        parts = []
        for value, width, numeric in zip(row, widths, table.numeric, strict=True):
            value = _cut_width(value)
            pad = " " * (width - _width(value))
            parts.append(pad + value if numeric else value + pad)
        return "  ".join(parts).rstrip()

    lines = [line(table.headers), "  ".join("-" * w for w in widths)]
    shown = 0
    for row in table.rows:
        candidate = _mrkdwn_escape("\n".join([*lines, line(row)]))
        if len(candidate) + 8 > limit:  # 8: the code fences and their newlines
            break
        lines.append(line(row))
        shown += 1
    return "```\n" + _mrkdwn_escape("\n".join(lines)) + "\n```", shown


def _width(text: str) -> int:
    """Monospace columns ``text`` takes: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cut_width(text: str) -> str:
    if _width(text) <= CELL_WIDTH:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > CELL_WIDTH - 1:
            break
        out += ch
    return out + "…"


def _mrkdwn_escape(text: str) -> str:
    return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text)


def _mrkdwn(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn in at most ``limit`` characters (cut with an ellipsis)."""
    return _pieces(text, limit, 1)[0] if text else ""


def _pieces(text: str, limit: int, count: int) -> list[str]:
    """``text`` escaped for mrkdwn in at most ``count`` pieces of at most ``limit`` characters each,
    cut at line ends where possible; what does not fit ends the last piece with an ellipsis."""
    pieces: list[str] = []
    rest = text
    while rest and len(pieces) < count:
        last = len(pieces) == count - 1
        head, rest = _take(rest, limit - 1 if last else limit)
        pieces.append(head + "…" if last and rest else head)
    return pieces


def _take(text: str, limit: int) -> tuple[str, str]:
    """The longest escaped head of ``text`` within ``limit`` characters (ending at a line end if it can), and the rest."""
    used = end = 0
    for i, ch in enumerate(text):
        used += len(_SLACK_ESCAPES.get(ch, ch))
        if used > limit:
            break
        end = i + 1
    else:
        return _mrkdwn_escape(text), ""
    newline = text.rfind("\n", 0, end)
    cut = newline + 1 if newline > 0 else end
    return _mrkdwn_escape(text[:cut].rstrip("\n")), text[cut:]


# -- DingTalk ---------------------------------------------------------------------------------
def dingtalk_message(answer: Answer, model: SemanticModel, downloads: dict[str, str] | None = None) -> dict[str, Any]:
    """The robot message for ``answer``: an ActionCard whose buttons send an option back (a clarification) or a
    thumbs verdict (an answer kept for feedback), else markdown; ``downloads`` links the full result."""
    title = dingtalk_title(answer)
    text = dingtalk_markdown(answer, model, downloads)
    if answer.status == "clarification" and answer.options:
        buttons = [{"title": o, "actionURL": DINGTALK_SEND + quote(o)} for o in answer.options[:MAX_OPTIONS]]
    elif answer.answer_id:
        buttons = [
            {
                "title": THUMBS[r],
                "actionURL": DINGTALK_SEND + quote(f"{DINGTALK_FEEDBACK} {THUMBS[r]} {answer.answer_id}"),
            }
            for r in THUMBS
        ]
    else:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    orientation = "1" if answer.status != "clarification" else "0"  # thumbs side by side, options stacked
    return {
        "msgtype": "actionCard",
        "actionCard": {"title": title, "text": text, "btnOrientation": orientation, "btns": buttons},
    }


def dingtalk_title(answer: Answer) -> str:
    """What the chat list and the notification show: the chart's title, else the text's first line."""
    if answer.chart and answer.chart.get("title"):
        return _cut(str(answer.chart["title"]), 40)
    return _cut(answer.text.strip().split("\n", 1)[0] or "chatbi", 40)


def dingtalk_markdown(answer: Answer, model: SemanticModel, downloads: dict[str, str] | None = None) -> str:
    """The text (paragraphs), the first rows as a list (DingTalk markdown has no tables), download links, the
    definitions.

    A long text is cut before the list and the definitions are, so they still show: the text gets
    what they leave of the limit, and at least half of it."""
    zh = answer.language == "zh"
    rest = []
    table = compact_table(answer, model)
    if table is not None:
        rest.append("\n".join(_list_line(table, row, zh) for row in table.rows))
        note = _rows_note(table, len(table.rows), answer.language)
        if note:
            rest.append(note)
    if downloads:
        rest.append(" · ".join(f"[{_download_label(fmt, answer.language)}]({url})" for fmt, url in downloads.items()))
    rest += [f"> **{d.name}**{'：' if zh else ': '}{d.definition}" for d in answer.definitions]
    tail = "\n\n".join(rest)
    text = "\n\n".join(line for line in answer.text.split("\n") if line.strip())
    text = _cut(text, max(DINGTALK_MAX_TEXT - len(tail) - 2, DINGTALK_MAX_TEXT // 2))
    return _cut("\n\n".join(p for p in (text, tail) if p), DINGTALK_MAX_TEXT)


def _list_line(table: CompactTable, row: list[str], zh: bool) -> str:
    """``- 天猫：¥51.32万``; several values are named: ``- 天猫：销售额 ¥51.32万，毛利率 29.15%``."""
    labels = [cell for cell, numeric in zip(row, table.numeric, strict=True) if not numeric]
    values = [(h, cell) for h, cell, numeric in zip(table.headers, row, table.numeric, strict=True) if numeric]
    head = " / ".join(labels)
    tail = values[0][1] if len(values) == 1 else ("，" if zh else ", ").join(f"{h} {cell}" for h, cell in values)
    if head and tail:
        return f"- {head}{'：' if zh else ': '}{tail}"
    return f"- {head or tail}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- Feishu -----------------------------------------------------------------------------------
def feishu_card(
    answer: Answer,
    model: SemanticModel,
    *,
    action: dict[str, Any],
    chart_url: str | None = None,
    picked: str | None = None,
    downloads: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An interactive card (card JSON 1.0): the text, a table, the definitions, chart and download buttons,
    option buttons (a clarification) or thumbs buttons (an answer kept for feedback).

    Everything the answer says is plain text (``plain_text`` and table cells), never card markdown,
    so nothing in a question or a member name can turn into a link or a mention. ``action`` is merged
    into each option button's value (where the click must be answered); ``picked`` echoes the option
    a click asked; ``downloads``: format (csv, xlsx) -> the link to the full result.
    """
    zh = answer.language == "zh"
    elements: list[dict[str, Any]] = []
    if picked:
        elements.append(_feishu_note(["› " + _cut(picked, FEISHU_BUTTON_VALUE)]))
    text = _cut(answer.text.strip(), FEISHU_MAX_TEXT)
    if text:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": text}})
    table = compact_table(answer, model)
    if table is not None:
        elements.append(_feishu_table(table))
        note = _rows_note(table, len(table.rows), answer.language)
        if note:
            elements.append(_feishu_note([note]))
    if answer.definitions:
        shown = answer.definitions[:SLACK_MAX_CONTEXT_ELEMENTS]
        elements.append(_feishu_note([_cut(f"{d.name}{'：' if zh else ': '}{d.definition}", 500) for d in shown]))
    buttons = []
    if chart_url and answer.chart:
        label = "查看图表" if zh else "Open the chart"
        buttons.append({"tag": "button", "type": "primary", "url": chart_url,
                        "text": {"tag": "plain_text", "content": label}})  # fmt: skip
    for fmt, url in (downloads or {}).items():
        buttons.append({"tag": "button", "type": "default", "url": url,
                        "text": {"tag": "plain_text", "content": _download_label(fmt, answer.language)}})  # fmt: skip
    if answer.status == "clarification" and answer.options:
        buttons += [
            {"tag": "button", "type": "default", "text": {"tag": "plain_text", "content": _cut(o, FEISHU_BUTTON_TEXT)},
             "value": {**action, FEISHU_OPTION: o[:FEISHU_BUTTON_VALUE]}}
            for o in answer.options[:MAX_OPTIONS]
        ]  # fmt: skip
    elif answer.answer_id:
        buttons += [
            {"tag": "button", "type": "default", "text": {"tag": "plain_text", "content": _thumb_label(r, answer)},
             "value": {FEISHU_FEEDBACK: r, FEISHU_ANSWER: answer.answer_id}}
            for r in THUMBS
        ]  # fmt: skip
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    return {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": dingtalk_title(answer)}, "template": "blue"},
        "elements": elements,
    }


def _feishu_table(table: CompactTable) -> dict[str, Any]:
    names = [f"c{i}" for i in range(len(table.headers))]
    columns = [
        {"name": name, "display_name": header, "data_type": "text", "width": "auto",
         "horizontal_align": "right" if numeric else "left"}
        for name, header, numeric in zip(names, table.headers, table.numeric, strict=True)
    ]  # fmt: skip
    rows = [{name: _cut_width(cell) for name, cell in zip(names, row, strict=True)} for row in table.rows]
    return {"tag": "table", "page_size": TABLE_ROWS, "row_height": "low",
            "header_style": {"bold": True, "background_style": "grey"}, "columns": columns, "rows": rows}  # fmt: skip


def _feishu_note(texts: list[str]) -> dict[str, Any]:
    return {"tag": "note", "elements": [{"tag": "plain_text", "content": t} for t in texts]}
