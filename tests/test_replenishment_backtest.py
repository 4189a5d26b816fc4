"""The replenishment backtest at small scale: a policy learned on 2024 alone, replayed over 2025,
meets its fill-rate targets and beats the data's own policy on stockouts and days of inventory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.replenishment_backtest import DAYS, backtest, service_by_class
from engines import connect

#: Points of slack against the target: the small demo has a few hundred pairs per class.
TOLERANCE = 0.03


@pytest.fixture(scope="module")
def result(demo_db: Path) -> tuple:
    return backtest(connect(demo_db), seed=0, review_days=7)


def test_policy_meets_fill_rate_targets_per_class(result: tuple) -> None:
    learned, _, outcome = result
    service = service_by_class(learned, outcome)
    for cls in ("A", "B", "C"):
        assert abs(service[cls].fill - service[cls].target) <= TOLERANCE, (cls, service[cls])
    for cls in ("A", "B"):
        assert service[cls].csl >= service[cls].target - TOLERANCE, (cls, service[cls])


def test_policy_beats_the_historical_policy(result: tuple) -> None:
    learned, data, outcome = result
    n = len(learned.params)
    ours_stockout = outcome.stockout_days.sum() / (n * DAYS)
    assert ours_stockout < 0.5 * data.censored.mean()
    ours_dio = outcome.inventory_value.sum() / outcome.cogs.sum()
    assert ours_dio < data.hist_inventory_value / data.hist_cogs
    assert outcome.served.sum() / outcome.demanded.sum() > data.sold.sum() / data.demand.sum()


def test_replay_demand_keeps_recorded_sales_and_only_adds_on_stockout_days(result: tuple) -> None:
    _, data, _ = result
    assert (data.demand >= data.sold).all()
    assert np.array_equal(data.demand[~data.censored], data.sold[~data.censored])
    assert data.demand[data.censored].sum() > data.sold[data.censored].sum()
