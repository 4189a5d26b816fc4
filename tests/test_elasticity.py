"""The price-elasticity tool: the estimator, the pricing rule, the demo, and honest text.

- Synthetic panels drawn from the model the tool fits (known elasticities): the estimate recovers
  them, is unbiased across panels and its intervals cover; the solver equals statsmodels' Poisson
  and negative-binomial GLMs with explicit dummies, and the standard errors equal statsmodels'
  clustered WLS.
- The pricing rule: interior optimum ``c*e/(1+e)``, clamping to the observed prices, the bounded
  increase when demand is inelastic, no advice without a significant elasticity.
- The small demo (seed 7, ~25 SKUs a category): every category's estimate is within 1.0 of the
  planted ``truth_elasticity`` and the RMSE across categories is at most 0.35. Measured on the
  small demo for seeds 1-10: worst category error 0.21 to 0.92 (0.31 for seed 7), RMSE 0.12 to
  0.32; that is what ~25 SKUs a category support. At case scale (~500 SKUs a category) the worst
  error is 0.10 to 0.18 for seeds 42-45 (benchmarks/elasticity_bench.py).
- Every number of every text is a formatted cell of the rows or a fact, in both languages.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from engines import connect
from presentation.metric_format import format_value
from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine
from semantic_layer.errors import PolicyDeniedError
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import load_model
from semantic_layer.tables import CONTRACT_TABLES
from tools.base import ToolContext, ToolOutput
from tools.elasticity import Arguments, ElasticityTool, model, ppml, pricing
from tools.elasticity.table import CATEGORY_COLUMNS, FORMATS, SKU_COLUMNS

MODEL = load_model()
TODAY = dt.date(2026, 1, 1)
SMALL_DEMO_TOLERANCE = 1.0
SMALL_DEMO_RMSE = 0.35
PG_SCHEMA = "chatbi_elasticity"  # its own schema: other PostgreSQL tests load other data


# -- synthetic panels with known elasticities ----------------------------------------------------
def synthetic_panel(
    seed: int, elasticity: dict[str, float], skus_per_category: int = 40, months: int = 24, spread: float = 0.0
) -> pd.DataFrame:
    """Cells drawn from the fitted model: SKU popularity, a life-cycle drift per half-year, category
    seasonality, channel-month effects, promotions with a traffic lift that half the SKUs join at
    a 20% discount, one list-price change per SKU, stockout days, gamma noise. ``spread``: each
    SKU's elasticity is its category's plus or minus ``spread`` (half of the SKUs each way)."""
    rng = np.random.default_rng(seed)
    groups = ["tmall@wh_sh", "jd@wh_bj"]
    promo_months = {g: set(rng.choice(months, size=8, replace=False).tolist()) for g in groups}
    channel_month = {(g, m): rng.normal(0, 0.15) for g in groups for m in range(months)}
    rows = []
    for c, (category, e) in enumerate(elasticity.items()):
        phase = rng.uniform(0, 2 * np.pi)
        for i in range(skus_per_category):
            sku = f"sku{c:02d}{i:03d}"
            e_sku = e + (spread if i % 2 else -spread)
            base, list_price = rng.lognormal(np.log(4.0), 0.5), rng.uniform(50, 300)
            change_at, factor = rng.integers(3, months), rng.choice([0.9, 1.1])
            drift = rng.normal(0, 0.2, size=months // 6 + 1)
            for g in groups:
                share = rng.uniform(0.3, 1.0)
                for m in range(months):
                    price = list_price * (factor if m >= change_at else 1.0)
                    season = 0.3 * np.sin(2 * np.pi * m / 12 + phase)
                    states = (
                        [(None, 20, 0.0), (f"pr{g[:2]}{m}", 10, 0.6)] if m in promo_months[g] else [(None, 30, 0.0)]
                    )
                    for promo, days, lift in states:
                        p = price * (0.8 if promo is not None and rng.random() < 0.5 else 1.0)
                        stocked = days - rng.integers(0, 3)
                        effects = season + channel_month[g, m] + lift + drift[m // 6]
                        mu = stocked * base * share * np.exp(effects) * (p / list_price) ** e_sku
                        units = rng.poisson(mu * rng.gamma(10, 1 / 10))
                        rows.append((sku, g, 24288 + m, promo, float(stocked), float(units), p, category))
    columns = ["sku_id", "channel_group", "month_index", "promo_id", "days", "units", "price", "category"]
    return pd.DataFrame(rows, columns=columns)


def test_recovers_known_elasticities_on_a_synthetic_panel() -> None:
    truth = {"A": -2.0, "B": -0.8}
    fit = model.fit(synthetic_panel(0, truth, skus_per_category=100))
    for category, e in truth.items():
        row = fit.categories.loc[category]
        assert abs(row["elasticity"] - e) < 0.25, row
        assert row["ci_low"] < e < row["ci_high"], row
        assert row["n_skus"] == 100


def test_estimates_are_unbiased_and_intervals_cover_across_panels() -> None:
    truth = np.array([-2.0, -0.8])
    errors, covered = [], []
    for seed in range(10):
        c = model.fit(synthetic_panel(seed, {"A": -2.0, "B": -0.8})).categories
        errors.append(c["elasticity"].to_numpy() - truth)
        covered.append(((c["ci_low"] < truth) & (truth < c["ci_high"])).to_numpy())
    assert np.abs(np.mean(errors, axis=0)).max() < 0.08
    assert np.mean(covered) >= 0.8


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.SingularMatrixWarning")  # collinear dummies
def test_the_solver_is_the_glm_with_dummies_and_its_errors_are_clustered_wls() -> None:
    cells = synthetic_panel(3, {"A": -1.5, "B": -1.0}, skus_per_category=5, months=12)
    prepared = model.prepare(cells)
    problem = prepared.problem
    groups = np.repeat(np.arange(len(problem.group_starts)), np.diff(np.r_[problem.group_starts, len(problem.units)]))
    blocks = [np.eye(int(codes.max()) + 1)[codes] for codes in [groups, *problem.time]]
    slopes = np.zeros((len(problem.units), problem.n_slopes))
    slopes[np.arange(len(problem.units)), problem.slope] = problem.log_price
    design = np.hstack([slopes, *blocks])

    poisson = ppml.solve(problem)
    glm = sm.GLM(problem.units, design, family=sm.families.Poisson(), offset=problem.offset).fit(tol=1e-12)
    np.testing.assert_allclose(poisson.beta, glm.params[: problem.n_slopes], atol=1e-6)

    alpha = 0.3
    negative_binomial = ppml.solve(problem, alpha)
    family = sm.families.NegativeBinomial(alpha=alpha)
    glm = sm.GLM(problem.units, design, family=family, offset=problem.offset).fit(tol=1e-12)
    np.testing.assert_allclose(negative_binomial.beta, glm.params[: problem.n_slopes], atol=1e-4)
    for fit in (poisson, negative_binomial):  # the likelihood's score is zero for every column, dummies too
        score = design.T @ (fit.weights * (problem.units - fit.mu) / fit.mu)
        assert np.abs(score).max() < 1e-5 * problem.units.sum()
    np.testing.assert_allclose(negative_binomial.weights, negative_binomial.mu / (1 + alpha * negative_binomial.mu))

    fitted = negative_binomial
    residual = (problem.units - fitted.mu) / fitted.mu
    starts = np.flatnonzero(np.r_[True, prepared.sku_codes[1:] != prepared.sku_codes[:-1]])
    ours = model.cluster_covariance(fitted.design, residual, fitted.weights, starts)
    wls = sm.WLS(fitted.design @ fitted.beta + residual, fitted.design, weights=fitted.weights)
    theirs = wls.fit(cov_type="cluster", cov_kwds={"groups": prepared.sku_codes}).cov_params()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * np.abs(theirs).max())


def test_overdispersion_is_the_negative_binomial_moment() -> None:
    rng = np.random.default_rng(0)
    mu = rng.uniform(1, 200, 20_000)
    units = rng.poisson(mu * rng.gamma(1 / 0.2, 0.2, mu.shape)).astype(float)  # Var = mu + 0.2 mu^2
    assert ppml.overdispersion(units, mu) == pytest.approx(0.2, abs=0.02)
    assert ppml.overdispersion(rng.poisson(mu).astype(float), mu) == pytest.approx(0.0, abs=0.01)


def test_sku_estimates_shrink_to_the_category_unless_skus_differ() -> None:
    same = model.fit(synthetic_panel(5, {"A": -2.0}, skus_per_category=60)).skus
    assert same["sku_weight"].max() < 0.2
    assert np.allclose(same["elasticity"], same["elasticity"].mean(), atol=0.15)

    apart = model.fit(synthetic_panel(5, {"A": -2.0}, skus_per_category=60, spread=1.0)).skus
    truth = np.where(np.arange(60) % 2, -1.0, -3.0)[[int(s[-3:]) for s in apart.index]]
    assert apart["sku_weight"].median() > 0.3
    assert np.corrcoef(apart["elasticity"], truth)[0, 1] > 0.7
    # What empirical Bayes is for: closer to each SKU's truth than its own noisy estimate, or than the category's.
    shrunk = np.mean((apart["elasticity"] - truth) ** 2)
    assert shrunk < np.mean((apart["elasticity_sku_only"] - truth) ** 2)
    assert shrunk < np.mean((apart["elasticity"].mean() - truth) ** 2) / 2


# -- the pricing rule ----------------------------------------------------------------------------
def advise(
    e: float,
    cost: float = 50.0,
    current: float = 80.0,
    low: float = 60.0,
    high: float = 100.0,
    ci_high: float | None = None,
) -> tuple[float, str]:
    upper = e + 0.1 if ci_high is None else ci_high
    price, rule = pricing.recommend(
        np.array([e]), np.array([upper]), np.array([cost]), np.array([current]), np.array([low]), np.array([high])
    )
    return float(price[0]), str(rule[0])


def test_elastic_demand_prices_at_cost_times_e_over_one_plus_e() -> None:
    assert advise(-3.0) == pytest.approx((75.0, pricing.OPTIMUM))  # 50 * 3 / 2
    assert advise(-2.0, cost=45.0) == pytest.approx((90.0, pricing.OPTIMUM))


def test_the_optimum_is_kept_within_the_observed_prices() -> None:
    assert advise(-1.2) == pytest.approx((100.0, pricing.OPTIMUM_AT_BOUND))  # 300 -> the highest seen
    assert advise(-11.0, cost=50.0, low=60.0) == pytest.approx((60.0, pricing.OPTIMUM_AT_BOUND))  # 55 -> the lowest
    # A list price raised above every price sold at is kept, never cut toward the old prices.
    assert advise(-1.2, current=110.0, high=100.0) == pytest.approx((110.0, pricing.OPTIMUM_AT_BOUND))


def test_inelastic_demand_gets_a_bounded_increase() -> None:
    assert advise(-0.8, current=80.0, high=100.0) == pytest.approx((88.0, pricing.BOUNDED_INCREASE))  # +10% cap
    assert advise(-0.8, current=80.0, high=86.0) == pytest.approx((86.0, pricing.BOUNDED_INCREASE))  # the highest seen
    assert advise(-1.0, current=80.0, high=80.0) == pytest.approx((84.0, pricing.BOUNDED_INCREASE))  # +5% test step


def test_no_advice_without_a_significantly_negative_elasticity() -> None:
    assert advise(-1.5, ci_high=0.2) == (80.0, pricing.HOLD)
    assert advise(0.3) == (80.0, pricing.HOLD)
    assert advise(float("nan")) == (80.0, pricing.HOLD)
    assert advise(-1.5, low=float("nan"), high=float("nan")) == (80.0, pricing.HOLD)


def test_gross_profit_change_follows_the_demand_curve() -> None:
    units, cost, now, e = 1000.0, 50.0, 80.0, -3.0
    assert (
        pricing.gross_profit_change(
            np.array([units]), np.array([cost]), np.array([now]), np.array([now]), np.array([e])
        )[0]
        == 0.0
    )
    grid = np.linspace(55, 120, 651)
    change = pricing.gross_profit_change(
        np.full_like(grid, units), np.full_like(grid, cost), np.full_like(grid, now), grid, np.full_like(grid, e)
    )
    assert grid[change.argmax()] == pytest.approx(75.0, abs=0.1)
    assert change.max() == pytest.approx(units * ((75 - cost) * (75 / now) ** e - (now - cost)))


# -- the tool on the small demo ------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(demo_db: Path) -> Iterator[Engine]:
    eng = connect(demo_db, allowed_tables=set(CONTRACT_TABLES))  # with the demo's answer key
    yield eng
    eng.close()


_RUNS: dict[tuple[str, str], ToolOutput] = {}


def run_tool(
    engine: Engine, language: str = "zh", role: str = "admin", store_id: str | None = None, **args: Any
) -> ToolOutput:
    """Run the tool (the same arguments are run once per test session)."""
    key = (repr(sorted(args.items())), engine.dialect + language + role + str(store_id))
    if key not in _RUNS:
        context = ToolContext(engine, MODEL, Principal(role=role, store_id=store_id), TODAY, language)  # type: ignore[arg-type]
        _RUNS[key] = ElasticityTool().run(Arguments.model_validate(args), context)
    return _RUNS[key]


def table(output: ToolOutput) -> pd.DataFrame:
    return pd.DataFrame(output.rows, columns=output.columns)


def test_every_category_recovers_the_planted_elasticity_on_the_small_demo(engine: Engine) -> None:
    rows = table(run_tool(engine)).set_index("category")
    truth = dict(engine.execute("SELECT category, elasticity FROM truth_elasticity").rows)
    assert set(rows.index) == set(truth)
    errors = rows["elasticity"] - pd.Series(truth)
    assert errors.abs().max() <= SMALL_DEMO_TOLERANCE, errors
    assert float(np.sqrt((errors**2).mean())) <= SMALL_DEMO_RMSE, errors
    assert (rows["elasticity"] < 0).all()
    assert (rows["ci_low"] < rows["elasticity"]).all() and (rows["elasticity"] < rows["ci_high"]).all()


def test_category_rows_carry_the_issue_columns_and_governed_margins(engine: Engine) -> None:
    out = run_tool(engine, category="面膜")
    rows = table(out)
    assert out.columns == CATEGORY_COLUMNS and len(rows) == 1 and rows["category"][0] == "面膜"
    row = rows.iloc[0]
    assert row["price_low"] <= row["recommended_price"] <= row["price_high"] * 1.1
    assert row["pricing_rule"] in (pricing.OPTIMUM, pricing.BOUNDED_INCREASE, pricing.HOLD)
    period = Period(start=out.period[0], end=out.period[1]) if out.period else None
    assert period is not None and period.end == TODAY - dt.timedelta(days=1)
    query = MetricQuery.model_validate({"metrics": ["gross_margin"], "dimensions": ["category"], "period": period})
    compiled = compile_query(query, MODEL)
    governed = dict(engine.execute(compiled.sql).rows)
    assert row["gross_margin"] == pytest.approx(float(governed["面膜"]))
    # The same estimate whichever categories are asked for: the model is fitted on all of them.
    everything = table(run_tool(engine)).set_index("category")
    assert row["elasticity"] == pytest.approx(everything.loc["面膜", "elasticity"])


def test_english_category_names_and_display_columns(engine: Engine) -> None:
    rows = table(run_tool(engine, language="en", category="face mask"))
    assert rows["category"].tolist() == ["面膜"] and rows["category_name"].tolist() == ["Face mask"]


def test_sku_rows_are_shrunk_estimates_with_their_own_prices(engine: Engine) -> None:
    out = run_tool(engine, category="面膜", level="sku")
    rows = table(out)
    assert out.columns == SKU_COLUMNS and len(rows) == out.facts["rows_total"] > 5
    assert (rows["category"] == "面膜").all()
    assert rows["sku_weight"].between(0, 1).all()
    assert (rows["price_low"] - 1e-9 <= rows["recommended_price"]).all()
    changes = rows["expected_gross_profit_change"].to_numpy()
    assert (np.diff(changes) <= 1e-9).all()  # the largest gain first
    picked = table(run_tool(engine, sku_ids=rows["sku_id"][:2].tolist() + ["no_such_sku"]))
    assert sorted(picked["sku_id"]) == sorted(rows["sku_id"][:2])


def test_promotion_roi_is_the_governed_metric(engine: Engine) -> None:
    out = run_tool(engine, category="面膜", include_promotions=True)
    promotions = pd.DataFrame(out.facts["promotions"])
    assert out.period is not None
    period = {"start": out.period[0], "end": out.period[1]}
    query = MetricQuery.model_validate({"metrics": ["promo_roi"], "dimensions": ["promotion"], "period": period})
    governed = {k: v for k, v in engine.execute(compile_query(query, MODEL).sql).rows}
    assert len(promotions) == len(governed) > 10
    for row in promotions.itertuples():
        assert row.promo_roi == pytest.approx(governed[row.promo_id], nan_ok=True)
    assert "promo_roi" in out.metrics and "促销ROI" in out.text


def test_roles_that_may_not_read_inventory_or_see_the_company_are_refused(engine: Engine) -> None:
    with pytest.raises(PolicyDeniedError):
        run_tool(engine, role="marketing")
    with pytest.raises(PolicyDeniedError):
        run_tool(engine, role="store_manager", store_id="st_sh01")
    assert run_tool(engine, role="finance").rows


@pytest.fixture(scope="module")
def postgres(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The small demo loaded into PostgreSQL (CHATBI_TEST_PG_URL; skipped when unset unless CHATBI_REQUIRE_PG=1)."""
    url = os.environ.get("CHATBI_TEST_PG_URL")
    if not url:
        if os.environ.get("CHATBI_REQUIRE_PG") == "1":
            pytest.fail("CHATBI_REQUIRE_PG=1 but CHATBI_TEST_PG_URL is not set")
        pytest.skip("CHATBI_TEST_PG_URL is not set")
    from engines.load import load_demo

    copy = tmp_path_factory.mktemp("elasticity") / "small.duckdb"  # the demo file is open in the engine fixture
    shutil.copy(demo_db, copy)
    load_demo(copy, url, schema=PG_SCHEMA)
    sep = "&" if "?" in url else "?"
    eng = connect(f"{url}{sep}options=-csearch_path%3D{PG_SCHEMA}")
    yield eng
    eng.close()


