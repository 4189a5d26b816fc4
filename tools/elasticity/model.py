"""Price elasticity per category (and per SKU, shrunk toward its category) from the sales panel.

The model is the log-log demand curve, written for counts::

    E[units] = in-stock days x exp(fixed effects) x price ** e_category

and fitted by pseudo-maximum likelihood for counts rather than OLS on log(units): most SKU-month
cells of a long-tail assortment sell 0 to 3 units, where log(units) is undefined or badly biased,
while a count pseudo-likelihood with a log link is consistent for the elasticity whatever the
noise (Santos Silva & Tenreyro 2006). ``e`` keeps its log-log meaning: +1% price, e% units.

The pseudo-likelihood is the negative binomial's with a fixed working ``alpha`` (``Var = mu +
alpha mu^2``). Poisson weights each cell by its volume, so one best seller whose day-to-day noise
grows with its volume can move a whole category (it did by 0.5 on one demo seed); the
negative-binomial weights ``mu / (1 + alpha mu)`` cap that, and are still Poisson's for the many
small cells. ``alpha`` is a moment estimate around each SKU-level group's average rate: it only
sets the weights, so a rough value costs a little efficiency, never consistency.

Controls (fixed effects), each for something that moves demand in this business:

- SKU x channel group x half-year: popularity, which stores stock the SKU (assortment), and its
  drift over the product life cycle (launch ramp, end-of-life fade);
- category x month: seasonality of the category (sunscreen in summer, creams in winter, gifting);
- channel group x month x promotion state: festival traffic (618, 11.11) and the promotion calendar,
  common to every SKU the channel sells.

The exposure offset counts in-stock days only (stockout days are excluded upstream). What is left
to identify ``e`` is how a SKU's units move with its own price against those baselines: list-price
changes, and within one channel-month-promotion cell the SKUs that joined a promotion (at its
discount) against those that did not. All categories are fitted in one regression with a
category-specific elasticity, so the channel-month-promotion effects are estimated from every SKU
and a category's estimate does not change with which categories were asked about.

Standard errors are cluster-robust by SKU (the quasi-likelihood sandwich, with the small-sample
factor of statsmodels' clustered WLS, checked against it in the tests), with t-based 95%
intervals. The solver itself is in ``ppml``.

SKU-level elasticities: a one-step estimate from each SKU's own cells (a Newton step away from
its category's elasticity). Its variance is the larger of the SKU's own sandwich (robust to
noise the variance function misses) and the model-based ``dispersion / information`` (stable for
SKUs with few cells, where a sandwich is too small). The estimates are shrunk toward the
category estimate by empirical Bayes: the between-SKU variance tau^2 comes from the method of
moments (DerSimonian-Laird), and a SKU keeps the share ``tau^2 / (tau^2 + v_sku)`` of its own
deviation. A SKU with thin or flat price data (large ``v_sku``) gets its category's elasticity; so
does every SKU when the SKUs of a category do not differ by more than their noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tools.elasticity import ppml

CONFIDENCE = 0.95
LIFE_CYCLE_MONTHS = 6  # length of the periods over which a SKU's baseline may drift


@dataclass(frozen=True)
class Fit:
    """Estimates by category and by SKU.

    ``categories``: elasticity, std_error, ci_low, ci_high, n_obs (cells), n_skus.
    ``skus``: category, elasticity, ci_low, ci_high, elasticity_sku_only (the unshrunk one-step
    estimate, NaN without price variation), sku_weight (the share of its own deviation the SKU
    keeps), n_obs.
    """

    categories: pd.DataFrame
    skus: pd.DataFrame
    iterations: int


def fixed_effects(cells: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """Integer codes of the fixed effects of each cell: the SKU-level grouping (SKU x channel
    group x half-year) and the time groupings (category x month; channel group x month x
    promotion state). See the module docstring for why each is there."""
    month = cells["month_index"].to_numpy()
    group = cells["channel_group"].astype(str)
    state = cells["promo_id"].fillna("").astype(str)
    period = (month // LIFE_CYCLE_MONTHS).astype(str)
    sku_level = pd.factorize(cells["sku_id"].astype(str) + "|" + group + "|" + period)[0]
    time = [
        pd.factorize(cells["category"].astype(str) + "|" + month.astype(str))[0],
        pd.factorize(group + "|" + month.astype(str) + "|" + state)[0],
    ]
    return sku_level, time


@dataclass(frozen=True)
class Prepared:
    """The solver's problem built from the cells, and how its rows map back to SKUs and categories."""

    problem: ppml.Problem
    categories: pd.Index  # slope index -> category
    sku_ids: pd.Index  # SKU code -> sku_id
    sku_codes: np.ndarray  # each row's SKU code; each SKU's rows are one contiguous run


