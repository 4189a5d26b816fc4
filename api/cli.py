"""The `chatbi` console script.

Heavy modules are imported inside the commands so that `chatbi --help` and the
embedded ask path start fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from api.console import fail

app = typer.Typer(
    name="chatbi",
    help="Conversational analytics for retail on a governed metrics semantic layer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
demo_app = typer.Typer(
    help="The demo retail warehouse (DuckDB), and copies of it in other engines.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo")


@app.callback()
def main(
    model: Path | None = typer.Option(
        None,
        "--model",
        envvar="CHATBI_MODEL",
        help="A model folder of your own (the YAML files of semantic_layer/model/) for every command; "
        "default: the bundled demo model.",
    ),
) -> None:
    """Conversational analytics for retail on a governed metrics semantic layer."""
    if model is None:
        return
    if not model.is_dir() or not any(model.glob("*.yaml")):
        fail(f"--model {model}: not a folder of model YAML files (see semantic_layer/model/ for the layout)")
    from semantic_layer.semantic_model import MODEL_ENV

    os.environ[MODEL_ENV] = str(model.resolve())  # read by every load_model(), in this process and its workers


@demo_app.command("build")
def demo_build(
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="Where to write the DuckDB file."),
    scale: str = typer.Option(
        "case", "--scale", help="small (~300 SKUs, seconds), case (~6,000 SKUs), large (10x orders)."
    ),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed builds the same content."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Build the demo warehouse of a mid-size beauty retailer (2024-01-01 to 2025-12-31)."""
    from demo.build import BuildError, build_demo

    try:
        summary = build_demo(db, scale=scale, seed=seed, force=force, progress=not quiet)
    except BuildError as exc:
        fail(str(exc))
        return
    typer.echo(summary)


@demo_app.command("load")
def demo_load(
    db: Path = typer.Option(Path("chatbi.duckdb"), "--db", help="The demo DuckDB file to copy."),
    engine: str = typer.Option(
        ...,
        "--engine",
        help="postgresql://…, mysql://user:pw@host:port/db, clickhouse://user:pw@host:port/db, chdb:///path/to/dir"
        " or spark://local/path/to/dir.",
    ),
    schema: str | None = typer.Option(
        None, "--schema", help="PostgreSQL schema (default public), MySQL/ClickHouse database (default the URL's)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Copy the demo warehouse into PostgreSQL, MySQL/MariaDB, embedded ClickHouse (chdb) or a Spark folder of Parquet files, replacing its tables."""
    import time

    from engines.load import load_demo
    from semantic_layer.engine import EngineError

    start = time.perf_counter()
    try:
        counts = load_demo(db, engine, schema=schema, progress=not quiet)
    except EngineError as exc:
        fail(str(exc))
        return
    typer.echo(f"loaded {len(counts)} tables, {sum(counts.values()):,} rows in {time.perf_counter() - start:.1f} s")


# `chatbi ask` / `chat` (questions), `serve` (HTTP, widget, bots), `query` / `metrics` (the semantic
# layer), `eval` (the eval suites), `model` (a model folder against a warehouse), `mcp` (MCP on stdio),
# `feedback` (answers' feedback), `verified` (certified answers the planners use first).
from api import ask_cli, eval_cli, feedback_cli, mcp_cli, model_cli, query_cli, serve_cli, verified_cli  # noqa: E402

ask_cli.register(app)
serve_cli.register(app)
query_cli.register(app)
eval_cli.register(app)
model_cli.register(app)
mcp_cli.register(app)
feedback_cli.register(app)
verified_cli.register(app)


if __name__ == "__main__":
    app()