def test_postgres_gives_the_same_answer(engine: Engine, postgres: Engine) -> None:
    """The hand-written panel SQL is transpiled; PostgreSQL must read the same cells (and plan it
    without nested loops over misestimated CTEs: a time-out here is the symptom)."""
    args: dict[str, Any] = {"category": "面膜", "level": "sku", "include_promotions": True}  # every read the tool makes
    duck, pg = run_tool(engine, **args), run_tool(postgres, **args)
    assert pg.text == duck.text
    ours, theirs = table(duck), table(pg)
    assert list(ours.columns) == list(theirs.columns) and len(ours) == len(theirs)
    for column in ("elasticity", "category_elasticity", "recommended_price", "expected_gross_profit_change"):
        np.testing.assert_allclose(theirs[column].astype(float), ours[column].astype(float), rtol=1e-8, atol=1e-8)


def test_unknown_category_lists_the_categories(engine: Engine) -> None:
    out = run_tool(engine, category="牙膏")
    assert not out.rows and "牙膏" in out.text and "面膜" in out.text


def test_a_short_period_holds_where_the_data_cannot_tell(engine: Engine) -> None:
    rows = table(run_tool(engine, start="2025-12-01"))
    holds = rows[rows["pricing_rule"] == pricing.HOLD]
    assert (holds["recommended_price"] == holds["current_price"]).all()
    assert (rows.loc[rows["pricing_rule"] != pricing.HOLD, "ci_high"] < 0).all()
    out = run_tool(engine, start="2025-12-01")
    assert out.facts["period_days"] == 31 and "31 天" in out.text  # says the estimate is unstable


