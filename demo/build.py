"""`chatbi demo build`: simulate the retailer and write the warehouse to one DuckDB file.

The file is written under a temporary name beside the target and renamed at the end, so a
failed or interrupted build never leaves a half-written database where the user asked
for one.
"""

from __future__ import annotations

import errno
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from demo import ledgers
from demo.calendar import build_calendar
from demo.catalog import CATEGORIES, CUSTOMERS, STORES, WAREHOUSES, build_catalog, stores_frame
from demo.scales import POLICY, SCALES, WARMUP_START
from demo.schema import DDL, TABLE_ORDER
from demo.simulate import InventoryChunk, SalesChunk, simulate


class BuildError(Exception):
    """A build that cannot go ahead, with a message meant for the user."""


@dataclass
class BuildSummary:
    path: Path
    scale: str
    seed: int
    seconds: float
    rows: dict[str, int]

    def __str__(self) -> str:
        counts = ", ".join(f"{t} {n:,}" for t, n in self.rows.items() if t.startswith("fact_"))
        return f"built {self.path} (scale {self.scale}, seed {self.seed}) in {self.seconds:.1f} s: {counts}"


def build_demo(
    path: Path | str, *, scale: str = "case", seed: int = 42, force: bool = False, progress: bool = True
) -> BuildSummary:
    path = Path(path)
    if scale not in SCALES:
        raise BuildError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    if path.exists() and not force:
        raise BuildError(f"{path} already exists: pass --force to overwrite it")
    if path.exists() and path.is_dir():
        raise BuildError(f"{path} is a directory: give a file path such as {path / 'chatbi.duckdb'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BuildError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise BuildError(f"cannot write {path}: folder {parent} is not writable")

    tmp = parent / f".{path.name}.building-{os.getpid()}"
    started = time.perf_counter()
    try:
        rows = _write(tmp, SCALES[scale].n_sku, SCALES[scale].demand_multiplier, seed, progress)
        os.replace(tmp, path)
    except KeyboardInterrupt:
        _remove(tmp)
        raise BuildError("interrupted: nothing was written") from None
    except (OSError, duckdb.Error) as exc:
        _remove(tmp)
        if _is_disk_full(exc):
            raise BuildError(f"no space left on the device holding {parent}: nothing was written") from None
        raise BuildError(f"could not write {path}: {exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    return BuildSummary(path, scale, seed, time.perf_counter() - started, rows)


def _is_disk_full(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) == errno.ENOSPC or "space left" in str(exc).lower()


def _remove(tmp: Path) -> None:
    for p in (tmp, Path(f"{tmp}.wal")):
        p.unlink(missing_ok=True)


def _write(path: Path, n_sku: int, demand_multiplier: float, seed: int, progress: bool) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    cat = build_catalog(rng, n_sku)
    cal = build_calendar(rng)
    con = duckdb.connect(str(path))
    try:
        con.execute("SET preserve_insertion_order = true")
        for table in TABLE_ORDER:
            con.execute(DDL[table])
        sku_ids = pa.array(cat.skus["sku_id"].tolist())
        store_ids = pa.array([s.store_id for s in STORES])
        promo_ids = pa.array([p.promo_id for p in cal.promotions] or ["none"])
        warehouse_ids = pa.array(["wh_sh", "wh_bj", "wh_gz"])
        epoch_offset = (pd.Timestamp(WARMUP_START) - pd.Timestamp("1970-01-01")).days

        def dates(day: np.ndarray) -> pa.Array:
            return pa.array((day + epoch_offset).astype(np.int32), pa.date32())

        def on_sales(c: SalesChunk) -> None:
            promo = pa.DictionaryArray.from_arrays(
                pa.array(c["promo"], mask=c["promo"] < 0).cast(pa.int32()), promo_ids
            )
            chunk = pa.table(
                {
                    "order_id": c["order_id"],
                    "line_no": c["line_no"],
                    "order_date": dates(c["day"]),
                    "store_id": pa.DictionaryArray.from_arrays(c["store"], store_ids),
                    "sku_id": pa.DictionaryArray.from_arrays(c["sku"], sku_ids),
                    "quantity": c["qty"],
                    "unit_price": c["unit_price_cents"] / 100.0,
                    "revenue": c["revenue_cents"] / 100.0,
                    "cogs": c["cogs_cents"] / 100.0,
                    "promo_id": promo,
                    "fulfillment_error": c["error"],
                }
            )
            _append(con, "fact_sales", chunk)

        def on_inventory(c: InventoryChunk) -> None:
            chunk = pa.table(
                {
                    "snapshot_date": dates(c["day"]),
                    "warehouse_id": pa.DictionaryArray.from_arrays(c["warehouse"], warehouse_ids),
                    "sku_id": pa.DictionaryArray.from_arrays(c["sku"], sku_ids),
                    "on_hand_qty": c["on_hand"].astype(np.int32),
                    "in_transit_qty": c["in_transit"].astype(np.int32),
                    "inventory_value": c["value_cents"] / 100.0,
                }
            )
            _append(con, "fact_inventory_daily", chunk)

        bar: Any = _progress(progress, cal.n_days)
        with bar as live:
            task = live.add_task("simulating days", total=cal.n_days) if live else None
            sim = simulate(
                rng,
                cat,
                cal,
                POLICY,
                demand_multiplier,
                on_sales,
                on_inventory,
                on_day=(lambda: live.advance(task)) if live else (lambda: None),
            )
            if live:
                live.update(task, description="writing ledgers")

        skus = cat.skus.assign(list_price=sim.final_list_price)
        all_pos = ledgers.purchase_orders(rng, cat, sim)
        frames: dict[str, pd.DataFrame] = {
            "dim_sku": skus,
            "sku_alias": cat.aliases,
            "dim_store": stores_frame(),
            "dim_warehouse": WAREHOUSES,
            "dim_supplier": cat.suppliers,
            "dim_customer": CUSTOMERS,
            "dim_promotion": ledgers.promotions(rng, cal, sim),
            "fact_purchase_order": ledgers.visible_purchase_orders(all_pos),
            "fact_receivable": ledgers.receivables(rng, cal, sim),
            "fact_payable": ledgers.payables(rng, cat, all_pos),
            "fact_traffic_daily": ledgers.traffic(rng, cal, sim),
            "fact_marketing_daily": ledgers.marketing(rng, cal, sim),
            "truth_elasticity": pd.DataFrame(
                {"category": [c.zh for c in CATEGORIES], "elasticity": [c.elasticity for c in CATEGORIES]}
            ),
        }
        for table, frame in frames.items():
            _append(con, table, frame)
        con.execute("CHECKPOINT")
        counts = {t: int(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in TABLE_ORDER}  # type: ignore[index]
    finally:
        con.close()
    return counts


def _append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table | pd.DataFrame) -> None:
    """Insert by column name, letting DuckDB cast to the contract's types (DOUBLE -> DECIMAL rounds)."""
    con.register("_chunk", data)
    try:
        names = data.column_names if isinstance(data, pa.Table) else [str(c) for c in data.columns]
        columns = ", ".join(f'"{c}"' for c in names if not c.startswith("_"))
        con.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM _chunk')
    finally:
        con.unregister("_chunk")


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )
