"""Project last year's daily demand index onto the days a replenishment decision has to cover.

A future day borrows the index of the same day one year earlier (618 and 11.11 fall on fixed
dates), with three corrections:

- **Spring Festival** moves by up to three weeks from year to year, so within ``FESTIVAL_WINDOW``
  days of it a day borrows the day at the same distance from last year's festival;
- **weekday**: the borrowed day's weekday factor (per warehouse: stores sell at weekends, shops
  do not) is replaced by the target day's;
- **promotions**: the promotion calendar (dim_promotion) moves a campaign's lift with it. Each
  warehouse's lift per unit of *exposure* (the share of its units sold through channels running a
  promotion that day) is estimated from last year; a day gains the lift of this year's campaigns
  and loses last year's. Campaigns on the same dates both years cancel out, so the festival peaks
  stay as measured. Beyond the last day the calendar covers, last year's campaigns are assumed
  to repeat (no correction), rather than assuming no promotion at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.replenishment.demand import History

#: Lunar New Year's day (public calendar).
SPRING_FESTIVAL: dict[int, dt.date] = {
    y: dt.date.fromisoformat(d)
    for y, d in (
        (2015, "2015-02-19"), (2016, "2016-02-08"), (2017, "2017-01-28"), (2018, "2018-02-16"),
        (2019, "2019-02-05"), (2020, "2020-01-25"), (2021, "2021-02-12"), (2022, "2022-02-01"),
        (2023, "2023-01-22"), (2024, "2024-02-10"), (2025, "2025-01-29"), (2026, "2026-02-17"),
        (2027, "2027-02-06"), (2028, "2028-01-26"), (2029, "2029-02-13"), (2030, "2030-02-03"),
        (2031, "2031-01-23"), (2032, "2032-02-11"), (2033, "2033-01-31"), (2034, "2034-02-19"),
        (2035, "2035-02-08"),
    )
}  # fmt: skip
FESTIVAL_WINDOW = 21
#: Promotion days with less exposure than this say little about the lift.
MIN_EXPOSURE = 0.05
BASELINE_DAYS = 29


@dataclass
class ForecastCalendar:
    """Demand index per (category, warehouse) for each day from ``first_day``; a pair's expected
    demand on day d is its deseasonalised rate times the index of its group on d."""

    first_day: dt.date
    groups: dict[tuple[str, str], int]
    index: np.ndarray  # (groups + 1, days); the last row is a flat 1.0 for unknown groups

    def __post_init__(self) -> None:
        self._cumulative = np.concatenate([np.zeros((len(self.index), 1)), np.cumsum(self.index, axis=1)], axis=1)

    @property
    def days(self) -> int:
        return self.index.shape[1]

    def rows(self, categories: np.ndarray, warehouses: np.ndarray) -> np.ndarray:
        """The index row of each (category, warehouse); unknown groups get the flat row."""
        flat = len(self.index) - 1
        return np.array([self.groups.get((c, w), flat) for c, w in zip(categories, warehouses, strict=True)])

    def window_mean(self, rows: np.ndarray, offset: np.ndarray | int, length: np.ndarray) -> np.ndarray:
        """Mean index over ``length`` days starting ``offset`` days after ``first_day`` (vectorised)."""
        start = np.clip(np.broadcast_to(offset, rows.shape), 0, self.days)
        end = np.clip(start + np.maximum(np.asarray(length, dtype=np.int64), 1), 0, self.days)
        total = self._cumulative[rows, end] - self._cumulative[rows, start]
        return np.where(end > start, total / np.maximum(end - start, 1), 1.0)


def aligned_day(day: dt.date, start: dt.date, end: dt.date) -> dt.date | None:
    """The history day (in ``[start, end]``) that ``day`` borrows its index from, or None."""
    festival = SPRING_FESTIVAL.get(day.year)
    for years in range(1, 6):
        earlier_festival = SPRING_FESTIVAL.get(day.year - years)
        if festival is not None and earlier_festival is not None and abs((day - festival).days) <= FESTIVAL_WINDOW:
            candidate = earlier_festival + (day - festival)
        else:
            try:
                candidate = day.replace(year=day.year - years)
            except ValueError:  # 29 February
                candidate = day.replace(year=day.year - years, day=28)
        if start <= candidate <= end:
            return candidate
        if candidate < start:
            return None
    return None


def project(history: History, first_day: dt.date, n_days: int) -> ForecastCalendar:
    """The index for ``n_days`` days from ``first_day``, from the history's daily index."""
    hist_days = pd.date_range(history.start, history.as_of, freq="D")
    table = history.index.pivot_table(index=["category", "warehouse_id"], columns="day", values="idx")
    table = table.reindex(columns=hist_days).fillna(1.0)
    groups = {key: i for i, key in enumerate(table.index)}
    group_wh = np.array([w for _, w in table.index])
    hist = table.to_numpy()

    warehouses = sorted(set(group_wh))
    weekday = _weekday_factors(history, hist_days, warehouses)  # (W, 7)
    share = _channel_share(history, warehouses)  # (W, channels), channels order
    future_days = pd.date_range(first_day, periods=n_days, freq="D")
    exposure_hist = _exposure(history, hist_days, share)  # (W, hist days)
    exposure_future = _exposure(history, future_days, share)
    lift = _promo_lift(history, hist_days, warehouses, weekday, exposure_hist)  # (W,)

    aligned = [aligned_day(d.date(), history.start, history.as_of) for d in future_days]
    known = np.array([a is not None for a in aligned])
    pos = np.array([(a - history.start).days if a is not None else 0 for a in aligned])
    covered = np.array(
        [history.promo_calendar_end is not None and d.date() <= history.promo_calendar_end for d in future_days]
    )
    w_of_group = np.array([warehouses.index(w) for w in group_wh], dtype=np.int64)

    dow_future = future_days.day_of_week.to_numpy()
    dow_hist = hist_days.day_of_week.to_numpy()[pos]
    exp_then = exposure_hist[:, pos]  # (W, D)
    exp_now = np.where(covered[None, :], exposure_future, exp_then)
    promo_now = 1.0 + lift[:, None] * exp_now
    promo_then = 1.0 + lift[:, None] * exp_then
    mean_promo = (1.0 + lift[:, None] * exposure_hist).mean(axis=1, keepdims=True)

    borrowed = hist[:, pos] / weekday[w_of_group][:, dow_hist] * (promo_now / promo_then)[w_of_group]
    unknown = np.broadcast_to((promo_now / mean_promo)[w_of_group], borrowed.shape)
    index = np.where(known[None, :], borrowed, unknown) * weekday[w_of_group][:, dow_future]
    return ForecastCalendar(first_day=first_day, groups=groups, index=np.vstack([index, np.ones((1, n_days))]))


