"""The replenishment maths, vectorised over SKU x warehouse pairs: pure functions of arrays.

Policy: periodic review. Every ``R`` (review_days) days each pair is looked at; an order placed
now arrives after the lead time ``L``, and the next chance to order comes ``R`` days later, so
the stock on hand plus in transit (the inventory position) has to cover demand over the
*protection interval* ``L + R``. In a periodic review the reorder point is also the level
ordered up to: below it, order now, up to it::

    safety_stock  = z(CSL) * sqrt((L + R) * sd_d^2 + d^2 * sd_L^2)
    reorder_point = d * (L + R) + safety_stock          (whole units)
    order_qty     = reorder_point - inventory position, rounded up to the order multiple,
                    when the position is below the reorder point

``d`` and ``sd_d`` are the forecast daily mean and standard deviation over the protection
interval (the deseasonalised rate times the seasonal/promotion index of those days), ``L`` and
``sd_L`` the supplier's observed lead-time mean and spread.

Order-up-to rather than EOQ: orders are placed on a fixed review cycle, and the data holds no
ordering cost to trade off against holding cost, so an EOQ would rest on an invented number.

Order multiples (the supplier's case pack, see ``demand.order_multiples``): rounding an order up
to m units leaves the position anywhere from the reorder point s to s + m - 1 after a review,
equally likely in the long run (the (R, s, nQ) policy). The target is met on *average* over
those positions, so with large packs the reorder point sits below ``d * (L + R) + safety_stock``
(the pack itself is stock), and with m = 1 it is exactly the formula. The ``safety_stock``
reported is ``reorder_point - d * (L + R)``.

Intermittent demand (average demand interval > 1.32 days, Syntetos-Boylan): a normal
approximation of a few sparse sales puts probability on negative demand and understates the
right tail, and meeting a cycle service level can mean stocking nothing when most cycles have no
demand at all. For those pairs demand over the protection interval is a negative binomial
(Poisson when not over-dispersed) with the same mean and variance (the formula's variance), and
the reorder point is the smallest level that meets *both* the cycle service level and the same
target as a fill rate (expected units short per review cycle, ``E[(D_{L+R} - S)+] -
E[(D_L - S)+]``, at most ``(1 - target)`` of a cycle's demand).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import stats

DEFAULT_SERVICE_LEVELS: dict[str, float] = {"A": 0.98, "B": 0.95, "C": 0.90}
#: Cumulative revenue share that closes class A and class B.
ABC_CUTOFFS = (0.80, 0.95)
#: Coefficient of variation of weekly demand that closes class X and class Y.
XYZ_CUTOFFS = (0.5, 1.0)
#: Syntetos-Boylan cut-offs: average demand interval and squared CV of demand sizes.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
#: No units sold in this many days while stock is on hand: a slow mover.
SLOW_MOVER_DAYS = 90
#: More than this many days of cover (and more than one order multiple above the reorder point): overstock.
OVERSTOCK_COVER_DAYS = 90
ACTIONS = ("order_now", "watch", "overstock", "slow_mover", "ok")


def abc_classes(sku_ids: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """A / B / C by each SKU's share of revenue (largest first, cumulative 80% / 95%), per row.

    Rows are SKU x warehouse pairs that repeat a SKU's revenue; the class is the SKU's."""
    skus, first = np.unique(sku_ids, return_index=True)
    value = np.maximum(np.asarray(revenue, dtype=float)[first], 0.0)
    order = np.argsort(-value, kind="stable")
    total = value.sum()
    # the share of revenue *before* a SKU decides its class, so the SKU that crosses 80% is still A
    before = np.concatenate([[0.0], np.cumsum(value[order])[:-1]]) / total if total > 0 else np.ones(len(skus))
    cls = np.where(before < ABC_CUTOFFS[0], "A", np.where(before < ABC_CUTOFFS[1], "B", "C"))
    cls[value[order] <= 0] = "C"
    by_sku = np.empty(len(skus), dtype=object)
    by_sku[order] = cls
    return by_sku[np.searchsorted(skus, sku_ids)]


def xyz_classes(weekly_cv: np.ndarray) -> np.ndarray:
    """X / Y / Z by the coefficient of variation of weekly demand (no demand at all: Z)."""
    cv = np.asarray(weekly_cv, dtype=float)
    return np.where(cv <= XYZ_CUTOFFS[0], "X", np.where(cv <= XYZ_CUTOFFS[1], "Y", "Z")).astype(object)


def demand_patterns(adi: np.ndarray, cv2: np.ndarray) -> np.ndarray:
    """Syntetos-Boylan: smooth, erratic, intermittent, lumpy; ``none`` without any demand day."""
    sparse = adi > ADI_CUTOFF
    variable = cv2 > CV2_CUTOFF
    out = np.where(sparse, np.where(variable, "lumpy", "intermittent"), np.where(variable, "erratic", "smooth"))
    return np.where(np.isfinite(adi), out, "none").astype(object)


def service_targets(abc: np.ndarray, levels: Mapping[str, float] | None = None) -> np.ndarray:
    """The cycle-service-level target of each row's ABC class."""
    table = {**DEFAULT_SERVICE_LEVELS, **(levels or {})}
    return np.array([table[c] for c in ("A", "B", "C")])[np.searchsorted(np.array(["A", "B", "C"]), abc)]