def prepare(cells: pd.DataFrame) -> Prepared:
    """Drop cells that carry no information and sort the rest for the solver."""
    sku_level, time = fixed_effects(cells)
    units = cells["units"].to_numpy(float)
    # A group that sold nothing has a fixed effect of minus infinity and says nothing about price.
    keep = np.ones(len(cells), dtype=bool)
    for codes in (sku_level, *time):
        keep &= (np.bincount(codes, units) > 0)[codes]
    all_skus = pd.factorize(cells["sku_id"])[0]
    # Rows sorted by SKU, then by SKU-level group: both are contiguous runs for the solver.
    rows = np.flatnonzero(keep)
    order = rows[np.lexsort((sku_level[rows], all_skus[rows]))]
    kept = cells.iloc[order]
    category_codes, categories = pd.factorize(kept["category"], sort=True)
    sku_codes, sku_ids = pd.factorize(kept["sku_id"])
    level = sku_level[order]
    problem = ppml.Problem(
        units=kept["units"].to_numpy(float),
        offset=np.log(kept["days"].to_numpy(float)),
        log_price=np.log(kept["price"].to_numpy(float)),
        slope=category_codes,
        n_slopes=len(categories),
        group_starts=np.flatnonzero(np.r_[True, level[1:] != level[:-1]]),
        time=[pd.factorize(codes[order])[0] for codes in time],
    )
    return Prepared(problem=problem, categories=pd.Index(categories), sku_ids=pd.Index(sku_ids), sku_codes=sku_codes)


def fit(cells: pd.DataFrame) -> Fit:
    """Fit the model on the panel cells: ``data.PANEL_COLUMNS`` plus each SKU's ``category``."""
    prepared = prepare(cells)
    problem, categories, sku_ids, sku_codes = (
        prepared.problem,
        prepared.categories,
        prepared.sku_ids,
        prepared.sku_codes,
    )
    if len(problem.units) == 0:
        empty = pd.DataFrame(columns=["elasticity", "std_error", "ci_low", "ci_high", "n_obs", "n_skus"])
        skus = pd.DataFrame(
            columns=["category", "elasticity", "ci_low", "ci_high", "elasticity_sku_only", "sku_weight", "n_obs"]
        )
        return Fit(categories=empty.rename_axis("category"), skus=skus.rename_axis("sku_id"), iterations=0)
    alpha = ppml.overdispersion(problem.units, ppml.baseline(problem))
    solution = ppml.solve(problem, alpha)
    identified = np.isfinite(solution.beta)
    residual = (problem.units - solution.mu) / solution.mu
    sku_starts = np.flatnonzero(np.r_[True, sku_codes[1:] != sku_codes[:-1]])
    covariance = cluster_covariance(solution.design[:, identified], residual, solution.weights, sku_starts)
    std_error = np.full(len(categories), np.nan)
    std_error[identified] = np.sqrt(np.diag(covariance))
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, df=max(len(sku_ids) - 1, 1))
    sku_category = _category_of_sku(problem.slope, sku_codes, len(sku_ids))
    frame = pd.DataFrame(
        {
            "elasticity": solution.beta,
            "std_error": std_error,
            "ci_low": solution.beta - t * std_error,
            "ci_high": solution.beta + t * std_error,
            "n_obs": np.bincount(problem.slope, minlength=len(categories)),
            "n_skus": np.bincount(sku_category, minlength=len(categories)),
        },
        index=pd.Index(categories, name="category"),
    )
    skus = _sku_estimates(problem, solution, alpha, sku_codes, frame)
    skus.index = pd.Index(sku_ids, name="sku_id")
    skus.insert(0, "category", categories[sku_category])
    return Fit(categories=frame, skus=skus, iterations=solution.iterations)


