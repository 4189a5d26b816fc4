"""The README's "Connect your warehouse" walkthrough, step by step, with the YAML taken from the README:
a warehouse that is not the contract's, scaffolded, described, checked and asked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def walkthrough_yaml(file: str) -> list[dict]:
    """The YAML block the README appends to ``file`` (marked ``<!-- walkthrough:FILE -->``)."""
    found = re.search(rf"<!-- walkthrough:{re.escape(file)} -->\s*```yaml\n(.*?)```", README.read_text(), re.S)
    assert found, f"the README has no walkthrough block for {file}"
    return yaml.safe_load(re.sub(r"(?m)^   ", "", found.group(1)))


@pytest.fixture(scope="module")
def erp(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo's order lines, shops and items under an ERP's names."""
    path = tmp_path_factory.mktemp("erp") / "erp.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute(f"ATTACH '{demo_db}' AS demo (READ_ONLY)")
        con.execute(
            "CREATE TABLE order_line AS SELECT order_id AS doc_no, order_date AS biz_date, store_id AS shop_code,"
            " sku_id AS item_code, quantity AS qty, revenue AS line_amount, cogs AS line_cost FROM demo.fact_sales"
        )
        con.execute("CREATE TABLE shop AS SELECT store_id AS shop_code, store_name AS shop_name, channel, city FROM demo.dim_store")
        con.execute("CREATE TABLE item AS SELECT sku_id AS item_code, sku_name AS item_name, category FROM demo.dim_sku")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def model(erp: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("walk") / "mymodel"
    result = runner.invoke(app, ["model", "init", "--db", str(erp), "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert "3 entities, 2 keys, 2 joins, 1 row-count metrics" in result.output
    for file, key in (("measures.yaml", "measures"), ("metrics.yaml", "metrics"), ("dimensions.yaml", "dimensions")):
        data = yaml.safe_load((folder / file).read_text(encoding="utf-8"))
        data[key].extend(walkthrough_yaml(file))
        (folder / file).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def ask(model: Path, erp: Path, question: str) -> dict:
    result = runner.invoke(app, ["--model", str(model), "ask", "--db", str(erp), "--json", question])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def one(erp: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(erp), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


LAST_MONTH = "biz_date BETWEEN DATE '2025-12-01' AND DATE '2025-12-31'"


def test_the_described_model_checks(model: Path, erp: Path) -> None:
    result = runner.invoke(app, ["model", "check", "--model", str(model), "--db", str(erp)])
    assert result.exit_code == 0, result.output
    assert "ok: no problems (3 relations, 2 keys, 2 joins, 3 metrics, 0 reads)" in result.output


def test_a_filtered_metric_is_the_hand_written_number(model: Path, erp: Path) -> None:
    answer = ask(model, erp, "上个月天猫的销售额")
    assert answer["status"] == "answer" and answer["plan"]["metrics"] == ["sales"]
    ((expected,),) = one(
        erp,
        "SELECT SUM(l.line_amount) FROM order_line l JOIN shop s USING (shop_code)"
        f" WHERE s.channel = 'tmall' AND {LAST_MONTH}",
    )
    assert answer["rows"][0][-1] == pytest.approx(float(expected))


def test_a_member_named_in_the_question_is_found_by_master_data(model: Path, erp: Path) -> None:
    """The scaffold's shop dimension (labelled by shop_name) and the README's category index."""
    answer = ask(model, erp, "天猫旗舰店上个月的销售额")
    assert answer["status"] == "answer"
    assert answer["plan"]["filters"] == [{"dimension": "shop", "members": ["tmall_flagship"], "exclude": False}]
    ((expected,),) = one(erp, f"SELECT SUM(line_amount) FROM order_line WHERE shop_code = 'tmall_flagship' AND {LAST_MONTH}")
    assert answer["rows"][0][-1] == pytest.approx(float(expected))
    typo = ask(model, erp, "上个月面模的销售额")  # one character off 面膜: applied, and said
    assert typo["status"] == "answer" and typo["plan"]["filters"][0]["members"] == ["面膜"]
    assert "面膜" in typo["text"]


def test_a_breakdown_of_a_ratio_is_the_hand_written_numbers(model: Path, erp: Path) -> None:
    answer = ask(model, erp, "上个月各品类的毛利率")
    assert answer["status"] == "answer" and answer["plan"]["dimensions"] == ["category"]
    expected = one(
        erp,
        "SELECT i.category, (SUM(l.line_amount) - SUM(l.line_cost)) / SUM(l.line_amount) FROM order_line l"
        f" JOIN item i USING (item_code) WHERE {LAST_MONTH} GROUP BY 1 ORDER BY 1",
    )
    got = sorted((row[0], row[-1]) for row in answer["rows"])
    assert [c for c, _ in got] == [c for c, _ in expected]
    assert [v for _, v in got] == pytest.approx([float(v) for _, v in expected])


def test_what_the_model_does_not_have_is_not_answered(model: Path, erp: Path) -> None:
    answer = ask(model, erp, "上个月的库存")
    assert answer["status"] != "answer"


def test_an_analysis_the_model_cannot_feed_is_refused_by_name(model: Path, erp: Path) -> None:
    answer = ask(model, erp, "哪些SKU需要补货")  # no stock in this warehouse: no replenishment
    assert answer["status"] == "refusal" and "units_sold" in answer["text"] and not answer.get("rows")