def _weekday_factors(history: History, days: pd.DatetimeIndex, warehouses: list[str]) -> np.ndarray:
    """Per warehouse, the median ratio of each weekday to its centred weekly mean (mean 1)."""
    daily = history.index.groupby(["warehouse_id", "day"])[["num", "den"]].sum()
    ratio = (daily["num"] / daily["den"].where(daily["den"] > 0)).unstack("day").reindex(index=warehouses, columns=days)
    out = np.ones((len(warehouses), 7))
    for i, row in enumerate(ratio.to_numpy()):
        series = pd.Series(row, index=days)
        relative = series / series.rolling(7, center=True, min_periods=7).mean()
        by_dow = relative.groupby(days.day_of_week).median().reindex(range(7))
        if by_dow.notna().all():
            out[i] = by_dow.to_numpy() / by_dow.mean()
    return out


def _channel_share(history: History, warehouses: list[str]) -> pd.DataFrame:
    units = history.channel_units.pivot_table(index="warehouse_id", columns="channel", values="units", aggfunc="sum")
    units = units.reindex(index=warehouses).fillna(0.0).astype(float)
    totals = units.sum(axis=1).replace(0.0, np.nan)
    return units.div(totals, axis=0).fillna(0.0)


def _exposure(history: History, days: pd.DatetimeIndex, share: pd.DataFrame) -> np.ndarray:
    """(warehouses, days): share of each warehouse's units whose channel runs a promotion that day."""
    channels = list(share.columns)
    active = np.zeros((len(channels), len(days)), dtype=bool)
    day_values = days.to_numpy()
    for promo in history.promotions.itertuples(index=False):
        on = (day_values >= np.datetime64(promo.start_date)) & (day_values <= np.datetime64(promo.end_date))
        if not on.any():
            continue
        if promo.channel is None:
            active[:, on] = True
        elif promo.channel in channels:
            active[channels.index(promo.channel), on] = True
    return share.to_numpy() @ active.astype(float)


def _promo_lift(
    history: History, days: pd.DatetimeIndex, warehouses: list[str], weekday: np.ndarray, exposure: np.ndarray
) -> np.ndarray:
    """Per warehouse, the median relative lift per unit of exposure on last year's promotion days,
    against a rolling median of the days without any promotion."""
    daily = history.index.groupby(["warehouse_id", "day"])[["num", "den"]].sum()
    ratio = (daily["num"] / daily["den"].where(daily["den"] > 0)).unstack("day").reindex(index=warehouses, columns=days)
    lifts = np.zeros(len(warehouses))
    dow = days.day_of_week.to_numpy()
    for i, row in enumerate(ratio.to_numpy()):
        level = row / weekday[i, dow]
        quiet = pd.Series(np.where(exposure[i] == 0, level, np.nan))
        baseline = quiet.rolling(BASELINE_DAYS, center=True, min_periods=7).median().to_numpy()
        promo = (exposure[i] >= MIN_EXPOSURE) & np.isfinite(baseline) & np.isfinite(level)
        if promo.any():
            per_unit = (level[promo] / baseline[promo] - 1.0) / exposure[i, promo]
            lifts[i] = float(np.clip(np.median(per_unit), 0.0, 5.0))
    return lifts
