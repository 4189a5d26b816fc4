"""Rewrites of the compiler's tree for engines that lack a construct it uses (pure AST transforms).

The compiler builds one tree for every dialect; sqlglot renders it. Where sqlglot's rendering
does not run, or runs wrong, on an engine the project executes, the tree is rewritten here for
that dialect only, so the others' SQL (and golden files) stay as they are:

- **Date spine** (MySQL/MariaDB, StarRocks, Doris, ClickHouse): ``generate_series`` of dates does
  not exist there (ClickHouse's takes numbers only) and recursive CTEs are refused by the guard,
  so the spine's days are the start date plus a number built from a ``digits`` CTE
  (``SELECT 0 AS n UNION ALL ... SELECT 9``) cross-joined once per decimal digit of the day count.
- **Week start** (MySQL family): sqlglot renders ``DATE_TRUNC('WEEK', d)`` through
  ``STR_TO_DATE(... WEEK(d, 1) ...)``, which is wrong around New Year (week 0); the Monday on or
  before ``d`` is ``d - ((DAYOFWEEK(d) + 5) % 7)`` days (DAYOFWEEK counts from Sunday = 1).
- **Date spine** (Snowflake, BigQuery, Trino): sqlglot renders the series as
  ``ARRAY_GENERATE_RANGE`` of dates in FROM on Snowflake (an array of numbers, not a table),
  ``GENERATE_ARRAY`` on BigQuery (numbers only) and ``UNNEST(SEQUENCE(...)) AS _u(gs)`` on Trino (``gs``
  becomes the column, so ``gs.d`` does not resolve). Snowflake's days are the start date plus
  ``ROW_NUMBER() - 1`` over ``TABLE(GENERATOR(ROWCOUNT => n))`` (ROWCOUNT must be a constant: the
  period's day count; ROW_NUMBER because ``SEQ4`` may leave gaps), BigQuery's come from
  ``UNNEST(GENERATE_DATE_ARRAY(...))`` and Trino's from ``UNNEST(SEQUENCE(...)) AS gs(d)``.
- **Week start** (BigQuery): ``DATE_TRUNC(d, WEEK)`` starts on Sunday there; the contract's weeks
  are ISO weeks, ``WEEK(MONDAY)``. (Snowflake's and Trino's ``DATE_TRUNC('WEEK', d)`` start on
  Monday, Snowflake's as long as the session's WEEK_START is its default.)
- **Date arithmetic** (BigQuery): ``date + INTERVAL`` is a DATETIME there and an interval's count
  is an INT64 expression, not a string, so ``d + INTERVAL '7' DAY`` is ``DATE_ADD(d, INTERVAL 7
  DAY)`` (a DATE, like everywhere else).
- **Date spine** (Spark): sqlglot renders ``generate_series(...) AS gs(d)`` in FROM as
  ``EXPLODE(SEQUENCE(...), _u(gs))``, which Spark cannot parse; the spine becomes a subquery whose one
  column is the generator, ``(SELECT EXPLODE(SEQUENCE(start, end, INTERVAL '1' DAY)) AS d) AS gs``.
- **Output names** (ClickHouse): a projected ``grid.month`` is not named ``month`` there in every
  case (a CTE's column cannot be read as ``this_period.month``, and ``ORDER BY category`` is
  ambiguous when several joined relations have one), so every bare column projection is given its
  own name as an alias.
"""

from __future__ import annotations

import datetime as dt

import sqlglot
from sqlglot import exp

_MYSQL_FAMILY = frozenset({"mysql", "starrocks", "doris"})
_NO_DATE_SERIES = _MYSQL_FAMILY | {"clickhouse"}
DIGITS = "digits"


def for_dialect(tree: exp.Select, dialect: str) -> exp.Select:
    """`tree` with what `dialect` lacks rewritten (the tree itself when nothing applies)."""
    out: exp.Expr = tree
    if dialect in _NO_DATE_SERIES:
        spined = out.transform(_digit_spine)
        if spined != out:
            out = _with_digits(spined)
    if dialect == "spark":
        out = out.transform(_exploded_spine)
    if dialect in _MYSQL_FAMILY:
        out = out.transform(_monday_week_start)
    if dialect in _NATIVE_SPINES:
        out = out.transform(_NATIVE_SPINES[dialect])
    if dialect == "bigquery":
        out = out.transform(_monday_week_bigquery).transform(_date_add)
    if dialect == "clickhouse":
        out = out.transform(_named_outputs)
    assert isinstance(out, exp.Select)  # the root is never rewritten, only what is inside it
    return out