def cluster_covariance(design: np.ndarray, residual: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cluster-robust sandwich of the converged slopes, with the small-sample factor
    ``G/(G-1) * (N-1)/(N-K)`` that statsmodels and Stata use for clustered WLS (the tests check it
    against ``statsmodels.WLS(...).fit(cov_type="cluster")`` on the last IRLS step).

    ``design`` is net of the fixed effects; ``residual`` is the working residual (units - mu) / mu
    and ``weights`` the IRLS weights; the rows of each cluster are the contiguous run beginning at
    its entry of ``starts``."""
    n, k = design.shape
    g = len(starts)
    bread = np.linalg.inv((design * weights[:, None]).T @ design)
    scores = np.add.reduceat(design * (weights * residual)[:, None], starts, axis=0)
    factor = g / max(g - 1, 1) * (n - 1) / max(n - k, 1)
    return factor * bread @ (scores.T @ scores) @ bread


def _category_of_sku(category_codes: np.ndarray, sku_codes: np.ndarray, n_skus: int) -> np.ndarray:
    """Each SKU's category code."""
    out = np.zeros(n_skus, dtype=int)
    out[sku_codes] = category_codes
    return out


def _sku_estimates(
    problem: ppml.Problem, solution: ppml.Solution, alpha: float, sku_codes: np.ndarray, categories: pd.DataFrame
) -> pd.DataFrame:
    """One-step SKU elasticities, empirical-Bayes shrunk toward the category (module docstring)."""
    units, mu, weights, category_codes = problem.units, solution.mu, solution.weights, problem.slope
    n_skus = int(sku_codes.max()) + 1 if len(sku_codes) else 0
    own = solution.design[np.arange(len(units)), category_codes]  # each cell's regressor, its own category
    contribution = own * weights * (units - mu) / mu  # each cell's score
    score = np.bincount(sku_codes, contribution, minlength=n_skus)
    information = np.bincount(sku_codes, weights * own**2, minlength=n_skus)
    sku_category = _category_of_sku(category_codes, sku_codes, n_skus)
    center = categories["elasticity"].to_numpy()[sku_category]
    center_se = categories["std_error"].to_numpy()[sku_category]

    groups = [np.repeat(np.arange(len(problem.group_starts)), np.diff(np.r_[problem.group_starts, len(units)]))]
    variance_of_units = mu * (1 + alpha * mu)
    dispersion = _dispersion(units, mu, variance_of_units, category_codes, groups + problem.time, len(categories))
    dispersion = dispersion[sku_category]
    informative = information > 1e-9 * np.maximum(np.bincount(sku_codes, weights, minlength=n_skus), 1e-12)
    safe = np.where(informative, information, 1.0)
    raw = np.where(informative, center + score / safe, np.nan)
    cells = np.bincount(sku_codes, minlength=n_skus)
    sandwich = np.bincount(sku_codes, contribution**2, minlength=n_skus) / safe**2
    sandwich *= cells / np.maximum(cells - 1, 1)
    variance = np.where(informative, np.maximum(sandwich, dispersion / safe), np.inf)

    tau2 = np.zeros(len(categories))
    for c in range(len(categories)):
        members = informative & (sku_category == c) & np.isfinite(center)
        tau2[c] = _between_variance(raw[members] - center[members], variance[members])
    between = tau2[sku_category]
    weight = np.where(informative, between / (between + variance), 0.0)
    estimate = center + weight * np.nan_to_num(raw - center)
    with np.errstate(invalid="ignore"):  # a category without an estimate leaves its SKUs at NaN
        spread = np.sqrt(np.where(informative, weight * variance, 0.0) + (1 - weight) ** 2 * center_se**2)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    return pd.DataFrame(
        {
            "elasticity": estimate,
            "ci_low": estimate - z * spread,
            "ci_high": estimate + z * spread,
            "elasticity_sku_only": raw,
            "sku_weight": weight,
            "n_obs": cells,
        }
    )


def _dispersion(
    units: np.ndarray,
    mu: np.ndarray,
    variance: np.ndarray,
    category_codes: np.ndarray,
    groups: list[np.ndarray],
    n_categories: int,
) -> np.ndarray:
    """Pearson dispersion per category against the working ``variance`` of the units (below 1
    when the working alpha overstates the noise), each fixed-effect level charged to the
    categories in proportion to its cells there."""
    pearson = np.bincount(category_codes, (units - mu) ** 2 / variance, minlength=n_categories)
    cells = np.bincount(category_codes, minlength=n_categories).astype(float)
    parameters = np.zeros(n_categories)
    for codes in groups:
        share = 1.0 / np.bincount(codes)[codes]  # each cell's share of its level
        parameters += np.bincount(category_codes, share, minlength=n_categories)
    return pearson / np.maximum(cells - parameters, 1.0)


def _between_variance(deviation: np.ndarray, variance: np.ndarray) -> float:
    """DerSimonian-Laird moment estimate of the between-SKU variance around the category value."""
    if len(deviation) < 2:
        return 0.0
    w = 1.0 / variance
    q = float((w * deviation**2).sum())
    denominator = float(w.sum() - (w**2).sum() / w.sum())
    return max(0.0, (q - (len(deviation) - 1)) / denominator) if denominator > 0 else 0.0
