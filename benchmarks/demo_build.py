"""Build time, peak memory and calibration of `chatbi demo build` at each scale.

Each build runs in a child process that reports its own peak resident memory, so one
scale's memory does not hide behind another's. Prints a markdown report.

    python benchmarks/demo_build.py                 # small, case and large
    python benchmarks/demo_build.py --scales small case --seeds 42 1 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb

from demo.calibration import CASE_TARGETS, CASE_TOLERANCE, measure

CHILD = """
import json, resource, sys, time
from demo.build import build_demo
t = time.perf_counter()
s = build_demo(sys.argv[1], scale=sys.argv[2], seed=int(sys.argv[3]), force=True, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": s.rows}))
"""
LIMITS = {"small": (15.0, None), "case": (120.0, 6 * 1024.0), "large": (None, None)}


def build(path: Path, scale: str, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), scale, str(seed)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", default=["small", "case", "large"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[42])
    ap.add_argument("--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="chatbi-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    print("| scale | seed | build s | limit s | peak MiB | order lines | inventory rows |")
    print("|---|---|---|---|---|---|---|")
    lines: dict[str, int] = {}
    calibrations = []
    for scale in args.scales:
        for seed in args.seeds:
            path = work / f"{scale}-{seed}.duckdb"
            r = build(path, scale, seed)
            limit_s, _ = LIMITS.get(scale, (None, None))
            lines.setdefault(scale, r["rows"]["fact_sales"])
            print(
                f"| {scale} | {seed} | {r['seconds']:.1f} | {limit_s or '-'} | {r['peak_mib']:.0f} | "
                f"{r['rows']['fact_sales']:,} | {r['rows']['fact_inventory_daily']:,} |",
                flush=True,
            )
            if scale in ("small", "case"):
                with duckdb.connect(str(path), read_only=True) as con:
                    calibrations.append((scale, seed, measure(con, date(2024, 1, 1), date(2024, 12, 31))))
            if scale == "large":
                path.unlink()
    if "case" in lines and "large" in lines:
        print(f"\nlarge / case order lines: {lines['large'] / lines['case']:.1f}x")

    print('\n2024 against the case\'s "before" state (tolerance ±15% at case scale):\n')
    names = list(CASE_TARGETS) + [
        "dso",
        "dpo",
        "top20_gmv_share",
        "slow_moving_share",
        "promo_roi",
        "ar_over_60_share",
        "conversion_rate",
        "cpe",
        "fulfillment_error_rate",
    ]
    print("| scale | seed | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    print("| case target | - | " + " | ".join(str(CASE_TARGETS.get(n, "")) for n in names) + " |")
    worst = 0.0
    for scale, seed, f in calibrations:
        print(f"| {scale} | {seed} | " + " | ".join(f"{getattr(f, n):.3f}" for n in names) + " |")
        if scale == "case":
            worst = max(worst, *(abs(g) for g in f.case_gaps().values()))
    if any(s == "case" for s, _, _ in calibrations):
        verdict = "within" if worst <= CASE_TOLERANCE else "OUTSIDE"
        print(f"\ncase scale: largest gap to the case {worst:.1%}, {verdict} ±{CASE_TOLERANCE:.0%}")


if __name__ == "__main__":
    main()
