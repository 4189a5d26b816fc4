"""`chatbi model check`: a model folder tried against a live warehouse.

The engine, the compiler and rich are imported inside the command so that `chatbi --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from engines.model_check import Report

model_app = typer.Typer(
    help="The semantic model: scaffold a model folder from a warehouse, check one against it.", no_args_is_help=True
)


@model_app.command("check")
def model_check(
    model_dir: Path | None = typer.Option(
        None,
        "--model",
        help="A model folder (the YAML files of semantic_layer/model/); default: the bundled demo model.",
    ),
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    as_json: bool = typer.Option(False, "--json", help="Print the problems as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Validate the model's YAML, then the warehouse: every relation and column exists, dates are dates,
    keys are unique, joins match, and each metric compiles and runs on its last week of data.
    Exits 1 when there is an error (warnings alone exit 0)."""
    from agent.phrases import Phrases
    from agent.verified import VERIFIED_FILE, read
    from engines import connect
    from engines.model_check import Problem, Report, check_model, steps  # noqa: F811
    from semantic_layer.engine import EngineError
    from semantic_layer.semantic_model import ModelError, load_model

    try:
        model = load_model(model_dir)
        Phrases.load(model)  # the planner's phrase book names the model's metrics, dimensions and the tools
        read((model.folder or Path(".")) / VERIFIED_FILE, model)  # its plans against this model, before the warehouse
    except ModelError as exc:
        _show(Report([Problem("error", str(model_dir or "model"), "-", str(exc))], {}), as_json)
        raise typer.Exit(1) from None
    if engine_url is None and not db.is_file():
        typer.secho(f"error: database not found: {db} (build one with: chatbi demo build --db {db})", err=True)
        raise typer.Exit(2)
    relations = {e.table for e in model.entities.values()}
    try:
        engine = connect(engine_url or str(db), allowed_tables=relations)
    except EngineError as exc:
        typer.secho(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        if quiet or as_json:
            report = check_model(model, engine)
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("checking", total=steps(model))
                report = check_model(model, engine, progress=lambda step: bar.update(task, advance=1, description=step))
    finally:
        engine.close()
    _show(report, as_json)
    raise typer.Exit(0 if report.ok else 1)


@model_app.command("init")
def model_init(
    out: Path = typer.Option(..., "--out", help="The folder to write the model files into."),
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The DuckDB warehouse file."),
    engine_url: str | None = typer.Option(None, "--engine", help="Engine URL instead of --db, e.g. postgresql://..."),
    force: bool = typer.Option(False, "--force", help="Overwrite model files already in --out."),
) -> None:
    """Scaffold a model folder from the warehouse's catalog: entities, keys and joins guessed by name, time
    columns, a dimension per keyed relation and a row count per dated relation, with TODOs for what a
    person must decide. Then run `chatbi model check --model OUT` and `chatbi --model OUT ask ...`."""
    from engines.model_init import scaffold_warehouse, write
    from semantic_layer.engine import EngineError

    if engine_url is None and not db.is_file():
        typer.secho(f"error: database not found: {db}", err=True)
        raise typer.Exit(2)
    try:
        result = scaffold_warehouse(engine_url or str(db))
        paths = write(result, out, force=force)
    except EngineError as exc:
        typer.secho(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except FileExistsError as exc:
        typer.secho(f"error: model files already there (use --force to overwrite): {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"wrote {len(paths)} files to {out}: {result.entities} entities, {result.keys} keys, {result.joins} joins, "
        f"{result.metrics} row-count metrics; the TODOs are yours. Next: chatbi model check --model {out} "
        + (f"--engine {engine_url}" if engine_url else f"--db {db}")
    )


def _show(report: Report, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        problems = [asdict(p) for p in report.problems]
        typer.echo(json.dumps({"ok": report.ok, "checked": report.checked, "problems": problems}, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items())
    if not report.problems:
        console.print(f"ok: no problems ({checked})")
        return
    table = Table("", "model entry", "warehouse", "problem", show_lines=False)
    for p in sorted(report.problems, key=lambda p: p.severity != "error"):
        table.add_row("[red]error[/]" if p.severity == "error" else "[yellow]warning[/]", p.entry, p.target, p.message)
    console.print(table)
    errors = sum(p.severity == "error" for p in report.problems)
    console.print(f"{errors} errors, {len(report.problems) - errors} warnings" + (f" ({checked})" if checked else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
