"""The dbt project vs_metricflow.py writes is self-consistent offline: every requested metric is defined, and so on."""

from __future__ import annotations

import yaml

from benchmarks.semantic_layer_bench import CASES
from benchmarks.vs_metricflow import REQUESTS, SEMANTIC_YAML, WHY_NOT, on_base_tables, requests


def test_every_requested_metric_and_measure_is_defined() -> None:
    spec = yaml.safe_load(SEMANTIC_YAML)
    metrics = {m["name"]: m for m in spec["metrics"]}
    measures = {ms["name"] for sm in spec["semantic_models"] for ms in sm.get("measures", [])}
    for _, request in requests():
        assert set(request["metrics"]) <= set(metrics)
    for metric in metrics.values():
        params = metric["type_params"]
        assert metric["label"]
        if metric["type"] == "simple":
            assert params["measure"] in measures
        for ref in [params.get("numerator"), params.get("denominator"), *params.get("metrics", [])]:
            if ref is not None:
                assert (ref["name"] if isinstance(ref, dict) else ref) in metrics


def test_the_ten_cases_are_each_requested_or_explained() -> None:
    names = [name for name, _, _ in CASES[:10]]
    assert list(REQUESTS) == names
    assert {n for n, r in REQUESTS.items() if r is None} == set(WHY_NOT)
    assert len(requests()) == len(names) - len(WHY_NOT)
    assert all("'2025-12-31'" in r["where"] for _, r in requests())


def test_views_are_swapped_for_base_tables() -> None:
    sql = 'SELECT 1 FROM "mf_copy"."mf"."fact_sales" s JOIN mf_copy.mf.dim_sku k ON 1=1 JOIN mf_copy.mf.time_spine t'
    assert on_base_tables(sql) == (
        'SELECT 1 FROM main."fact_sales" s JOIN main.dim_sku k ON 1=1 JOIN mf_copy.mf.time_spine t'
    )