def named_outputs(sql: str, dialect: str) -> str:
    """`sql` (one SELECT the guard has passed) with every bare column projection named, for SQL text
    that does not come from the compiler (a tool's query) on ClickHouse."""
    return sqlglot.parse_one(sql, read=dialect).transform(_named_outputs).sql(dialect=dialect)


def _named_outputs(node: exp.Expr) -> exp.Expr:
    """A SELECT with every bare column projection aliased to its own name."""
    if not isinstance(node, exp.Select):
        return node
    node.set("expressions", [exp.alias_(e, e.name) if isinstance(e, exp.Column) else e for e in node.expressions])
    return node


def _date_of(node: exp.Expr) -> dt.date | None:
    """The day of a ``CAST('YYYY-MM-DD' AS DATE)`` literal."""
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        return dt.date.fromisoformat(node.this.this)
    return None


def _spine(node: exp.Expr) -> tuple[exp.GenerateSeries, exp.TableAlias, int] | None:
    """The series, its ``gs(d)`` alias and its last day's offset from the first, when `node` is
    the spine's ``generate_series`` of literal dates in FROM."""
    if not (isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries)):
        return None
    series, alias = node.this, node.args.get("alias")
    start, end = _date_of(series.args["start"]), _date_of(series.args["end"])
    if start is None or end is None or alias is None or len(alias.columns) != 1:
        return None
    return series, alias, (end - start).days


def _generator_spine(node: exp.Expr) -> exp.Expr:
    """``generate_series(start, end, 1 day) AS gs(d)`` -> ``(SELECT start + ROW_NUMBER() - 1 days
    AS d FROM TABLE(GENERATOR(ROWCOUNT => days))) AS gs`` (Snowflake)."""
    found = _spine(node)
    if found is None:
        return node
    series, alias, last = found
    number = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=exp.Seq4())]))
    offset = exp.Sub(this=number, expression=exp.Literal.number(1))
    day = exp.DateAdd(this=series.args["start"].copy(), expression=offset, unit=exp.var("DAY"))
    rows = exp.TableFromRows(this=exp.Generator(rowcount=exp.Literal.number(last + 1)))
    select = exp.select(exp.alias_(day, alias.columns[0].name)).from_(rows)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=alias.this.copy()))


def _date_array_spine(node: exp.Expr) -> exp.Expr:
    """``generate_series(start, end, 1 day) AS gs(d)`` -> ``(SELECT d FROM
    UNNEST(GENERATE_DATE_ARRAY(start, end, INTERVAL 1 DAY)) AS d) AS gs`` (BigQuery: an unnested
    array names its value, not a table, so the subquery gives back ``gs.d``)."""
    found = _spine(node)
    if found is None:
        return node
    series, alias, _ = found
    dates = exp.GenerateDateArray(
        start=series.args["start"].copy(),
        end=series.args["end"].copy(),
        step=exp.Interval(this=exp.Literal.number(1), unit=exp.var("DAY")),
    )
    column = alias.columns[0].name
    unnest = exp.Unnest(expressions=[dates], alias=exp.TableAlias(columns=[exp.to_identifier(column)]))
    select = exp.select(exp.column(column)).from_(unnest)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=alias.this.copy()))


def _unnest_spine(node: exp.Expr) -> exp.Expr:
    """``generate_series(...) AS gs(d)`` -> ``UNNEST(SEQUENCE(...)) AS gs(d)`` (Trino), the alias
    kept whole."""
    found = _spine(node)
    if found is None:
        return node
    series, alias, _ = found
    return exp.Unnest(expressions=[series.copy()], alias=alias.copy())


_NATIVE_SPINES = {"snowflake": _generator_spine, "bigquery": _date_array_spine, "trino": _unnest_spine}


