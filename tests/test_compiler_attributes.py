"""Attribute listings (DATA_CONTRACT.md, "Attributes"): a dimension's members listed, sorted and
filtered by their declared attributes without a metric, under the role's policy."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from semantic_layer.compiler import compile_attributes
from semantic_layer.errors import PolicyDeniedError, QueryError, UnknownAttributeError, UnsupportedCutError
from semantic_layer.query import AttributeQuery, Principal
from semantic_layer.semantic_model import MODEL_DIR, load_model

#: (query, hand-written SQL returning the same columns in the same order).
CASES: dict[str, tuple[AttributeQuery, str]] = {
    # 哪些供应商的账期最长: payment terms, longest first (ties by supplier id).
    "longest_payment_terms": (
        AttributeQuery(dimension="supplier", attributes=["payment_terms_days"],
                       order_by={"field": "payment_terms_days"}, limit=5),
        "SELECT supplier_id, supplier_name, payment_terms_days FROM dim_supplier "
        "ORDER BY payment_terms_days DESC NULLS LAST, supplier_id LIMIT 5",
    ),
    # 哪些客户是经销商: customers filtered by their type (a member dimension of the same table).
    "distributors": (
        AttributeQuery(dimension="customer", attributes=["customer_type", "payment_terms_days"],
                       filters=[{"dimension": "customer_type", "members": ["distributor"]}]),
        "SELECT customer_id, customer_name, customer_type, payment_terms_days FROM dim_customer "
        "WHERE customer_type = 'distributor' ORDER BY customer_id",
    ),
    # lead time by supplier: every supplier, shortest lead time first.
    "lead_time_by_supplier": (
        AttributeQuery(dimension="supplier", attributes=["lead_time_days", "lead_time_std_days"],
                       order_by={"field": "lead_time_days", "descending": False}),
        "SELECT supplier_id, supplier_name, lead_time_days, lead_time_std_days FROM dim_supplier "
        "ORDER BY lead_time_days NULLS LAST, supplier_id",
    ),
    "recent_expensive_skus": (
        AttributeQuery(dimension="sku", attributes=["list_price", "launch_date"],
                       conditions=[{"attribute": "launch_date", "op": ">=", "value": "2025-01-01"},
                                   {"attribute": "list_price", "op": ">", "value": 150}],
                       order_by={"field": "list_price"}, limit=10),
        "SELECT sku_id, sku_name, list_price, launch_date FROM dim_sku "
        "WHERE launch_date >= DATE '2025-01-01' AND list_price > 150 ORDER BY list_price DESC NULLS LAST, sku_id LIMIT 10",
    ),
    "all_promotion_attributes": (
        AttributeQuery(dimension="promotion", conditions=[{"attribute": "discount_pct", "op": ">=", "value": 0.3}]),
        "SELECT promo_id, promo_name, start_date, end_date, discount_pct, cost FROM dim_promotion "
        "WHERE discount_pct >= 0.3 ORDER BY promo_id",
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_listing_matches_handwritten_sql(con, case: str) -> None:
    query, sql = CASES[case]
    compiled = compile_attributes(query)
    got = con.execute(compiled.sql).fetchall()
    want = con.execute(sql).fetchall()
    assert len(want) > 0 and got == want
    assert len(compiled.columns) == len(want[0])


def test_columns_are_key_name_then_attributes() -> None:
    compiled = compile_attributes(CASES["longest_payment_terms"][0])
    assert compiled.columns == ["supplier", "supplier_name", "payment_terms_days"]
    every = compile_attributes(AttributeQuery(dimension="customer"))
    assert every.columns == ["customer", "customer_name", "payment_terms_days", "customer_type"]


def test_english_names_come_from_the_english_label(con) -> None:
    compiled = compile_attributes(AttributeQuery(dimension="sku", attributes=["list_price"], limit=3), language="en")
    names = [r[1] for r in con.execute(compiled.sql).fetchall()]
    assert names == [r[0] for r in con.execute("SELECT sku_name_en FROM dim_sku ORDER BY sku_id LIMIT 3").fetchall()]


def test_unknown_attribute_is_refused_with_suggestions() -> None:
    with pytest.raises(UnknownAttributeError) as caught:
        compile_attributes(AttributeQuery(dimension="supplier", attributes=["payment_term"]))
    assert "payment_terms_days" in caught.value.suggestions and caught.value.kind == "unknown_attribute"
    with pytest.raises(UnknownAttributeError) as caught:
        compile_attributes(AttributeQuery(dimension="supplier", attributes=["账期"]))
    assert caught.value.suggestions[0] == "payment_terms_days"
    with pytest.raises(UnknownAttributeError, match="no attributes to list; dimensions with attributes: sku"):
        compile_attributes(AttributeQuery(dimension="channel"))
    with pytest.raises(UnknownAttributeError):
        compile_attributes(AttributeQuery(dimension="sku", conditions=[{"attribute": "weight", "op": ">", "value": 1}]))


def test_bad_values_filters_and_orders_are_refused() -> None:
    with pytest.raises(QueryError, match="launch_date is a date"):
        compile_attributes(
            AttributeQuery(dimension="sku", conditions=[{"attribute": "launch_date", "op": ">", "value": "soon"}])
        )
    with pytest.raises(QueryError, match="list_price is a number"):
        compile_attributes(
            AttributeQuery(dimension="sku", conditions=[{"attribute": "list_price", "op": ">", "value": "cheap"}])
        )
    with pytest.raises(UnsupportedCutError, match="cannot be filtered by channel"):
        compile_attributes(AttributeQuery(dimension="supplier", filters=[{"dimension": "channel", "members": ["jd"]}]))
    with pytest.raises(QueryError, match="unknown customer_type 'retail'"):
        compile_attributes(
            AttributeQuery(dimension="customer", filters=[{"dimension": "customer_type", "members": ["retail"]}])
        )
    with pytest.raises(QueryError, match="cannot order by 'lead_time_days'"):
        compile_attributes(
            AttributeQuery(
                dimension="supplier", attributes=["payment_terms_days"], order_by={"field": "lead_time_days"}
            )
        )
    with pytest.raises(ValueError, match="listed twice"):
        AttributeQuery(dimension="supplier", attributes=["lead_time_days", "lead_time_days"])


def test_policies_apply_to_attributes() -> None:
    marketing = Principal(role="marketing")
    with pytest.raises(PolicyDeniedError, match="payment_terms_days"):
        compile_attributes(AttributeQuery(dimension="supplier", attributes=["payment_terms_days"]), principal=marketing)
    with pytest.raises(PolicyDeniedError, match="any attribute of supplier"):
        compile_attributes(AttributeQuery(dimension="supplier"), principal=marketing)
    with pytest.raises(PolicyDeniedError):  # a condition reads the attribute too
        compile_attributes(
            AttributeQuery(
                dimension="customer",
                attributes=[],
                conditions=[{"attribute": "payment_terms_days", "op": ">", "value": 30}],
            ),
            principal=marketing,
        )
    assert compile_attributes(AttributeQuery(dimension="promotion"), principal=marketing).columns[-1] == "cost"
    manager = Principal(role="store_manager", store_id="st01")
    skus = compile_attributes(AttributeQuery(dimension="sku"), principal=manager)  # master data no store owns
    assert skus.columns == ["sku", "sku_name", "list_price", "unit_cost", "launch_date"]
    with pytest.raises(PolicyDeniedError):
        compile_attributes(AttributeQuery(dimension="promotion"), principal=manager)
    with pytest.raises(PolicyDeniedError, match="unknown role"):
        compile_attributes(AttributeQuery(dimension="sku"), principal=Principal(role="intern"))


def test_a_new_attribute_is_yaml_only(con, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    path = folder / "dimensions.yaml"
    text = path.read_text(encoding="utf-8")
    anchor = "    columns: [dim_warehouse.warehouse_id]\n    label: {zh: dim_warehouse.warehouse_name, en: dim_warehouse.warehouse_name_en}\n"
    assert anchor in text
    path.write_text(
        text.replace(anchor, anchor + "    attributes:\n      - {name: city, column: dim_warehouse.city, name_zh: 所在城市, "
                     "name_en: city, synonyms: [仓库城市], format: text, domain: inventory}\n"),
        encoding="utf-8",
    )  # fmt: skip
    model = load_model(folder)
    assert model.find_attribute("仓库城市") == [("warehouse", model.dimensions["warehouse"].attribute("city"))]
    compiled = compile_attributes(AttributeQuery(dimension="warehouse", attributes=["city"]), model)
    want = con.execute("SELECT warehouse_id, warehouse_name, city FROM dim_warehouse ORDER BY warehouse_id").fetchall()
    assert con.execute(compiled.sql).fetchall() == want


def test_attribute_on_another_table_is_a_model_error(tmp_path: Path) -> None:
    from semantic_layer.semantic_model import ModelError

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder)
    path = folder / "dimensions.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("column: dim_supplier.lead_time_days", "column: dim_sku.list_price"), encoding="utf-8")
    with pytest.raises(
        ModelError, match="dimensions 'supplier': attribute 'lead_time_days': must be a column of dim_supplier"
    ):
        load_model(folder)