def test_arguments_are_a_tool_schema() -> None:
    schema = Arguments.model_json_schema()
    assert set(schema["properties"]) == {"category", "sku_ids", "level", "start", "end", "include_promotions"}
    assert all(p.get("description") for p in schema["properties"].values())
    with pytest.raises(ValueError):
        Arguments.model_validate({"category": "面膜", "price": 10})
    assert ElasticityTool.name == "elasticity" and "stockout_rate" in ElasticityTool.reads


# -- the text states only numbers of the rows and facts -------------------------------------------
NUMBER = re.compile(r"[-+]?¥?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:万|亿|%|[KMB](?![A-Za-z]))?")


def unexplained(out: ToolOutput, language: str) -> list[str]:
    """Numbers of the text that are not a cell (in its column's format) or a fact; names first removed."""
    names = {str(v) for row in out.rows for v in row if isinstance(v, str)}
    facts = out.facts.get("promotions", [])
    names |= {str(v) for row in facts for v in row.values() if isinstance(v, str)}
    text = out.text
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    allowed = {format_value(out.facts.get("rows_total", 0), "count", language)}
    allowed |= {
        format_value(out.facts.get(key, 0), "count", language) for key in ("skus_with_own_estimate", "period_days")
    }
    allowed |= {format_value(len(out.rows), "count", language), format_value(len(facts), "count", language)}
    allowed |= {format_value(row["promo_roi"], "ratio", language) for row in facts}
    for row in out.rows:
        for column, value in zip(out.columns, row, strict=True):
            allowed.add(format_value(value, FORMATS.get(column), language))
    allowed_numbers = {n for shown in allowed for n in NUMBER.findall(shown)}
    return [n for n in NUMBER.findall(text) if n not in allowed_numbers]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize(
    "args",
    [
        {},
        {"category": "面膜"},
        {"category": "香水"},
        {"category": "面膜", "level": "sku", "include_promotions": True},
        {"start": "2025-12-01"},
    ],
    ids=["all", "mask", "perfume", "sku-promotions", "short"],
)
def test_text_numbers_are_rows_or_facts(engine: Engine, language: str, args: dict[str, Any]) -> None:
    out = run_tool(engine, language=language, **args)
    assert out.text and not unexplained(out, language), out.text
    assert len(NUMBER.findall(out.text)) >= 3


def test_the_honesty_check_catches_an_invented_number(engine: Engine) -> None:
    out = run_tool(engine, category="面膜")
    forged = out.model_copy(update={"text": out.text + "弹性约为 -2.35。"})
    assert unexplained(forged, "zh") == ["-2.35"]
    rows = table(out)
    assert format_value(rows["elasticity"][0], "ratio", "zh") in out.text
