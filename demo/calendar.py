"""The retail calendar of the demo: seasonality, festivals, weekly rhythm and promotions.

Everything is an array indexed by simulation day (day 0 = WARMUP_START), so the daily
simulation reads one row per day instead of computing dates per order line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from demo.catalog import CATEGORIES, CHANNELS
from demo.scales import DATA_END, DATA_START, WARMUP_START

SPRING_FESTIVAL = (date(2024, 2, 10), date(2025, 1, 29))
GIFTING_DAYS = ((2, 14), (5, 20), (8, 10), (12, 24))  # Valentine's, 520, Qixi (approx.), Christmas
SEASON_KINDS = ("flat", "summer", "winter", "gifting")
ANNUAL_GROWTH = 0.08
FESTIVAL_STOCKUP = 2.2


@dataclass(frozen=True)
class PromotionSpec:
    promo_id: str
    promo_name: str
    channel: str | None  # None: every channel
    start: date
    end: date
    discount_pct: float
    participation: float  # share of the SKU range that takes part


@dataclass
class Calendar:
    dates: pd.DatetimeIndex
    first_data_day: int
    season: np.ndarray  # (days, len(SEASON_KINDS)) demand multiplier by seasonality kind
    channel_lift: np.ndarray  # (days, len(CHANNELS)) festival traffic, Spring Festival dip
    weekday: np.ndarray  # (days, 2) weekly rhythm for [online, offline]
    growth: np.ndarray  # (days,) business growth
    buy_ahead: np.ndarray  # (days,) how much bigger buyers make orders placed on that day
    promotions: list[PromotionSpec]
    active_promo: np.ndarray  # (days, len(CHANNELS)) index into promotions, -1 when none

    @property
    def n_days(self) -> int:
        return len(self.dates)


def build_calendar(rng: np.random.Generator) -> Calendar:
    dates = pd.date_range(WARMUP_START, DATA_END, freq="D")
    n = len(dates)
    doy = dates.day_of_year.to_numpy()
    years = (dates - pd.Timestamp(DATA_START)).days.to_numpy() / 365.25

    season = np.ones((n, len(SEASON_KINDS)))
    season[:, 1] = 1 + 0.6 * np.cos(2 * np.pi * (doy - 196) / 365.25)
    season[:, 2] = 1 + 0.45 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    for month, day in GIFTING_DAYS:
        for year in (2023, 2024, 2025):
            peak = pd.Timestamp(year, month, day)
            near = (dates <= peak) & (dates > peak - pd.Timedelta(days=8))
            season[near, 3] *= 1.7

    lift = np.ones((n, len(CHANNELS)))
    online = [CHANNELS.index(c) for c in ("tmall", "jd", "douyin", "xiaohongshu")]
    offline = CHANNELS.index("offline")
    for year in (2023, 2024, 2025):
        _window(lift, dates, online, date(year, 5, 31), date(year, 6, 15), 1.35)
        _window(lift, dates, online, date(year, 6, 16), date(year, 6, 18), 2.6)
        _window(lift, dates, online, date(year, 10, 20), date(year, 11, 10), 1.3)
        _window(lift, dates, online, date(year, 11, 11), date(year, 11, 11), 5.0)
        _window(lift, dates, online, date(year, 12, 10), date(year, 12, 12), 1.3)
        _window(lift, dates, [offline], date(year, 10, 1), date(year, 10, 7), 1.5)  # National Day week
    for festival in SPRING_FESTIVAL:
        _window(lift, dates, online, festival - timedelta(days=8), festival + timedelta(days=6), 0.45)
        _window(lift, dates, [offline], festival - timedelta(days=9), festival - timedelta(days=3), 1.3)
        _window(lift, dates, [offline], festival - timedelta(days=2), festival + timedelta(days=7), 0.5)

    dow = dates.day_of_week.to_numpy()
    weekday = np.ones((n, 2))
    weekday[:, 0] = np.choose(dow, [1.05, 1.0, 1.0, 0.98, 0.95, 0.97, 1.05])
    weekday[:, 1] = np.choose(dow, [0.8, 0.8, 0.85, 0.9, 1.1, 1.55, 1.45])
    growth = (1 + ANNUAL_GROWTH) ** years

    # Buyers stock up ahead of 618 and 11.11 on hope rather than forecast, which is how
    # the case's inventory "swells after the big promotions".
    buy_ahead = np.ones(n)
    for year in (2023, 2024, 2025):
        buy_ahead[(dates >= pd.Timestamp(year, 4, 25)) & (dates <= pd.Timestamp(year, 5, 25))] = FESTIVAL_STOCKUP
        buy_ahead[(dates >= pd.Timestamp(year, 9, 20)) & (dates <= pd.Timestamp(year, 10, 20))] = FESTIVAL_STOCKUP

    promotions, active = _promotions(rng, dates)
    return Calendar(
        dates=dates,
        first_data_day=int((pd.Timestamp(DATA_START) - pd.Timestamp(WARMUP_START)).days),
        season=season,
        channel_lift=lift,
        weekday=weekday,
        growth=growth,
        buy_ahead=buy_ahead,
        promotions=promotions,
        active_promo=active,
    )


def season_kind_index(category_index: np.ndarray) -> np.ndarray:
    kinds = np.array([SEASON_KINDS.index(c.season) for c in CATEGORIES])
    return kinds[category_index]


def _window(lift: np.ndarray, dates: pd.DatetimeIndex, cols: list[int], start: date, end: date, k: float) -> None:
    mask = (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
    lift[np.ix_(mask, cols)] *= k


def _promotions(rng: np.random.Generator, dates: pd.DatetimeIndex) -> tuple[list[PromotionSpec], np.ndarray]:
    """Festival campaigns on fixed dates, plus store member days, live-stream specials and
    category days on free dates. Depths vary from campaign to campaign so that price
    elasticity can be estimated from the sales; one channel runs one promotion at a time."""
    active = np.full((len(dates), len(CHANNELS)), -1, dtype=np.int32)
    specs: list[PromotionSpec] = []
    day0 = pd.Timestamp(WARMUP_START)

    def add(name: str, channel: str | None, start: date, end: date, depth: float, share: float) -> bool:
        cols = list(range(len(CHANNELS))) if channel is None else [CHANNELS.index(channel)]
        a = (pd.Timestamp(start) - day0).days
        b = (pd.Timestamp(end) - day0).days + 1
        if a < 0 or b > len(dates) or (active[a:b, cols] >= 0).any():
            return False
        depth = float(np.clip(depth + rng.normal(0, 0.04), 0.05, 0.5))
        specs.append(PromotionSpec(f"pr{len(specs) + 1:04d}", name, channel, start, end, round(depth, 2), share))
        active[a:b, cols] = len(specs) - 1
        return True

    for year in (2023, 2024, 2025):
        add(f"{year}天猫年货节", "tmall", date(year, 1, 5), date(year, 1, 18), 0.15, 0.5)
        add(f"{year}三八女王节", None, date(year, 3, 1), date(year, 3, 8), 0.2, 0.6)
        add(f"{year}天猫618", "tmall", date(year, 5, 31), date(year, 6, 18), 0.25, 0.7)
        add(f"{year}京东618", "jd", date(year, 5, 31), date(year, 6, 18), 0.2, 0.65)
        add(f"{year}抖音618好物节", "douyin", date(year, 6, 1), date(year, 6, 18), 0.3, 0.5)
        add(f"{year}小红书618", "xiaohongshu", date(year, 6, 5), date(year, 6, 18), 0.15, 0.5)
        add(f"{year}天猫99划算节", "tmall", date(year, 9, 1), date(year, 9, 9), 0.15, 0.4)
        add(f"{year}天猫双11", "tmall", date(year, 10, 20), date(year, 11, 11), 0.3, 0.8)
        add(f"{year}京东双11", "jd", date(year, 10, 23), date(year, 11, 11), 0.25, 0.7)
        add(f"{year}抖音双11", "douyin", date(year, 10, 22), date(year, 11, 11), 0.35, 0.6)
        add(f"{year}小红书双11", "xiaohongshu", date(year, 10, 25), date(year, 11, 11), 0.2, 0.5)
        add(f"{year}天猫双12", "tmall", date(year, 12, 1), date(year, 12, 12), 0.15, 0.5)
        for month in range(1, 13):
            add(f"{year}年{month}月门店会员日", "offline", date(year, month, 15), date(year, month, 17), 0.12, 0.5)
        for channel, name, n, length, depth, share in (
            ("douyin", "抖音直播专场", 8, 2, 0.3, 0.2),
            ("jd", "京东超级品类日", 4, 3, 0.2, 0.3),
            ("xiaohongshu", "小红书种草节", 3, 5, 0.15, 0.3),
            ("tmall", "天猫品牌日", 4, 3, 0.2, 0.35),
        ):
            placed = 0
            for _ in range(200):
                if placed == n:
                    break
                start = date(year, 1, 1) + timedelta(days=int(rng.integers(0, 360)))
                end = start + timedelta(days=length - 1)
                if add(f"{year}{name}{placed + 1:02d}", channel, start, end, depth, share):
                    placed += 1
    return specs, active
