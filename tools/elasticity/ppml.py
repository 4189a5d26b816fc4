"""Count pseudo-maximum likelihood (Poisson or negative binomial with a fixed alpha) with one slope
per category and high-dimensional fixed effects.

The estimator is the textbook IRLS for a log-link GLM; what makes it fast on hundreds of thousands
of cells with ~100,000 fixed effects is how each weighted regression is solved:

- the large SKU-level grouping (SKU x channel group x half-year) is absorbed by weighted group
  means over contiguous rows (the rows arrive sorted by SKU, then by that grouping);
- the small time groupings (a few hundred levels) are solved exactly from their normal equations
  net of it, ``S = T'WT - T'WD (D'WD)^-1 D'WT``, a dense matrix small enough to factor;
- the design is one log price per row in its category's column, and every SKU-level group lies in
  one category, so the regressors' cross-products need only one-column projections per iteration
  (Frisch-Waugh-Lovell: ``X'W M X = X'W M_D X - B' S^-1 B`` with ``B = T'W M_D X``); the full
  design net of the fixed effects is formed once, at convergence, for the standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

MAX_ITERATIONS = 100
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Problem:
    """The cells, sorted so that each SKU and each SKU-level group is a contiguous run of rows."""

    units: np.ndarray
    offset: np.ndarray  # log exposure (in-stock days)
    log_price: np.ndarray
    slope: np.ndarray  # each row's slope (category) index, 0..n_slopes-1
    n_slopes: int
    group_starts: np.ndarray  # first row of each SKU-level group
    time: list[np.ndarray]  # codes of each time grouping


@dataclass(frozen=True)
class Solution:
    beta: np.ndarray  # NaN for slopes the data do not identify
    mu: np.ndarray  # fitted units
    weights: np.ndarray  # the IRLS weights at the solution, mu / (1 + alpha * mu)
    design: np.ndarray  # (rows, slopes): the design net of the fixed effects under those weights
    iterations: int


class _Absorber:
    """Weighted projections on the fixed effects for one set of weights."""

    def __init__(self, problem: Problem, weights: np.ndarray) -> None:
        n = len(weights)
        self.weights = weights
        self.starts = problem.group_starts
        self.sizes = np.diff(np.r_[self.starts, n])
        self.group_weight = np.add.reduceat(weights, self.starts)
        sizes = [int(codes.max()) + 1 for codes in problem.time]
        offsets = np.cumsum([0, *sizes])
        self.codes = [codes + start for codes, start in zip(problem.time, offsets, strict=False)]
        self.n_levels = int(offsets[-1])
        levels = self.n_levels
        gram = np.zeros(levels * levels)  # T'WT
        for a in self.codes:
            for b in self.codes:
                gram += np.bincount(a * levels + b, weights, minlength=levels * levels)
        group = np.repeat(np.arange(len(self.starts)), self.sizes)
        cross = sparse.csr_matrix(
            (np.tile(weights, len(self.codes)), (np.tile(group, len(self.codes)), np.concatenate(self.codes))),
            shape=(len(self.starts), levels),
        )  # D'WT
        normal = gram.reshape(levels, levels) - (cross.T @ sparse.diags(1 / self.group_weight) @ cross).toarray()
        ridge = 1e-10 * max(float(np.trace(normal)) / max(len(normal), 1), 1e-300)
        self.factor = linalg.cho_factor(normal + ridge * np.eye(len(normal)))

    def within(self, values: np.ndarray) -> np.ndarray:
        """Values minus their weighted mean over their SKU-level group."""
        weighted = values * (self.weights if values.ndim == 1 else self.weights[:, None])
        means = np.add.reduceat(weighted, self.starts, axis=0)
        means = means / (self.group_weight if values.ndim == 1 else self.group_weight[:, None])
        return values - np.repeat(means, self.sizes, axis=0)

    def time_sums(self, values: np.ndarray, slope: np.ndarray | None = None, n_slopes: int = 1) -> np.ndarray:
        """``T'values`` (levels,), or by slope (levels, n_slopes) when ``slope`` is given."""
        if slope is None:
            return sum((np.bincount(c, values, minlength=self.n_levels) for c in self.codes), np.zeros(self.n_levels))
        out = np.zeros(self.n_levels * n_slopes)
        for c in self.codes:
            out += np.bincount(c * n_slopes + slope, values, minlength=self.n_levels * n_slopes)
        return out.reshape(self.n_levels, n_slopes)

    def time_values(self, effects: np.ndarray) -> np.ndarray:
        """``T effects``: each row's sum of its time levels' effects."""
        return sum((effects[c] for c in self.codes), np.zeros((len(self.weights), *effects.shape[1:])))

    def residual(self, values: np.ndarray) -> np.ndarray:
        """``values`` net of every fixed effect (weighted least squares)."""
        within = self.within(values)
        effects = linalg.cho_solve(self.factor, self.time_sums(within * self.weights))
        return within - self.within(self.time_values(effects))


