"""Runs inside the MetricFlow virtualenv (never the project's): plans each request and times the planning.

Reads a JSON list of requests on stdin, writes one JSON object per request (SQL, first and warm
plan times) on stdout. Kept apart from vs_metricflow.py because it imports MetricFlow, which the
project never depends on.
"""

import json
import pathlib
import statistics
import sys
import time

from dbt_metricflow.cli.cli_configuration import CLIConfiguration
from metricflow.engine.metricflow_engine import MetricFlowQueryRequest


def main() -> None:
    project, repeat = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    config = CLIConfiguration()
    config.setup(dbt_profiles_path=project, dbt_project_path=project, configure_file_logging=False)
    engine = config.mf
    out = []
    for spec in json.load(sys.stdin):
        def plan(spec: dict = spec) -> str:
            request = MetricFlowQueryRequest.create(
                metric_names=spec["metrics"], group_by_names=spec["group_by"], where_constraints=[spec["where"]],
                order_by_names=spec.get("order_by"), limit=spec.get("limit"))
            return engine.explain(request).sql_statement.sql
        started = time.perf_counter()
        sql = plan()
        first = time.perf_counter() - started
        warm = []
        for _ in range(repeat):
            started = time.perf_counter()
            plan()
            warm.append(time.perf_counter() - started)
        out.append({"sql": sql, "first": first, "warm": statistics.median(warm)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
