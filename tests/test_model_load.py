"""The governed model loads, covers the contract, and a broken file is reported precisely."""

# ruff: noqa: E501  (SQL text and case tables read better unwrapped)
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from semantic_layer.semantic_model import MODEL_DIR, ModelError, load_model

CONTRACT_METRICS = {
    "gmv", "units_sold", "orders", "aov", "cogs", "gross_profit", "gross_margin", "avg_inventory_value",
    "inventory_turnover", "dio", "stockout_rate", "slow_moving_share", "promo_roi", "dso", "dpo", "ccc",
    "ar_over_60_share", "conversion_rate", "marketing_spend", "cpe", "fulfillment_error_rate",
    "on_hand_units", "inventory_value_end", "in_transit_units", "ar_balance", "ap_balance",
}  # fmt: skip


def test_model_covers_all_contract_metrics_with_bilingual_names() -> None:
    model = load_model()
    assert set(model.metrics) >= CONTRACT_METRICS
    for metric in model.metrics.values():
        assert metric.name_zh and metric.name_en and metric.owner
        assert any(not s.isascii() for s in metric.synonyms), f"{metric.id}: no Chinese synonym"
        assert any(s.isascii() for s in metric.synonyms), f"{metric.id}: no English synonym"


@pytest.mark.parametrize(
    ("text", "metric"),
    [("毛利率", "gross_margin"), ("GM%", "gross_margin"), ("卖了多少钱", "gmv"), ("Revenue", "gmv"),
     ("营业额", "gmv"), ("周转天数", "dio"), ("DIO", "dio"), ("days of inventory", "dio"), ("毛利", "gross_profit")],
)  # fmt: skip
def test_metric_synonyms(text: str, metric: str) -> None:
    found = load_model().find_metric(text)
    assert found is not None and found.id == metric


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("天猫", "tmall"),
        ("Tmall", "tmall"),
        ("淘宝天猫", "tmall"),
        ("线下门店", "offline"),
        ("stores", "offline"),
    ],
)
def test_member_synonyms(text: str, code: str) -> None:
    assert load_model().find_member("channel", text) == code
    assert load_model().find_member("channel_type", "线上") == "online"


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_new_metric_needs_no_code_change(model_copy: Path) -> None:
    (model_copy / "extra.yaml").write_text(
        "metrics:\n  - {id: cost_share, name_zh: 成本占比, name_en: cost share, synonyms: [成本占比, cost share],\n"
        "     description_zh: 成本/销售额, description_en: cogs / gmv, formula: cogs / gmv, format: percent,\n"
        "     domain: sales, owner: Finance}\n",
        encoding="utf-8",
    )
    model = load_model(model_copy)
    assert model.find_metric("成本占比").id == "cost_share"
    assert "category" in model.metric_dimensions("cost_share")