def baseline(problem: Problem) -> np.ndarray:
    """Each cell's units at its SKU-level group's average rate per in-stock day (no price, no time)."""
    exposure = np.exp(problem.offset)
    starts = problem.group_starts
    sizes = np.diff(np.r_[starts, len(problem.units)])
    rate = np.add.reduceat(problem.units, starts) / np.add.reduceat(exposure, starts)
    return np.repeat(rate, sizes) * exposure


def solve(problem: Problem, alpha: float = 0.0, tolerance: float = TOLERANCE) -> Solution:
    """Fit ``log E[units] = offset + fixed effects + beta[slope] * log_price`` by IRLS, halving a
    step that would lower the likelihood.

    ``alpha`` sets the variance the weights assume, ``mu + alpha * mu^2`` (0: Poisson). Any such
    quasi-likelihood is consistent for a correct mean; a positive alpha stops the very largest
    cells (best sellers, whose noise grows with their volume) from dominating the fit.
    ``tolerance``: the largest change of a slope, and relative change of the deviance, at which
    the fit stops."""
    units, offset, log_price, slope, k = (
        problem.units,
        problem.offset,
        problem.log_price,
        problem.slope,
        problem.n_slopes,
    )
    start = (units + baseline(problem)) / 2  # between the data and each group's average rate
    deviance = np.inf  # the start is not a fitted model: the first step is taken whole
    mu = start
    eta = np.log(mu)
    beta = np.zeros(k)
    identified: np.ndarray | None = None
    for iteration in range(1, MAX_ITERATIONS + 1):
        weights = mu / (1 + alpha * mu)
        working = eta - offset + (units - mu) / mu
        absorber = _Absorber(problem, weights)
        price_within = absorber.within(log_price)
        cross = absorber.time_sums(weights * price_within, slope, k)  # B = T'W M_D X
        information = np.diag(np.bincount(slope, weights * price_within**2, minlength=k))
        information -= cross.T @ linalg.cho_solve(absorber.factor, cross)
        if identified is None:
            scale = np.bincount(slope, weights * (log_price - log_price.mean()) ** 2, minlength=k)
            identified = np.diag(information) > 1e-10 * np.maximum(scale, 1e-300)
        working_net = absorber.residual(working)
        score = np.bincount(slope, weights * log_price * working_net, minlength=k)
        new_beta = np.zeros(k)
        new_beta[identified] = np.linalg.solve(information[np.ix_(identified, identified)], score[identified])
        fitted_net = absorber.residual(log_price * new_beta[slope])
        target = offset + working - working_net + fitted_net
        for _ in range(30):
            new_mu = np.exp(target)
            new_deviance = _deviance(units, new_mu, alpha)
            if new_deviance <= deviance * (1 + 1e-12):
                break
            target = (target + eta) / 2
        change = float(np.abs(new_beta - beta).max(initial=0.0))
        settled = abs(deviance - new_deviance) <= tolerance * max(new_deviance, 1.0)
        eta, mu, beta, deviance = target, new_mu, new_beta, new_deviance
        if change < tolerance and settled:
            weights = mu / (1 + alpha * mu)
            return Solution(
                beta=np.where(identified, beta, np.nan),
                mu=mu,
                weights=weights,
                design=_design_net(problem, weights, identified),
                iterations=iteration,
            )
    raise ArithmeticError(f"the elasticity fit did not converge in {MAX_ITERATIONS} iterations")


def overdispersion(units: np.ndarray, mu: np.ndarray) -> float:
    """Moment estimate of alpha in ``Var = mu + alpha * mu^2`` from fitted means:
    ``E[(y - mu)^2 - y] = alpha * mu^2``."""
    return max(0.0, float(((units - mu) ** 2 - units).sum() / (mu**2).sum()))


def _design_net(problem: Problem, weights: np.ndarray, identified: np.ndarray) -> np.ndarray:
    """The (rows, slopes) design net of the fixed effects: ``M_D X - M_D T S^-1 B`` (zero columns
    for slopes that are not identified)."""
    absorber = _Absorber(problem, weights)
    k = problem.n_slopes
    price_within = absorber.within(problem.log_price)
    effects = linalg.cho_solve(absorber.factor, absorber.time_sums(weights * price_within, problem.slope, k))
    design = -absorber.within(absorber.time_values(effects))
    design[np.arange(len(weights)), problem.slope] += price_within
    design[:, ~identified] = 0.0
    return design


def _deviance(units: np.ndarray, mu: np.ndarray, alpha: float) -> float:
    """Poisson deviance (alpha = 0) or negative-binomial deviance with a fixed alpha."""
    positive = units > 0
    log_ratio = np.zeros_like(mu)
    log_ratio[positive] = units[positive] * np.log(units[positive] / mu[positive])
    if alpha == 0:
        return float(2 * (log_ratio.sum() - (units - mu).sum()))
    return float(2 * (log_ratio - (units + 1 / alpha) * np.log((1 + alpha * units) / (1 + alpha * mu))).sum())
