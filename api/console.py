"""What every `chatbi` command prints the same way: one-line errors, answer tables fitted to the terminal.

Tables only render: the headers and cells are the answer's own (``Answer.labels`` / ``Answer.display``,
from presentation/cells.py).

The command modules share these instead of reaching into each other's private helpers; rich is
imported inside the functions so that `chatbi --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from agent.answer import Answer
    from semantic_layer.semantic_model import SemanticModel


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error on stderr and exit: users see a sentence, never a traceback."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def print_table(
    answer: Answer, model: SemanticModel, console: Any = None, more_options: tuple[str, ...] = ("--json",)
) -> None:
    """The answer text, then its table (the answer's ``labels`` and ``display``, as every channel shows them),
    and the exact period.

    A table wider than the terminal shows the columns that fit (a tool's key columns first) and says
    how many more there are and where to get them (``more_options``: the options that give them all).
    """
    from rich.console import Console
    from rich.table import Table

    from presentation.cells import numeric_columns

    answer.ensure_cells(model)
    console = console or Console()
    console.print(answer.text, highlight=False)
    caption = None
    if answer.period is not None:  # the text says "2025年12月"; the table states the exact days
        start, end = answer.period.start.isoformat(), answer.period.end.isoformat()
        caption = f"期间 {start} 至 {end}" if answer.language == "zh" else f"period {start} to {end}"
    table = Table(show_lines=False, caption=caption)
    headers, texts = answer.labels, answer.display
    numeric = numeric_columns(answer.rows, len(answer.columns))
    if len(answer.rows) == 1 and len(answer.columns) > 4:  # one wide row reads better standing up
        table.add_column("")
        table.add_column("", justify="right")
        for header, text in zip(headers, texts[0], strict=True):
            table.add_row(header, text)
        console.print(table)
        return
    shown = fitting_columns(answer, headers, texts, console.width)
    for i in shown:
        table.add_column(headers[i], justify="right" if numeric[i] else "left")
    for row in texts:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    hidden = len(answer.columns) - len(shown)
    if hidden:
        *first, last = more_options
        if answer.language == "zh":
            options = "、".join(first) + " 或 " + last if first else last
            note = f"另有 {hidden} 列未显示（终端宽度 {console.width}）；全部列请用 {options}"
        else:
            options = ", ".join(first) + " or " + last if first else last
            plural = "s" if hidden > 1 else ""
            note = f"{hidden} more column{plural} not shown (terminal width {console.width}); all of them with {options}"
        console.print(note, style="dim", highlight=False)


#: Widest a column is counted when fitting a table to the terminal: longer cells wrap inside it.
FIT_CELL_WIDTH = 30
#: Columns of a rich table's borders and padding per column (and one for the closing border).
_COLUMN_FRAME = 3


def fitting_columns(answer: Answer, headers: list[str], texts: list[list[str]], width: int) -> list[int]:
    """Indexes of the columns that fit ``width``, in the table's order: the answer tool's key columns first
    (if it declares them), then the others left to right; a code column with a name column beside it last."""
    from rich.cells import cell_len

    from presentation.cells import NAME_SUFFIX

    columns = answer.columns
    needs = [
        min(max([cell_len(headers[i]), *(cell_len(row[i]) for row in texts)]), FIT_CELL_WIDTH) + _COLUMN_FRAME
        for i in range(len(columns))
    ]
    if 1 + sum(needs) <= width:
        return list(range(len(columns)))
    keys = [columns.index(c) for c in _key_columns(answer) if c in columns]
    named = [i for i, c in enumerate(columns) if c + NAME_SUFFIX in columns]
    order = [*keys, *(i for i in range(len(columns)) if i not in keys and i not in named), *named]
    chosen: list[int] = []
    used = 1
    for i in order:
        if used + needs[i] <= width or not chosen:
            chosen.append(i)
            used += needs[i]
    return sorted(chosen)


def _key_columns(answer: Answer) -> tuple[str, ...]:
    """The columns the answer's tool says matter most (none for metric answers)."""
    plan = answer.plan or {}
    if plan.get("kind") != "tool":
        return ()
    from tools.registry import load

    try:
        tool = load(str(plan.get("tool")))
    except KeyError:
        return ()
    return tuple(getattr(tool, "key_columns", ()))