def test_composite_metrics_name_their_components() -> None:
    model = load_model()
    assert model.metrics["ccc"].components == ["dio", "dso", "dpo"]
    assert (
        model.metrics["dio"].components
        == model.metrics["inventory_turnover"].components
        == ["avg_inventory_value", "cogs"]
    )
    assert model.metrics["gross_margin"].components == ["gross_profit", "gmv"]
    assert model.metrics["aov"].components == ["gmv", "orders"]
    assert model.metrics["conversion_rate"].components == ["orders", "visitors"]
    assert model.metrics["visitors"].additive and model.metrics["gmv"].components == []
    for metric in model.metrics.values():  # a component never turns an allowed cut into a refusal
        for component in metric.components:
            assert set(model.metric_dimensions(metric.id)) <= set(model.metric_dimensions(component))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("metrics.yaml", "formula: gross_profit / gmv", "formula: gross_profit / revenu",
         "metrics.yaml: metrics 'gross_margin': formula refers to unknown measure or metric 'revenu'"),
        ("metrics.yaml", "    format: days\n    domain: inventory", "    format: weeks\n    domain: inventory",
         "metrics.yaml: metrics 'dio': format"),
        ("metrics.yaml", "  - id: cpe\n", "  - id: CPE\n", "metrics.yaml: metrics 'CPE': id"),
        ("metrics.yaml", "id: aov", "id: gmv", "metrics.yaml: metrics 'gmv': defined twice"),
        ("measures.yaml", "expr: SUM(revenue)}", "expr: SUM(revenu)}",
         "measures.yaml: measures 'revenue': expr refers to 'revenu', not a column of fact_sales"),
        ("measures.yaml", "expr: SUM(quantity)}", "expr: quantity}", "measures.yaml: measures 'quantity': expr must be an aggregate"),
        ("dimensions.yaml", "columns: [dim_sku.brand]", "columns: [dim_sku.brandname]",
         "dimensions.yaml: dimensions 'brand': entity 'dim_sku' has no column 'brandname'"),
        ("entities.yaml", "- {column: store_id, to: dim_store}", "- {column: store_id, to: dim_shop}",
         "entities.yaml: entities 'fact_sales': join to 'dim_shop'"),
        ("roles.yaml", "deny_metrics: [ar_balance,", "deny_metrics: [ar_balanse,",
         "roles.yaml: roles 'marketing': deny_metrics: unknown metric 'ar_balanse'"),
        ("roles.yaml", "    domains: [sales, traffic]\n", "    domain: [sales, traffic]\n", "roles.yaml: roles 'store_manager'"),
        ("metrics.yaml", "formula: dio + dso - dpo", "formula: dio + dso - (ccc", "metrics.yaml: metrics 'ccc': formula does not parse"),
        ("metrics.yaml", "formula: gmv / orders", "formula: gmv / aov", "metrics.yaml: metrics 'aov': formula is circular"),
        ("roles.yaml", "roles:\n", "roles:\n  - [\n", "roles.yaml: not valid YAML"),
        ("metrics.yaml", "components: [dio, dso, dpo]", "components: [dio, dso, dpx]",
         "metrics.yaml: metrics 'ccc': components: 'dpx' is not another metric"),
        ("metrics.yaml", "components: [gmv, orders]", "components: [gmv, dso]",
         "metrics.yaml: metrics 'aov': components: 'dso' cannot be cut by"),
        ("entities.yaml", "reference_date: {entity: fact_sales}", "reference_date: {entity: dim_sku}",
         "entities.yaml: reference_date: 'dim_sku' is not a dated entity"),
        ("measures.yaml", "sales: fact_sales,", "sales: dim_sku,",
         "measures.yaml: measures 'unsold_stocked_skus': unsold.sales: 'dim_sku' is not a dated entity"),
        ("measures.yaml", "sold: SUM(quantity) > 0", "sold: SUM(qty) > 0",
         "measures.yaml: measures 'unsold_stocked_skus': unsold: 'qty' is not a column of fact_sales"),
        ("measures.yaml", "in_stock: on_hand_qty > 0", "in_stock: SUM(on_hand_qty) > 0",
         "measures.yaml: measures 'unsold_stocked_skus': unsold: 'SUM(on_hand_qty) > 0' must not aggregate"),
        ("dimensions.yaml", "aliases: {name: sku_alias.alias,", "aliases: {name: sku_alias.alias_name,",
         "dimensions.yaml: dimensions 'sku': entity 'sku_alias' has no column 'alias_name'"),
        ("dimensions.yaml", "aliases: {name: sku_alias.alias, source: sku_alias.source_system}",
         "aliases: {name: dim_store.store_name}",
         "dimensions.yaml: dimensions 'sku': index aliases: dim_store does not reach sku by its joins"),
        ("dimensions.yaml", "index: {drop_prefix: [city], drop_suffix", "index: {drop_prefix: [customer], drop_suffix",
         "dimensions.yaml: dimensions 'store': index: 'customer' is not a dimension with an index"),
        ("dimensions.yaml", 'forms: ["{}市"]', 'forms: ["市"]',
         "dimensions.yaml: dimensions 'city': index form '市': must hold one '{}' standing for the name"),
        ("dimensions.yaml", "starts: dim_promotion.start_date}", "starts: dim_sku.launch_date}",
         "dimensions.yaml: dimensions 'promotion': index starts: must be a column of dim_promotion"),
    ],
)  # fmt: skip
def test_broken_file_names_file_entry_and_problem(
    model_copy: Path, file: str, old: str, new: str, message: str
) -> None:
    edit(model_copy, file, old, new)
    with pytest.raises(ModelError) as caught:
        load_model(model_copy)
    assert message in str(caught.value)
