"""presentation/cells.py: each column's label and each cell's display string, and every channel showing
the same ones (the terminal, a bot, the exports), a stored answer without them included."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook
from rich.console import Console

from agent.answer import Answer
from agent.answer_store import AnswerStore, Asker
from api.bots.render import compact_table
from api.console import print_table
from api.exports import cells as export_cells
from api.exports.table import to_csv, to_xlsx
from presentation.cells import answer_cells
from semantic_layer.semantic_model import load_model
from tools.base import labels_in
from tools.replenishment.narrate import ACTION_NAMES, PATTERN_NAMES
from tools.replenishment.tool import FORMATS, LABELS

MODEL = load_model()


def test_a_single_metric_reads_by_its_governed_format() -> None:
    cells = answer_cells(["gmv"], [[Decimal("3682300.10")]], MODEL, "zh")
    assert cells.labels == ["销售额"] and cells.formats == ["cny"] and cells.display == [["¥368.23万"]]
    assert answer_cells(["gmv"], [[3682300.10]], MODEL, "en").display == [["¥3.68M"]]


def test_a_breakdown_names_the_code_column_and_gives_the_name_column_its_header() -> None:
    columns, rows = ["channel", "channel_name", "gmv"], [["tmall", "天猫", 513200.0]]
    zh = answer_cells(columns, rows, MODEL, "zh")
    assert zh.labels == ["渠道代码", "渠道", "销售额"]
    assert zh.display == [["tmall", "天猫", "¥51.32万"]]
    assert answer_cells(columns, rows, MODEL, "en").labels == ["channel code", "channel", "GMV"]


def test_time_buckets_read_by_name_from_dates_and_from_stored_iso_days() -> None:
    rows = [[dt.date(2025, 3, 1), 100.0], ["2025-04-01", 200.0]]
    assert [r[0] for r in answer_cells(["month", "gmv"], rows, MODEL, "zh").display] == ["2025年3月", "2025年4月"]
    en = answer_cells(["quarter", "gmv"], rows, MODEL, "en")
    assert en.labels[0] == "quarter" and [r[0] for r in en.display] == ["Q1 2025", "Q2 2025"]


def test_growth_previous_and_share_columns() -> None:
    columns = ["gmv", "gmv_previous", "gmv_growth", "gmv_share"]
    cells = answer_cells(columns, [[110.0, 100.0, 0.1, 0.2915]], MODEL, "zh")
    assert cells.labels == ["销售额", "销售额(上期)", "销售额(增长)", "销售额(占比)"]
    assert cells.formats == ["cny", "cny", "growth", "percent"]
    assert cells.display == [["¥110.00", "¥100.00", "+10.0%", "29.15%"]]
    assert answer_cells(columns, [[1, 1, 1, 1]], MODEL, "en").labels[1:] == [
        "GMV (previous)", "GMV (growth)", "GMV (share)",
    ]  # fmt: skip


def test_missing_values_read_as_a_dash() -> None:
    cells = answer_cells(["gross_margin", "month", "note"], [[None, None, None], [float("nan"), "x", "ok"]], MODEL, "en")
    assert cells.display == [["—", "—", "—"], ["—", "x", "ok"]]


def test_a_tool_answer_takes_the_tools_labels_and_formats_in_the_askers_language() -> None:
    columns = ["sku_id", "order_qty", "order_value", "days_of_cover", "demand_pattern"]
    row = ["sku00042", 120, 3456.5, 12.25, "smooth"]
    zh = answer_cells(columns, [row], MODEL, "zh", formats=FORMATS, labels=labels_in(LABELS, "zh"))
    assert zh.labels == ["SKU 编码", "建议订货量", "订货金额", "可售天数", "需求模式"]
    assert zh.display == [["sku00042", "120", "¥3,456.50", "12.2 天", "smooth"]]
    en = answer_cells(columns, [row], MODEL, "en", formats=FORMATS, labels=labels_in(LABELS, "en"))
    assert en.labels == ["SKU code", "order qty", "order value", "days of cover", "demand pattern"]
    assert en.display[0][3] == "12.2 days"
    # a column the tool does not label keeps its name; a whole number without a format stays whole
    assert answer_cells(["n"], [[1234]], MODEL, "en").labels == ["n"]
    assert answer_cells(["n"], [[1234]], MODEL, "en").display == [["1,234"]]


def _breakdown() -> Answer:
    return Answer(
        status="answer", text="上个月各渠道销售额", language="zh", columns=["channel", "channel_name", "gmv"],
        rows=[["tmall", "天猫", 513200.0], ["jd", "京东", 402100.5]],
    ).with_cells(MODEL)  # fmt: skip


def test_the_terminal_a_bot_and_an_export_show_the_same_labels_and_cells() -> None:
    answer = _breakdown()
    console = Console(width=120, record=True, file=io.StringIO())
    print_table(answer, MODEL, console)
    terminal = console.export_text()
    assert all(label in terminal for label in answer.labels)
    assert all(text in terminal for row in answer.display for text in row)
    table = compact_table(answer, MODEL)
    assert table is not None
    assert table.headers == answer.labels[1:]  # the code column gives way to its name column
    assert table.rows == [row[1:] for row in answer.display]
    assert export_cells.headers(answer, MODEL) == answer.labels


def test_a_stored_answer_without_the_fields_gets_them_on_read_and_still_exports(tmp_path) -> None:  # noqa: ANN001
    store = AnswerStore(tmp_path / "answers.sqlite", model=MODEL)
    old = Answer(status="answer", text="", language="zh", columns=["month", "gmv"],
                 rows=[[dt.date(2025, 3, 1), 100.0]])  # fmt: skip
    answer_id = store.save(old, Asker(user="bob", role="admin"), "每月销售额")
    stored = store.load_by_link(answer_id, store.link_token(answer_id) or "")
    assert stored is not None
    assert stored.answer.labels == ["月", "销售额"] and stored.answer.display == [["2025年3月", "¥100.00"]]
    store.close()
    bare = Answer.model_validate_json(old.to_json())  # as a store without the model reads it back
    assert bare.labels == [] and bare.display == []
    assert to_csv(bare, MODEL).decode("utf-8-sig").splitlines()[0] == "月,销售额"


def test_a_tool_columns_number_format_reaches_the_spreadsheet() -> None:
    """The formats a tool declares travel on the answer (``formats``), so its XLSX keeps its money as ¥."""
    answer = Answer(
        status="answer", text="补货建议", language="zh", columns=["sku_id", "order_value", "days_of_cover"],
        rows=[["sku00042", 3456.5, 12.25]],
    ).with_cells(MODEL, formats=FORMATS, labels=labels_in(LABELS, "zh"))  # fmt: skip
    assert answer.formats == [None, "cny", "days"]
    sheet = load_workbook(io.BytesIO(to_xlsx(answer, MODEL))).worksheets[0]
    values = {cell.value: cell for cell in sheet[2]}
    assert "¥" in values[3456.5].number_format and "天" in values[12.25].number_format


def test_a_tools_coded_cells_read_as_names_while_rows_keep_the_codes() -> None:
    """``order_now`` is what a filter or a CSV reader matches; a person reads 立即补货 in every channel and the XLSX."""
    columns = ["sku_id", "action", "demand_pattern", "order_qty"]
    rows = [["sku00042", "order_now", "intermittent", 120], ["sku00043", "not_a_known_code", "smooth", 0]]
    values = {"action": ACTION_NAMES["zh"], "demand_pattern": PATTERN_NAMES["zh"]}
    answer = Answer(status="answer", text="补货建议", language="zh", columns=columns, rows=rows).with_cells(
        MODEL, formats=FORMATS, labels=labels_in(LABELS, "zh"), values=values
    )
    assert answer.display == [["sku00042", "立即补货", "间歇", "120"], ["sku00043", "not_a_known_code", "平稳", "0"]]
    assert answer.rows[0][1] == "order_now"
    assert to_csv(answer, MODEL).decode("utf-8-sig").splitlines()[1].startswith("sku00042,order_now,")
    sheet = load_workbook(io.BytesIO(to_xlsx(answer, MODEL))).worksheets[0]
    assert [cell.value for cell in sheet[2]] == ["sku00042", "立即补货", "间歇", 120]
    english = answer_cells(columns, rows, MODEL, "en", values={"action": ACTION_NAMES["en"]})
    assert english.display[0][1] == "order now" and english.display[0][2] == "intermittent"
