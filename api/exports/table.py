"""An answer's full result (within the row limit) as CSV or as an XLSX workbook.

CSV is for programs: UTF-8 with a byte-order mark (so Excel opens Chinese headers correctly),
exact values as the JSON answer carries them (full-precision numbers, ISO dates, empty for a
missing value). XLSX is for people: headers in the asker's language, numbers kept as numbers with
the metric's number format (¥, %, 天 / days), the header row frozen, and the governed definitions
on a second sheet so the file explains itself when forwarded.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from agent.answer import Answer, json_value
from api.exports import cells
from semantic_layer.semantic_model import SemanticModel
from tools.base import Sheet

#: Widest column in the workbook (characters); longer text wraps in the cell when opened.
MAX_COLUMN_WIDTH = 60
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(answer: Answer, model: SemanticModel) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(cells.headers(answer, model))
    for row in answer.rows:
        writer.writerow(["" if (v := json_value(value)) is None else v for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(answer: Answer, model: SemanticModel, question: str | None = None) -> bytes:
    """The result sheet (or the sheets the answer's tool exports as, e.g. purchase orders) and the definitions
    sheet; ``question`` is written on the last sheet when known."""
    from openpyxl import Workbook

    book = Workbook()
    sheets = tool_sheets(answer)
    if sheets is None:
        sheet = book.active
        sheet.title = cells.result_title(answer.language)
        number_formats = [cells.number_format(f, answer.language) for f in cells.formats(answer, model)]
        write_table(sheet, cells.headers(answer, model), cells.sheet_rows(answer, model), number_formats)
    else:
        book.remove(book.active)
        for spec in sheets:
            sheet = book.create_sheet(spec.title)
            write_table(sheet, spec.headers, spec.rows, [cells.number_format(f, answer.language) for f in spec.formats])
            if spec.notes:
                sheet.append([])
                for note in spec.notes:
                    sheet.append([note])
    write_definitions(book, answer, question)
    return save(book)


def tool_sheets(answer: Answer) -> list[Sheet] | None:
    """The sheets of a tool answer whose tool exports its own workbook; None for every other answer."""
    plan = answer.plan or {}
    if plan.get("kind") != "tool" or not answer.columns:
        return None
    from tools.registry import load

    try:
        tool = load(str(plan.get("tool")))
    except KeyError:
        return None
    export = getattr(tool, "export_sheets", None)
    return export(answer) if export is not None else None


def write_table(sheet: Any, headers: list[str], rows: list[list[Any]], number_formats: list[str | None]) -> None:
    """A header row (bold, frozen) and the rows, each number in its column's format, columns sized to fit."""
    from openpyxl.styles import Font

    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [_width(h) for h in headers]
    for row in rows:
        values = [cells.sheet_value(json_value(v)) for v in row]
        sheet.append(values)
        for i, value in enumerate(values):
            widths[i] = max(widths[i], _width(value))
    for index, fmt in enumerate(number_formats, start=1):
        column = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[column].width = min(widths[index - 1] + 2, MAX_COLUMN_WIDTH)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            if cell.is_date:
                cell.number_format = cells.DATE_FORMAT
            elif fmt is not None and isinstance(cell.value, int | float):
                cell.number_format = fmt


def write_definitions(book: Any, answer: Answer, question: str | None) -> None:
    """The governed definitions of the answer's metrics, then what was asked and the period."""
    title, header = cells.definitions_title(answer.language)
    sheet = book.create_sheet(title)
    write_table(sheet, header, [[d.metric, d.name, d.definition] for d in answer.definitions], [None] * len(header))
    zh = answer.language == "zh"
    notes = []
    if question:
        notes.append(["问题" if zh else "question", question])
    if answer.period is not None:
        start, end = answer.period.start.isoformat(), answer.period.end.isoformat()
        notes.append(["期间", f"{start} 至 {end}"] if zh else ["period", f"{start} to {end}"])
    if notes:
        sheet.append([])
        for note in notes:
            sheet.append(note)


def save(book: Any) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _width(value: Any) -> int:
    from rich.cells import cell_len

    return cell_len(str(value)) if value is not None else 0