def reorder_points(
    rate: np.ndarray,
    sd: np.ndarray,
    index_mean: np.ndarray,
    lead_mean: np.ndarray,
    lead_sd: np.ndarray,
    review_days: int,
    service: np.ndarray,
    intermittent: np.ndarray,
    multiple: np.ndarray,
) -> dict[str, np.ndarray]:
    """Forecast daily demand, its daily standard deviation, safety stock and reorder point.

    ``index_mean`` is the mean seasonal index over the protection interval; ``rate`` and ``sd``
    are deseasonalised. See the module docstring for the methods. ``safety_stock`` is the
    reorder point minus the expected demand over the protection interval; orders in multiples of
    m carry (m - 1) / 2 units more on average.
    """
    protection = lead_mean + review_days
    daily = rate * index_mean
    daily_sd = sd * index_mean
    mean = daily * protection
    var = protection * daily_sd**2 + daily**2 * lead_sd**2
    multiple = np.maximum(np.asarray(multiple, dtype=np.int64), 1)
    rop = normal_levels(mean, np.sqrt(var), service, multiple)

    sparse = np.asarray(intermittent, dtype=bool) & (mean > 0)
    if sparse.any():
        lead_demand = daily[sparse] * lead_mean[sparse]
        lead_var = lead_mean[sparse] * daily_sd[sparse] ** 2 + daily[sparse] ** 2 * lead_sd[sparse] ** 2
        rop[sparse] = count_levels(
            mean[sparse],
            var[sparse],
            lead_demand,
            lead_var,
            daily[sparse] * review_days,
            service[sparse],
            multiple[sparse],
        )
    # lost sales: the position never goes below 0, so a pair with demand needs a reorder point of
    # at least 1 to be reordered at all
    rop = np.where(mean > 0, np.maximum(rop, 1.0), 0.0)
    safety = np.where(mean > 0, np.maximum(rop - mean, 0.0), 0.0)
    return {
        "avg_daily_demand": daily,
        "demand_sd": daily_sd,
        "safety_stock": np.round(safety),
        "reorder_point": rop,
    }


def normal_levels(mean: np.ndarray, sd: np.ndarray, service: np.ndarray, multiple: np.ndarray) -> np.ndarray:
    """Smallest integer level s whose cycle service level, averaged over the positions a review
    leaves (s .. s + multiple - 1, equally likely), reaches the target. With a multiple of 1 this is
    ``ceil(mean + z * sd)``, the textbook formula; larger multiples carry extra stock on average,
    so s can be lower."""
    sd = np.maximum(sd, 1e-9)
    hi = np.ceil(mean + stats.norm.ppf(service) * sd - 1e-9)
    lo = hi - multiple + 1
    u = np.arange(int(multiple.max()), dtype=float)[None, :]
    in_pack = u < multiple[:, None]

    def average_service(level: np.ndarray) -> np.ndarray:
        cdf = stats.norm.cdf((level[:, None] + u - mean[:, None]) / sd[:, None])
        return np.where(in_pack, cdf, 0.0).sum(axis=1) / multiple

    while (lo < hi).any():
        mid = np.floor((lo + hi) / 2.0)
        ok = average_service(mid) >= service - 1e-12
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
    return hi


def count_levels(
    mean: np.ndarray,
    var: np.ndarray,
    lead_mean: np.ndarray,
    lead_var: np.ndarray,
    cycle_demand: np.ndarray,
    service: np.ndarray,
    multiple: np.ndarray,
) -> np.ndarray:
    """Smallest level meeting both the cycle service level and the fill-rate target for count
    (negative binomial / Poisson) demand, averaged over the positions a review leaves.

    Rows are grouped by how far their distribution reaches (powers of two), so a few fast pairs
    do not make every row evaluate thousands of levels."""
    out = np.zeros(len(mean))
    reach = np.ceil(mean + 8.0 * np.sqrt(var)) + 8
    bucket = np.ceil(np.log2(np.maximum(reach, 8))).astype(np.int64)
    for b in np.unique(bucket):
        r = bucket == b
        out[r] = _levels(2**b, mean[r], var[r], lead_mean[r], lead_var[r], cycle_demand[r], service[r], multiple[r])
    return out


