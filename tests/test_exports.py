"""Answers as files: CSV read back exactly, XLSX read back with openpyxl, the purchase-order workbook, and
the terminal table of a tool answer in 80 columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from rich.console import Console

from agent.answer import Answer, json_value
from agent.assistant import Assistant
from api.console import print_table
from api.exports.table import to_csv, to_xlsx
from semantic_layer.semantic_model import load_model


@pytest.fixture(scope="module")
def assistant(demo_db: Path) -> Iterator[Assistant]:
    opened = Assistant.open(demo_db)
    yield opened
    opened.close()


def ask(assistant: Assistant, question: str) -> Answer:
    answer = assistant.ask(question)
    assert answer.status == "answer" and answer.rows, answer.text
    return answer


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_csv_has_every_row_with_exact_values(assistant: Assistant) -> None:
    answer = ask(assistant, "去年各月各渠道的销售额")
    data = to_csv(answer, assistant.model)
    assert data.startswith("\ufeff".encode())  # Excel reads the Chinese headers as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["月", "渠道代码", "渠道", "销售额"]
    assert len(rows) - 1 == len(answer.rows) == 60  # all of them, not the 10 or 20 a channel shows
    assert rows[1:] == [[str(json_value(v)) for v in row] for row in answer.rows]
    assert [float(r[3]) for r in rows[1:]] == [float(row[3]) for row in answer.rows]


def test_xlsx_headers_formats_frozen_header_and_definitions(assistant: Assistant) -> None:
    answer = ask(assistant, "上个月各品类的库存周转天数和缺货率")
    book = workbook(to_xlsx(answer, assistant.model, "上个月各品类的库存周转天数和缺货率"))
    assert book.sheetnames == ["结果", "指标定义"]
    sheet = book["结果"]
    assert [c.value for c in sheet[1]] == ["品类代码", "品类", "库存周转天数", "缺货率"]
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row - 1 == len(answer.rows)
    first = sheet[2]
    assert first[2].value == pytest.approx(answer.rows[0][2]) and first[2].number_format == '#,##0.0" 天"'
    assert first[3].value == pytest.approx(answer.rows[0][3]) and first[3].number_format == "0.00%"
    definitions = book["指标定义"]
    assert [c.value for c in definitions[1]] == ["指标", "名称", "定义"]
    assert [r[0] for r in definitions.iter_rows(min_row=2, max_row=3, values_only=True)] == ["dio", "stockout_rate"]
    assert ("问题", "上个月各品类的库存周转天数和缺货率", None) in list(definitions.iter_rows(values_only=True))


def test_xlsx_in_english_with_money_and_dates(assistant: Assistant) -> None:
    answer = ask(assistant, "monthly GMV last year")
    sheet = workbook(to_xlsx(answer, assistant.model))["Result"]
    assert [c.value for c in sheet[1]] == ["month", "GMV"]
    month, gmv = sheet[2]
    assert month.is_date and month.value.date() == answer.rows[0][0] and month.number_format == "yyyy-mm-dd"
    assert gmv.number_format == '"¥"#,##0.00' and gmv.value == pytest.approx(float(answer.rows[0][1]))


def test_a_replenishment_answer_is_a_purchase_order_per_supplier(assistant: Assistant) -> None:
    answer = ask(assistant, "给面膜做一份补货建议")
    rows = [dict(zip(answer.columns, row, strict=True)) for row in answer.rows]
    ordered = [r for r in rows if r["order_qty"] > 0]
    suppliers = {r["supplier_name"] for r in ordered}
    assert ordered and len(suppliers) > 1
    book = workbook(to_xlsx(answer, assistant.model))
    assert book.sheetnames[0] == "汇总" and book.sheetnames[-1] == "指标定义"
    assert set(book.sheetnames[1:-1]) == suppliers
    summary = list(book["汇总"].iter_rows(min_row=2, max_row=len(suppliers) + 1, values_only=True))
    assert [s[1] for s in summary] == book.sheetnames[1:-1]  # largest order first, a sheet for each
    assert sum(s[5] for s in summary) == pytest.approx(sum(r["order_value"] for r in ordered))
    assert "主数据中没有箱规字段" in "".join(
        str(c) for row in book["汇总"].iter_rows(values_only=True) for c in row if c
    )
    for supplier in suppliers:
        sheet = book[supplier]
        assert [c.value for c in sheet[1]][:8] == [
            "SKU 编码",
            "SKU",
            "仓库编码",
            "仓库",
            "箱规(件/箱)",
            "箱数",
            "件数",
            "单位成本",
        ]
        assert sheet.freeze_panes == "A2"
        lines = list(sheet.iter_rows(min_row=2, values_only=True))
        want = [r for r in ordered if r["supplier_name"] == supplier]
        assert sorted((x[0], x[2], x[6]) for x in lines) == sorted(
            (r["sku_id"], r["warehouse_id"], r["order_qty"]) for r in want
        )
        for line in lines:
            pack, cases, units, unit_cost, cost = line[4:9]
            assert cases * pack == units and cost == pytest.approx(units * unit_cost, abs=0.01)
        assert sheet.cell(row=2, column=9).number_format == '"¥"#,##0.00'


def test_a_wide_tool_table_shows_its_key_columns_in_80_columns(assistant: Assistant) -> None:
    answer = ask(assistant, "给面膜做一份补货建议")
    console = Console(width=80, record=True, file=io.StringIO())
    print_table(answer, load_model(), console, more_options=("--csv PATH", "--json"))
    text = console.export_text()
    table = [line for line in text.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table and all(len(line) <= 80 for line in table)
    header = next(line for line in table if line.startswith("┃"))
    shown_headers = [h.strip() for h in header.strip("┃").split("┃")]
    # the tool's key columns, by the tool's own labels, in the table's order (more fit beside them)
    keys = [h for h in shown_headers if h in {"商品", "仓库", "建议订货量", "建议", "可售天数"}]
    assert keys[:4] == ["商品", "仓库", "建议订货量", "建议"]
    shown = header.count("┃") - 1
    assert f"另有 {len(answer.columns) - shown} 列未显示（终端宽度 80）；全部列请用 --csv PATH 或 --json" in text
    wide = Console(width=1000, record=True, file=io.StringIO())
    print_table(answer, load_model(), wide)
    assert "未显示" not in wide.export_text()


def test_a_table_that_fits_is_shown_whole_without_a_note(assistant: Assistant) -> None:
    answer = ask(assistant, "GMV by channel last month")
    console = Console(width=80, record=True, file=io.StringIO())
    print_table(answer, load_model(), console)
    text = console.export_text()
    assert "more column" not in text and "GMV" in text and "channel" in text
