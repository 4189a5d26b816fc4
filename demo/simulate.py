"""The day-by-day simulation of the retailer: demand, stock, sales and replenishment.

The loop runs over days; every step inside a day is vectorized over all selling points x
SKUs (demand) and all warehouses x SKUs (stock), so a day costs a few numpy calls however
many order lines it produces. Sales are censored by stock: a warehouse that runs dry
serves only what it holds, and no sale is recorded that the stock could not serve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from demo.calendar import Calendar, season_kind_index
from demo.catalog import CATEGORIES, CHANNELS, STORES, Catalog, retail_price
from demo.scales import Policy

# Sales lines: store, sku, qty, unit price and cost in cents, promotion, order number, ...
SalesChunk = dict[str, np.ndarray]
InventoryChunk = dict[str, np.ndarray]

ORDER_START = 100_000_001
NEW_ORDER_PROBABILITY = 0.62  # a line opens a new order with this chance: ~1.6 lines per order
LEAD_TIME_OPTIMISM = 1.15
SLIP_PROBABILITY = 0.08
FULFILLMENT_ERROR_RATE = {"wh_sh": 0.017, "wh_bj": 0.021, "wh_gz": 0.03}


@dataclass
class SimulationResult:
    """Daily aggregates that the finance, traffic and promotion tables are derived from."""

    store_gmv_cents: np.ndarray  # (days, stores)
    store_orders: np.ndarray  # (days, stores)
    promo_profit_cents: np.ndarray  # (promotions,) revenue - cogs of the lines of each promotion
    po_day: np.ndarray
    po_warehouse: np.ndarray
    po_sku: np.ndarray
    po_qty: np.ndarray
    po_lead: np.ndarray
    final_list_price: np.ndarray
    warehouse_ids: list[str]


@dataclass
class _State:
    on_hand: np.ndarray  # (W, K)
    on_order: np.ndarray  # (W, K)
    arrivals: np.ndarray  # (days + max lead, W, K)
    forecast: np.ndarray  # (W, K) EWMA of recorded sales per day


def simulate(
    rng: np.random.Generator,
    cat: Catalog,
    cal: Calendar,
    policy: Policy,
    demand_multiplier: float,
    on_sales: Callable[[SalesChunk], None],
    on_inventory: Callable[[InventoryChunk], None],
    on_day: Callable[[], None] = lambda: None,
    flush_days: int = 31,
) -> SimulationResult:
    n_days = cal.n_days
    n_sku = len(cat.skus)
    stores = STORES
    n_store = len(stores)
    warehouse_ids = sorted({s.warehouse_id for s in stores}, key=["wh_sh", "wh_bj", "wh_gz"].index)
    n_wh = len(warehouse_ids)
    store_wh = np.array([warehouse_ids.index(s.warehouse_id) for s in stores])
    store_ch = np.array([CHANNELS.index(s.channel) for s in stores])
    store_offline = np.array([s.channel == "offline" for s in stores], dtype=int)
    store_weight = np.array([s.weight for s in stores]) * demand_multiplier
    wh_onehot = np.zeros((n_wh, n_store), dtype=np.int64)
    wh_onehot[store_wh, np.arange(n_store)] = 1

    # Assortment: each store carries its most popular share of the range.
    rank = np.empty(n_sku, dtype=np.int64)
    rank[np.argsort(-cat.base_demand, kind="stable")] = np.arange(n_sku)
    carries = rank[None, :] < np.array([s.assortment for s in stores])[:, None] * n_sku  # (S, K)
    stocked = (wh_onehot @ carries.astype(np.int64)) > 0  # (W, K)

    elasticity = np.array([c.elasticity for c in CATEGORIES])[cat.category_index]
    season_kind = season_kind_index(cat.category_index)
    lead_mean = cat.suppliers["lead_time_days"].to_numpy()[cat.supplier_index]
    lead_std = cat.suppliers["lead_time_std_days"].to_numpy()[cat.supplier_index]
    unit_cost_cents = np.round(cat.unit_cost * 100).astype(np.int64)

    promos = cal.promotions
    takes_part = rng.random((max(len(promos), 1), n_sku)) < np.array([p.participation for p in promos] or [0])[:, None]
    promo_depth = np.array([p.discount_pct for p in promos] or [0.0])

    list_price, price_events = _list_price_path(rng, cat, n_days)

    expected = cat.base_demand * demand_multiplier
    # Opening stock: 20-90 days of demand, but products at the end of their life sit on
    # months of stock that past buyers over-ordered.
    opening_cover = rng.uniform(20, 90, (n_wh, n_sku))
    fading_soon = cat.decline_day < cal.first_data_day + 365
    opening_cover[:, fading_soon] = rng.uniform(100, 300, (n_wh, int(fading_soon.sum())))
    wh_share = wh_onehot @ (carries * np.array([s.weight for s in stores])[:, None])  # (W, K)
    state = _State(
        on_hand=np.where(stocked, np.round(expected * wh_share * opening_cover), 0).astype(np.int64),
        on_order=np.zeros((n_wh, n_sku), dtype=np.int64),
        arrivals=np.zeros((n_days + 120, n_wh, n_sku), dtype=np.int32),
        forecast=expected * wh_share,
    )
    state.on_hand[:, cat.launch_day > 0] = 0
    review_offset = rng.integers(0, policy.review_days, size=(n_wh, n_sku))

    res = SimulationResult(
        store_gmv_cents=np.zeros((n_days, n_store), dtype=np.int64),
        store_orders=np.zeros((n_days, n_store), dtype=np.int64),
        promo_profit_cents=np.zeros(max(len(promos), 1), dtype=np.int64),
        po_day=np.empty(0, np.int64),
        po_warehouse=np.empty(0, np.int64),
        po_sku=np.empty(0, np.int64),
        po_qty=np.empty(0, np.int64),
        po_lead=np.empty(0, np.int64),
        final_list_price=cat.ref_price,
        warehouse_ids=warehouse_ids,
    )
    pos: list[tuple[np.ndarray, ...]] = []
    sales_buf: list[SalesChunk] = []
    inv_buf: list[InventoryChunk] = []
    next_order = ORDER_START
    err_rate = np.array([FULFILLMENT_ERROR_RATE[w] for w in warehouse_ids])[store_wh]

    for t in range(n_days):
        for sku_idx, factor in price_events.get(t, ()):
            list_price[sku_idx] = retail_price(list_price[sku_idx] * factor)

        arriving = state.arrivals[t]
        state.on_hand += arriving
        state.on_order -= arriving

        age = t - cat.launch_day
        life = np.clip((age + 1) / 45.0, 0.0, 1.0)
        fading = t > cat.decline_day
        life[fading] *= np.exp(-(t - cat.decline_day[fading]) / 45.0)
        noise = rng.gamma(cat.volatility, 1.0 / cat.volatility)
        sku_factor = cat.base_demand * life * cal.season[t, season_kind] * noise * cal.growth[t]

        promo_today = cal.active_promo[t]  # (channels,)
        depth = np.where(promo_today >= 0, promo_depth[promo_today], 0.0)
        in_promo = (promo_today[:, None] >= 0) & takes_part[np.maximum(promo_today, 0)]  # (C, K)
        price_cents = np.round(list_price[None, :] * (1 - np.where(in_promo, depth[:, None], 0.0)) * 100)
        price_effect = (price_cents / 100.0 / cat.ref_price[None, :]) ** elasticity[None, :]  # (C, K)

        store_factor = store_weight * cal.channel_lift[t, store_ch] * cal.weekday[t, store_offline]
        lam = store_factor[:, None] * sku_factor[None, :] * price_effect[store_ch] * carries
        demand = rng.poisson(lam)

        wh_demand = wh_onehot @ demand
        fill = np.where(wh_demand > state.on_hand, state.on_hand / np.maximum(wh_demand, 1), 1.0)
        sold = np.floor(demand * fill[store_wh]).astype(np.int64)
        sold_wh = wh_onehot @ sold
        state.on_hand -= sold_wh

        if t >= cal.first_data_day:
            chunk, next_order = _order_lines(
                rng, sold, store_ch, price_cents, in_promo, promo_today, unit_cost_cents, err_rate, next_order
            )
            chunk["day"] = np.full(len(chunk["qty"]), t, dtype=np.int32)
            sales_buf.append(chunk)
            np.add.at(
                res.promo_profit_cents,
                chunk["promo"][chunk["promo"] >= 0],
                (chunk["revenue_cents"] - chunk["cogs_cents"])[chunk["promo"] >= 0],
            )
            res.store_orders[t] = np.bincount(chunk["store"][chunk["line_no"] == 1], minlength=n_store)
        revenue_by_store = (sold * price_cents[store_ch]).sum(axis=1)
        res.store_gmv_cents[t] = revenue_by_store.astype(np.int64)

        launched = cat.launch_day <= t
        state.forecast = np.where(
            launched[None, :], (1 - policy.forecast_alpha) * state.forecast + policy.forecast_alpha * sold_wh, 0.0
        )
        pos.append(
            _replenish(
                rng,
                t,
                state,
                policy,
                stocked,
                cat,
                lead_mean,
                lead_std,
                review_offset,
                expected * wh_share,
                cal.buy_ahead[t],
            )
        )

        active = stocked & launched[None, :]
        if t >= cal.first_data_day:
            w_idx, k_idx = np.nonzero(active)
            inv_buf.append(
                {
                    "day": np.full(len(w_idx), t, dtype=np.int32),
                    "warehouse": w_idx.astype(np.int32),
                    "sku": k_idx.astype(np.int32),
                    "on_hand": state.on_hand[w_idx, k_idx],
                    "in_transit": state.on_order[w_idx, k_idx],
                    "value_cents": state.on_hand[w_idx, k_idx] * unit_cost_cents[k_idx],
                }
            )

        if (t + 1) % flush_days == 0 or t == n_days - 1:
            if sales_buf:
                on_sales(_concat(sales_buf))
                on_inventory(_concat(inv_buf))
            sales_buf, inv_buf = [], []
        on_day()

    po = [np.concatenate(parts) for parts in zip(*pos, strict=True)] if pos else [np.empty(0, np.int64)] * 5
    res.po_day, res.po_warehouse, res.po_sku, res.po_qty, res.po_lead = po
    res.final_list_price = list_price
    return res


def _replenish(
    rng: np.random.Generator,
    t: int,
    state: _State,
    policy: Policy,
    stocked: np.ndarray,
    cat: Catalog,
    lead_mean: np.ndarray,
    lead_std: np.ndarray,
    review_offset: np.ndarray,
    launch_demand: np.ndarray,
    buy_ahead: float,
) -> tuple[np.ndarray, ...]:
    """The retailer's own policy: weekly review, reorder point without safety stock, a
    fixed days-of-cover order quantity on a forecast that stockouts bias downwards."""
    lead_days = np.broadcast_to(lead_mean, state.forecast.shape)
    rop = state.forecast * lead_days * policy.rop_factor
    position = state.on_hand + state.on_order
    due = stocked & (review_offset == t % policy.review_days) & (position <= rop)
    due &= (cat.launch_day <= t)[None, :]
    # New SKUs: the first order is placed one lead time before launch, for 45 days of demand.
    first = stocked & (cat.launch_day == t + np.ceil(lead_mean).astype(int))[None, :]
    target = np.where(first, launch_demand * 45.0, state.forecast * policy.cover_days * buy_ahead)
    due |= first
    w_idx, k_idx = np.nonzero(due)
    if len(w_idx) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty, empty
    pack = cat.pack_size[k_idx]
    qty = np.maximum(target[w_idx, k_idx], policy.min_order_units)
    qty = (np.ceil(qty / pack) * pack).astype(np.int64)
    # Suppliers quote optimistic lead times, and now and then a shipment slips by weeks.
    lead = rng.normal(lead_mean[k_idx] * LEAD_TIME_OPTIMISM, lead_std[k_idx])
    lead += np.where(rng.random(len(k_idx)) < SLIP_PROBABILITY, rng.integers(7, 29, len(k_idx)), 0)
    lead = np.maximum(1, np.round(lead)).astype(np.int64)
    np.add.at(state.arrivals, (t + lead.astype(np.int64), w_idx, k_idx), qty.astype(np.int32))
    state.on_order[w_idx, k_idx] += qty
    return np.full(len(w_idx), t, dtype=np.int64), w_idx.astype(np.int64), k_idx.astype(np.int64), qty, lead


def _order_lines(
    rng: np.random.Generator,
    sold: np.ndarray,
    store_ch: np.ndarray,
    price_cents: np.ndarray,
    in_promo: np.ndarray,
    promo_today: np.ndarray,
    unit_cost_cents: np.ndarray,
    err_rate: np.ndarray,
    next_order: int,
) -> tuple[SalesChunk, int]:
    """Split a day's sold units into order lines and group the lines into orders."""
    s_cell, k_cell = np.nonzero(sold)
    q_cell = sold[s_cell, k_cell]
    n_lines = 1 + rng.binomial(q_cell - 1, 0.6)
    cell = np.repeat(np.arange(len(q_cell)), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    j = np.arange(len(cell)) - starts[cell]
    qty = q_cell[cell] // n_lines[cell] + (j < q_cell[cell] % n_lines[cell])

    order = rng.permutation(len(cell))
    order = order[np.argsort(s_cell[cell][order], kind="stable")]
    cell, qty = cell[order], qty[order]
    store, sku = s_cell[cell], k_cell[cell]
    first_of_store = np.ones(len(cell), dtype=bool)
    first_of_store[1:] = store[1:] != store[:-1]
    new_order = first_of_store | (rng.random(len(cell)) < NEW_ORDER_PROBABILITY)
    order_no = np.cumsum(new_order) - 1
    order_start = np.flatnonzero(new_order)
    line_no = np.arange(len(cell)) - order_start[order_no] + 1

    ch = store_ch[store]
    unit_price = price_cents[ch, sku].astype(np.int64)
    promo = np.where(in_promo[ch, sku], promo_today[ch], -1)
    error_order = rng.random(len(order_start)) < err_rate[store[order_start]]
    error = np.zeros(len(cell), dtype=bool)
    error[order_start[error_order]] = True
    chunk = {
        "order_id": (order_no + next_order).astype(np.int64),
        "line_no": line_no.astype(np.int32),
        "store": store.astype(np.int32),
        "sku": sku.astype(np.int32),
        "qty": qty.astype(np.int32),
        "unit_price_cents": unit_price,
        "revenue_cents": unit_price * qty,
        "cogs_cents": unit_cost_cents[sku] * qty,
        "promo": promo.astype(np.int32),
        "error": error,
    }
    return chunk, next_order + len(order_start)


def _list_price_path(rng: np.random.Generator, cat: Catalog, n_days: int) -> tuple[np.ndarray, dict[int, list]]:
    """List-price changes at random days, independent of season: they give elasticity
    estimation clean variation. Returns the starting prices and the changes by day."""
    n_sku = len(cat.skus)
    n_changes = rng.choice([0, 1, 2, 3], size=n_sku, p=[0.3, 0.35, 0.23, 0.12])
    sku = np.repeat(np.arange(n_sku), n_changes)
    day = rng.integers(30, n_days, size=len(sku))
    up = rng.random(len(sku)) < 0.6
    factor = np.where(up, 1 + rng.uniform(0.05, 0.15, len(sku)), 1 - rng.uniform(0.05, 0.15, len(sku)))
    events: dict[int, list] = {}
    for d in np.unique(day):
        sel = day == d
        events[int(d)] = [(sku[sel], factor[sel])]
    return cat.ref_price.copy(), events


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