def _digit_spine(node: exp.Expr) -> exp.Expr:
    """``generate_series(start, end, 1 day) AS gs(d)`` -> ``(SELECT start + n days AS d FROM digits...) AS gs``."""
    found = _spine(node)
    if found is None:
        return node
    series, alias, last = found
    digits = [f"p{i}" for i in range(len(str(max(last, 1))))]
    number: exp.Expr = exp.column("n", table=digits[0])
    for power, name in enumerate(digits[1:], start=1):
        number = exp.Add(
            this=number, expression=exp.Mul(this=exp.column("n", table=name), expression=exp.Literal.number(10**power))
        )
    day = exp.DateAdd(this=series.args["start"].copy(), expression=number, unit=exp.var("DAY"))
    select = exp.select(exp.alias_(day, alias.columns[0].name)).from_(exp.table_(DIGITS, alias=digits[0]))
    for name in digits[1:]:
        select = select.join(exp.table_(DIGITS, alias=name), join_type="CROSS")
    select = select.where(exp.LTE(this=number.copy(), expression=exp.Literal.number(last)))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=alias.this.copy()))


def _exploded_spine(node: exp.Expr) -> exp.Expr:
    """``generate_series(start, end, step) AS gs(d)`` -> ``(SELECT EXPLODE(SEQUENCE(start, end, step)) AS d) AS gs``."""
    if not (isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries)):
        return node
    alias = node.args.get("alias")
    if alias is None or len(alias.columns) != 1:
        return node
    days = exp.alias_(exp.Explode(this=node.this.copy()), alias.columns[0].name)
    return exp.Subquery(this=exp.select(days), alias=exp.TableAlias(this=alias.this.copy()))


def _with_digits(tree: exp.Expr) -> exp.Expr:
    """`tree` with the ``digits`` CTE (0 to 9 as ``n``) first, before the spine that reads it."""
    union: exp.Query = exp.select(exp.alias_(exp.Literal.number(0), "n"))
    for digit in range(1, 10):
        union = exp.union(union, exp.select(exp.Literal.number(digit)), distinct=False)
    cte = exp.CTE(this=union, alias=exp.TableAlias(this=exp.to_identifier(DIGITS)))
    with_ = tree.args["with_"]  # the spine is a CTE: there is a WITH
    with_.set("expressions", [cte, *with_.expressions])
    return tree


def _monday_week_start(node: exp.Expr) -> exp.Expr:
    """``DATE_TRUNC('WEEK', d)`` -> ``d - ((DAYOFWEEK(d) + 5) % 7) days`` (the Monday on or before d)."""
    if not (isinstance(node, exp.DateTrunc) and node.text("unit").upper() == "WEEK"):
        return node
    day = node.this
    since_monday = exp.Mod(
        this=exp.Paren(this=exp.Add(this=exp.DayOfWeek(this=day.copy()), expression=exp.Literal.number(5))),
        expression=exp.Literal.number(7),
    )
    return exp.DateSub(this=day.copy(), expression=since_monday, unit=exp.var("DAY"))


def _monday_week_bigquery(node: exp.Expr) -> exp.Expr:
    """``DATE_TRUNC(d, WEEK)`` -> ``DATE_TRUNC(d, WEEK(MONDAY))`` (BigQuery's WEEK starts on Sunday)."""
    if not (isinstance(node, exp.DateTrunc) and node.text("unit").upper() == "WEEK"):
        return node
    return exp.DateTrunc(this=node.this.copy(), unit=exp.WeekStart(this=exp.var("MONDAY")))


def _date_add(node: exp.Expr) -> exp.Expr:
    """``d + INTERVAL 'n' unit`` -> ``DATE_ADD(d, INTERVAL n unit)`` (and ``-`` -> DATE_SUB): a DATE
    stays a DATE on BigQuery, and the count is a number (the compiler's intervals are whole units)."""
    if not (isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval)):
        return node
    interval = node.expression
    count = exp.Literal.number(int(interval.this.name))
    shift = exp.DateAdd if isinstance(node, exp.Add) else exp.DateSub
    return shift(this=node.this.copy(), expression=count, unit=interval.args["unit"].copy())