def _levels(
    top: int,
    mean: np.ndarray,
    var: np.ndarray,
    lead_mean: np.ndarray,
    lead_var: np.ndarray,
    cycle_demand: np.ndarray,
    service: np.ndarray,
    multiple: np.ndarray,
) -> np.ndarray:
    """Levels 0..top; beyond ``top`` the CDF is 1 and the expected shortage 0."""
    width = top + int(multiple.max()) + 1
    grid = np.arange(width, dtype=float)
    cdf = count_cdf(width - 1, mean, var)
    # E[(D - s)+] = mean - s + sum_{k < s} F(k); short per cycle = over L + R minus over L alone
    loss = mean[:, None] - grid + _cumsum_before(cdf)
    loss_lead = np.maximum(lead_mean[:, None] - grid + _cumsum_before(count_cdf(width - 1, lead_mean, lead_var)), 0.0)
    rows = np.arange(len(mean))[:, None]
    levels = np.arange(top + 1)[None, :]

    def averaged(values: np.ndarray) -> np.ndarray:
        sums = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
        return (sums[rows, levels + multiple[:, None]] - sums[rows, levels]) / multiple[:, None]

    meets = (averaged(cdf) >= service[:, None] - 1e-12) & (
        averaged(loss - loss_lead) <= ((1.0 - service) * cycle_demand)[:, None] + 1e-12
    )
    return np.where(meets.any(axis=1), np.argmax(meets, axis=1), top).astype(float)


def _cumsum_before(cdf: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((len(cdf), 1)), np.cumsum(cdf, axis=1)[:, :-1]], axis=1)


def count_cdf(top: int, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """CDF on 0..top of a negative binomial with this mean and variance (Poisson if var <= mean),
    by the pmf recursion in log space (vectorised over rows; scipy's cdf is far slower here)."""
    mean = np.maximum(np.asarray(mean, dtype=float), 1e-12)[:, None]
    var = np.asarray(var, dtype=float)[:, None]
    over = var > mean * (1 + 1e-9)
    size = np.where(over, mean**2 / np.where(over, var - mean, 1.0), np.inf)
    k = np.arange(top, dtype=float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        # NB: P(k+1)/P(k) = (k + r) / (k + 1) * q, P(0) = p^r with p = r / (r + mean); Poisson: mean / (k + 1)
        q = np.where(over, mean / (size + mean), 0.0)
        log_ratio = np.where(over, np.log(k + size) + np.log(q), np.log(mean)) - np.log(k + 1)
        log_p0 = np.where(over, size * np.log(np.where(over, size / (size + mean), 1.0)), -mean)
    log_pmf = np.concatenate([log_p0, log_p0 + np.cumsum(log_ratio, axis=1)], axis=1)
    return np.minimum(np.cumsum(np.exp(log_pmf), axis=1), 1.0)


def order_quantities(position: np.ndarray, reorder_point: np.ndarray, multiple: np.ndarray) -> np.ndarray:
    """Up to the reorder point, in whole order multiples, when the position is below it."""
    gap = reorder_point - position
    return np.where(gap > 0, np.ceil(gap / multiple) * multiple, 0.0)


def actions(
    on_hand: np.ndarray,
    in_transit: np.ndarray,
    reorder_point: np.ndarray,
    daily: np.ndarray,
    lead_mean: np.ndarray,
    multiple: np.ndarray,
    units_90d: np.ndarray,
    active_90d: np.ndarray,
) -> np.ndarray:
    """One action per pair, first match wins:

    - slow_mover: stock on hand, active for 90 days, no unit sold in them;
    - order_now: the inventory position is below the reorder point;
    - overstock: more than 90 days of cover and more than one order multiple above the reorder point;
    - watch: the position is fine but the stock *on hand* does not last the lead time, so the
      service depends on in-transit stock arriving on time;
    - ok: none of these.
    """
    position = on_hand + in_transit
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, position / daily, np.where(position > 0, np.inf, 0.0))
    slow = (on_hand > 0) & (units_90d <= 0) & active_90d
    order = ~slow & (position < reorder_point)
    over = ~slow & ~order & (cover > OVERSTOCK_COVER_DAYS) & (position > reorder_point + multiple)
    watch = ~slow & ~order & ~over & (in_transit > 0) & (on_hand < daily * lead_mean)
    return np.select([slow, order, over, watch], ["slow_mover", "order_now", "overstock", "watch"], "ok").astype(object)
