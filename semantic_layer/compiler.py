"""MetricQuery + governed model + principal -> a sqlglot AST -> SQL text in an engine's dialect.

How a query becomes SQL (see ``DATA_CONTRACT.md`` for the definitions it must obey):

1. :func:`semantic_layer.validation.check_query` refuses what has no governed answer
   (unknown names, cuts that would fan out, policy denials) and adds the role's row filters.
2. The measures the metrics need are grouped by how they read their entity (one scan per
   fact and date column). Each group is aggregated on its own, in its own CTE, at the
   requested grain and dimensions, with the period and every filter applied to it.
   Balances (AR, AP) join their documents to a date spine (a ``generate_series`` CTE);
   "on the period's end" measures join them to the last day of each bucket.
3. The groups are joined on the shared output keys (never on raw rows, so combining
   facts cannot fan out), and each metric's formula is evaluated over them; ``days`` is
   the number of days of the period inside each bucket, counted on the spine.
4. With ``compare`` the same is built for the comparison period, its dates shifted onto
   the current period's buckets, and joined to add ``<metric>_previous`` and ``_growth``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from semantic_layer import sql_parts as sp
from semantic_layer.dialects import for_dialect
from semantic_layer.physical import to_physical
from semantic_layer.query import AttributeQuery, EntityRead, Filter, MetricQuery, Period, Principal
from semantic_layer.semantic_model import (
    AS_OF,
    DAYS,
    ColumnRef,
    Entity,
    Measure,
    SemanticModel,
    formula_names,
    load_model,
    measure_time,
)
from semantic_layer.time_buckets import bucket_ends, bucket_start, one_series
from semantic_layer.validation import (
    attribute_output_names,
    check_attribute_query,
    check_query,
    check_read,
    condition_value,
    output_names,
)

SPINE = "spine"
CALENDAR = "calendar"


@dataclass(frozen=True)
class CompiledQuery:
    """The compiled SQL with what callers need to present it."""

    query: MetricQuery
    principal: Principal
    ast: exp.Select
    dialect: str
    columns: list[str]
    previous_period: Period | None

    @functools.cached_property
    def sql(self) -> str:
        """The query's text, rendered once (the AST is not modified after compilation)."""
        return self.ast.sql(dialect=self.dialect)

    def sql_for(self, dialect: str, pretty: bool = False) -> str:
        """The same query in another sqlglot dialect (for portability and golden files)."""
        return self.ast.sql(dialect=dialect, pretty=pretty)


def compile_query(
    query: MetricQuery,
    model: SemanticModel | None = None,
    principal: Principal | None = None,
    dialect: str = "duckdb",
) -> CompiledQuery:
    """Validate ``query`` for ``principal`` (default: admin) and compile it for ``dialect``."""
    model = model or load_model()
    principal = principal or Principal()
    filters = check_query(query, model, principal)
    keys = ([query.grain] if query.grain else []) + list(query.dimensions)
    previous_period = None
    if query.compare is None and not query.share:
        ctes, final = _Core(model, query, filters, query.period, shift=None, prefix="").build()
    elif query.compare is None:
        ctes, current = _Core(model, query, filters, query.period, shift=None, prefix="").build()
        ctes, final = [*ctes, ("this_period", current)], _final(query, keys)
    else:
        previous_period, shift, later = _comparison(query)
        if later is not None and query.grain and one_series(query.period, previous_period, query.grain):
            ctes = _one_series(model, query, filters, previous_period, later)
        else:
            ctes, current = _Core(model, query, filters, query.period, shift=None, prefix="").build()
            previous = _Core(model, query, filters, previous_period, shift, "prev_", later).build()
            ctes = [*ctes, ("this_period", current), *previous[0], ("previous_period", previous[1])]
        final = _final(query, keys)
    ast = final
    for name, select in ctes:
        ast = ast.with_(name, as_=select)
    ordering = _ordering(query, keys)
    if ordering:
        ast = ast.order_by(*ordering)
    if query.limit is not None:
        ast = ast.limit(query.limit)
    return CompiledQuery(
        query=query,
        principal=principal,
        ast=for_dialect(to_physical(ast, model), dialect),
        dialect=dialect,
        columns=output_names(query),
        previous_period=previous_period,
    )


@dataclass(frozen=True)
class CompiledAttributes:
    """The compiled SQL of an attribute listing, with its output columns."""

    query: AttributeQuery
    principal: Principal
    ast: exp.Select
    dialect: str
    columns: list[str]

    @property
    def sql(self) -> str:
        return self.ast.sql(dialect=self.dialect)

    def sql_for(self, dialect: str, pretty: bool = False) -> str:
        return self.ast.sql(dialect=dialect, pretty=pretty)


_COMPARISONS: dict[str, type[exp.Binary]] = {
    "=": exp.EQ, "!=": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE,
}  # fmt: skip


def compile_attributes(
    query: AttributeQuery,
    model: SemanticModel | None = None,
    principal: Principal | None = None,
    dialect: str = "duckdb",
    language: str = "zh",
) -> CompiledAttributes:
    """Validate an attribute listing and compile it: one SELECT over the members' table.

    ``language`` picks the label column of ``<dimension>_name`` (zh: names, en: the ``_en`` ones).
    Members are ordered by ``order_by`` (NULLs last), then by their key, so a limit is stable.
    """
    model = model or load_model()
    principal = principal or Principal()
    shown, filters = check_attribute_query(query, model, principal)
    dimension = model.dimensions[query.dimension]
    entity = dimension.entity
    source = _Source(model, entity)
    key_ref = model.dimension_column(dimension.name, entity)
    assert key_ref is not None  # the dimension's own first column
    columns: list[exp.Expr] = [exp.alias_(source.column(key_ref), dimension.name)]
    if dimension.label is not None:
        owner, column = (dimension.label.en if language == "en" else dimension.label.zh).split(".", 1)
        columns.append(exp.alias_(source.column(ColumnRef(entity=owner, column=column)), f"{dimension.name}_name"))
    for attribute in shown:
        owner, column = attribute.column.split(".", 1)
        columns.append(exp.alias_(source.column(ColumnRef(entity=owner, column=column)), attribute.name))
    conditions: list[exp.Expr] = []
    for item in filters:
        ref = model.dimension_column(item.dimension, entity)
        assert ref is not None  # validated
        conditions.append(sp.member_filter(source.column(ref), item.members, item.exclude))
    for condition in query.conditions:
        declared = dimension.attribute(condition.attribute)
        assert declared is not None  # validated
        owner, column = declared.column.split(".", 1)
        value = condition_value(declared, condition.value)
        literal: exp.Expr
        if isinstance(value, dt.date):
            literal = sp.date_lit(value)
        elif isinstance(value, float):
            literal = exp.Literal.number(repr(value))
        else:
            literal = exp.Literal.string(value)
        target = source.column(ColumnRef(entity=owner, column=column))
        conditions.append(_COMPARISONS[condition.op](this=target, expression=literal))
    select = source.add_joins(exp.select(*columns).from_(source.table(entity)))
    if conditions:
        select = select.where(*conditions)
    ordering = []
    if query.order_by is not None:
        by = query.order_by
        ordering.append(exp.Ordered(this=exp.column(by.field), desc=by.descending, nulls_first=False))
    if query.order_by is None or query.order_by.field != dimension.name:
        ordering.append(exp.Ordered(this=exp.column(dimension.name), nulls_first=False))
    select = select.order_by(*ordering)
    if query.limit is not None:
        select = select.limit(query.limit)
    return CompiledAttributes(
        query=query,
        principal=principal,
        ast=for_dialect(to_physical(select, model), dialect),
        dialect=dialect,
        columns=attribute_output_names(query, model, shown),
    )


@dataclass(frozen=True)
class CompiledRead:
    """The compiled SQL of a plain read (:class:`EntityRead`); its columns are ``read.names``."""

    read: EntityRead
    ast: exp.Select
    dialect: str

    @property
    def columns(self) -> list[str]:
        return self.read.names


def compile_read(
    read: EntityRead, model: SemanticModel | None = None, principal: Principal | None = None, dialect: str = "duckdb"
) -> CompiledRead:
    """One SELECT DISTINCT of the read's columns over its entity and the joins they need, ordered by
    every column so a read is the same on every engine."""
    model = model or load_model()
    filters = check_read(read, model, principal or Principal())
    source = _Source(model, read.entity)
    columns: list[exp.Expr] = []
    for ref, name in zip(read.columns, read.names, strict=True):
        owner, _, column = ref.rpartition(".")
        columns.append(exp.alias_(source.column(ColumnRef(entity=owner, column=column)), name))
    conditions = []
    for item in filters:
        where = model.dimension_column(item.dimension, read.entity)
        assert where is not None  # validated
        conditions.append(sp.member_filter(source.column(where), item.members, item.exclude))
    select = source.add_joins(exp.select(*columns).distinct().from_(source.table(read.entity)))
    if conditions:
        select = select.where(*conditions)
    select = select.order_by(*(exp.Ordered(this=exp.column(n), nulls_first=False) for n in read.names))
    return CompiledRead(read=read, ast=for_dialect(to_physical(select, model), dialect), dialect=dialect)


def entity_rows(model: SemanticModel, entity: str, filters: list[Filter]) -> exp.Select:
    """The rows of ``entity`` that ``filters`` keep, in the model's logical names: what a tool's read
    of the entity becomes for an asker whose role narrows it (the joins are many-to-one, to keyed
    entities, so no row is repeated)."""
    source = _Source(model, entity)
    conditions = []
    for item in filters:
        where = model.dimension_column(item.dimension, entity)
        assert where is not None  # validated
        conditions.append(sp.member_filter(source.column(where), item.members, item.exclude))
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(entity))).from_(entity)
    for target, on in source.joins.items():
        select = select.join(exp.to_table(target), on=on, join_type="left")
    return select.where(*conditions) if conditions else select


def _one_series(
    model: SemanticModel, query: MetricQuery, filters: list[Filter], previous: Period, later: exp.Interval
) -> list[tuple[str, exp.Select]]:
    """Each bucket against the one before it from a single pass over both periods.

    When every bucket holds the same days in the joint span as in the period it belongs to (whole
    buckets, see :func:`semantic_layer.time_buckets.one_series`), the series over
    [previous.start, period.end] has every bucket of both: the current rows are its buckets from
    the period's first, the compared rows its buckets up to the comparison's last, moved on by one
    bucket. One scan of each fact instead of two.
    """
    assert query.grain is not None
    grain = query.grain
    span = Period(start=previous.start, end=query.period.end)
    ctes, series = _Core(model, query, filters, span, shift=None, prefix="").build()
    ctes.append(("series", series))
    bucket = sp.col("series", grain)
    first = sp.date_lit(bucket_start(query.period.start, grain))
    current = exp.select("*").from_("series").where(exp.GTE(this=bucket, expression=first))
    ctes.append(("this_period", current))
    moved = exp.cast(exp.Add(this=bucket.copy(), expression=later), exp.DataType.build("DATE"))
    columns = [exp.alias_(moved, grain), *(sp.col("series", k) for k in query.dimensions)]
    columns += [sp.col("series", m) for m in query.metrics]
    last = sp.date_lit(bucket_start(previous.end, grain))
    compared = exp.select(*columns).from_("series").where(exp.LTE(this=bucket.copy(), expression=last))
    return [*ctes, ("previous_period", compared)]


def _comparison(query: MetricQuery) -> tuple[Period, exp.Interval | None, exp.Interval | None]:
    """The comparison period, and how its dates land on the current period's buckets.

    Returns (period, shift, later): ``shift`` moves each compared day before it is bucketed (yoy:
    a year; an explicit comparison period: the days between the two starts), ``later`` moves each
    compared bucket on by one bucket (pop with a grain: each bucket against the one before it,
    the first bucket's predecessor included, since it is read from the comparison period).
    """
    assert query.compare is not None
    period, grain = query.period, query.grain
    if query.compare_period is not None:
        offset = (period.start - query.compare_period.start).days
        return query.compare_period, sp.days_interval(offset) if grain else None, None
    if query.compare == "yoy":
        return period.previous("yoy"), exp.Interval(this=exp.Literal.string("1"), unit=exp.var("YEAR")), None
    if grain is None:
        return period.previous("pop"), None, None
    return period.previous_buckets(grain), None, sp.grain_interval(grain)


def _final(query: MetricQuery, keys: list[str]) -> exp.Select:
    """The current period's rows with, per metric, the comparison and the share of total.

    The share's denominator is a window over every row of the result, evaluated before ORDER BY
    and LIMIT: a top-5 still shows each row's share of the whole, not of the five shown.
    """
    columns: list[exp.Expr] = [sp.col("this_period", k) for k in keys]
    for metric_id in query.metrics:
        now = sp.col("this_period", metric_id)
        columns.append(now.copy())
        if query.compare is not None:
            before = sp.col("previous_period", metric_id)
            growth = exp.Sub(this=sp.safe_divide(now, before), expression=exp.Literal.number(1))
            columns += [exp.alias_(before.copy(), f"{metric_id}_previous"), exp.alias_(growth, f"{metric_id}_growth")]
        if query.share:
            total = exp.Window(this=exp.func("SUM", now.copy()))
            columns.append(exp.alias_(sp.safe_divide(now.copy(), total), f"{metric_id}_share"))
    select = exp.select(*columns).from_("this_period")
    if query.compare is not None:
        on = sp.same_keys("this_period", "previous_period", keys)
        select = select.join("previous_period", on=on, join_type="left")
    return select


def _ordering(query: MetricQuery, keys: list[str]) -> list[exp.Ordered]:
    order = []
    if query.order_by is not None:
        by = query.order_by
        order.append(exp.Ordered(this=exp.column(by.field), desc=by.descending, nulls_first=False))
    order += [
        exp.Ordered(this=exp.column(k), nulls_first=False)
        for k in keys
        if query.order_by is None or k != query.order_by.field
    ]
    return order


@dataclass
class _Group:
    """Measures read the same way from one entity: one aggregation CTE."""

    over: str
    entity: str
    time: ColumnRef | None
    measures: list[Measure] = field(default_factory=list)


#: How a partial aggregate over rolled-up rows combines into the total.
_ROLL_UP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.Sum: exp.Sum,
    exp.Count: exp.Sum,
    exp.Min: exp.Min,
    exp.Max: exp.Max,
}
_BUCKET = "time_bucket"


class _Source:
    """Resolves entity columns to qualified SQL columns, collecting the joins they need."""

    def __init__(self, model: SemanticModel, entity: str) -> None:
        self.model = model
        self.entity = entity
        self.joins: dict[str, exp.Expr] = {}

    def column(self, ref: ColumnRef) -> exp.Column:
        path = self.model.join_path(self.entity, ref.entity)
        if path is None:  # validation guarantees reachability; this is a model bug
            raise AssertionError(f"{self.entity} cannot reach {ref.entity}")
        if path and ref.column == self.model.entities[ref.entity].key:
            path, last = path[:-1], path[-1]  # the foreign key holds the same value: no join
            owner = path[-1].to if path else self.entity
            self._need(path)
            return sp.col(owner, last.column)
        self._need(path)
        return sp.col(ref.entity, ref.column)

    def _need(self, path: list) -> None:
        owner = self.entity
        for join in path:
            if join.to not in self.joins:
                target = self.model.entities[join.to]
                on = exp.EQ(this=sp.col(join.to, target.key or ""), expression=sp.col(owner, join.column))
                self.joins[join.to] = on
            owner = join.to

    def table(self, entity: str) -> exp.Expr:
        table = exp.to_table(self.model.entities[entity].table)
        return table if table.name == entity else table.as_(entity)

    def add_joins(self, select: exp.Select) -> exp.Select:
        for target, on in self.joins.items():
            select = select.join(self.table(target), on=on, join_type="left")
        return select


class _Core:
    """Builds the CTEs and the final SELECT of one period (the current or the compared one)."""

    def __init__(
        self,
        model: SemanticModel,
        query: MetricQuery,
        filters: list[Filter],
        period: Period,
        shift: exp.Interval | None,
        prefix: str,
        later: exp.Interval | None = None,
    ) -> None:
        self.model, self.query, self.filters = model, query, filters
        self.period, self.shift, self.prefix, self.later = period, shift, prefix, later
        self.grain = query.grain
        self.keys = ([self.grain] if self.grain else []) + list(query.dimensions)
        self.ctes: list[tuple[str, exp.Select]] = []

    # -- public -----------------------------------------------------------------------
    def build(self) -> tuple[list[tuple[str, exp.Select]], exp.Select]:
        groups = self._groups()
        needs_days = any(DAYS in _names(self.model, m) for m in self.query.metrics)
        needs_calendar = needs_days or any(not _dated(g, self.model.entities[g.entity]) for g in groups)
        if needs_calendar:
            self.ctes.append((self._name(SPINE), sp.date_spine(self.period.start, self.period.end)))
            self.ctes.append((self._name(CALENDAR), self._calendar()))
        located: dict[str, exp.Expr] = {}
        group_names = []
        for group in groups:
            name = self._name("agg_" + group.entity)
            taken = {existing for existing, _ in self.ctes}
            name = next(f"{name}_{n}" for n in range(2, 99) if f"{name}_{n}" not in taken) if name in taken else name
            self.ctes.append((name, self._aggregate(group)))
            group_names.append(name)
            for measure in group.measures:
                located[measure.name] = sp.col(name, measure.name)
        select = self._combine(group_names, located, needs_days)
        return self.ctes, select

    # -- measure groups ---------------------------------------------------------------
    def _groups(self) -> list[_Group]:
        groups: dict[tuple, _Group] = {}
        for metric_id in self.query.metrics:
            for measure in self.model.metric_measures(metric_id):
                time = measure_time(self.model, measure)
                key = (
                    measure.over,
                    measure.entity,
                    time,
                    measure.name if measure.over == "unsold_stock" else "",
                )
                group = groups.setdefault(key, _Group(measure.over, measure.entity, time))
                if measure not in group.measures:
                    group.measures.append(measure)
        return list(groups.values())

    def _name(self, base: str) -> str:
        return self.prefix + base

    def _bucket(self, day: exp.Expr) -> exp.Expr:
        """The output time key of a day of this core's period (moved onto the current buckets)."""
        assert self.grain is not None
        return sp.bucket(day, self.grain, self.shift, self.later)

    def _calendar(self) -> exp.Select:
        """Per bucket of the period: its number of days and its last day (``as_of``)."""
        day = sp.col(self._name(SPINE), "day")
        columns = [
            exp.alias_(exp.func("COUNT", exp.Star()), DAYS),
            exp.alias_(exp.func("MAX", day.copy()), AS_OF),
        ]
        select = exp.select(*columns).from_(self._name(SPINE))
        if self.grain:
            time = self._bucket(day.copy())
            select = (
                exp.select(exp.alias_(time, self.grain), *columns)
                .from_(self._name(SPINE))
                .group_by(sp.grouping_key(time))
            )
        return select

    def _aggregate(self, group: _Group) -> exp.Select:
        source = _Source(self.model, group.entity)
        entity = self.model.entities[group.entity]
        calendar = self._name(CALENDAR)
        as_of: exp.Expr = sp.col(calendar, AS_OF)
        conditions: list[exp.Expr] = []
        if _dated(group, entity):
            assert group.time is not None
            time = source.column(group.time)
            if group.over == "period":
                low, high = sp.date_lit(self.period.start), sp.date_lit(self.period.end)
                conditions.append(exp.Between(this=time, low=low, high=high))
            else:  # a snapshot: the rows dated on each bucket's last day, known before the query runs
                ends = bucket_ends(self.period.start, self.period.end, self.grain)
                conditions.append(sp.one_of(time, [sp.date_lit(day) for day in ends]))
                as_of = time.copy()
            select = exp.select().from_(source.table(group.entity))
            time_key = self._bucket(time.copy()) if self.grain else None
        elif group.over == "each_day":
            as_of = sp.col(self._name(SPINE), "day")
            select = (
                exp.select()
                .from_(self._name(SPINE))
                .join(source.table(group.entity), on=self._open_on(group.entity, as_of), join_type="inner")
            )
            time_key = self._bucket(as_of.copy()) if self.grain else None
        else:  # period_end, unsold_stock: rows or open documents on each bucket's last day
            if entity.document is not None:
                on = self._open_on(group.entity, as_of)
            else:
                assert group.time is not None
                on = exp.EQ(this=source.column(group.time), expression=as_of.copy())
            select = exp.select().from_(calendar).join(source.table(group.entity), on=on, join_type="inner")
            time_key = sp.col(calendar, self.grain) if self.grain else None
        key_columns = self._key_columns(source, group.entity, time_key)
        conditions += self._filter_conditions(source, group.entity)
        if group.over == "unsold_stock":
            return self._unsold(group, source, select, key_columns, conditions)
        if _dated(group, entity) and source.joins:
            rolled = self._rolled_up(group, source, time_key, key_columns, conditions)
            if rolled is not None:
                return rolled
        aggregates = [exp.alias_(self._measure_expr(m, group.entity, as_of), m.name) for m in group.measures]
        select = source.add_joins(select.select(*(exp.alias_(e, k) for k, e in key_columns), *aggregates))
        if conditions:
            select = select.where(*conditions)
        if key_columns:
            select = select.group_by(*(sp.grouping_key(e) for _, e in key_columns))
        return select

    def _rolled_up(
        self,
        group: _Group,
        source: _Source,
        time_key: exp.Expr | None,
        key_columns: list[tuple[str, exp.Expr]],
        conditions: list[exp.Expr],
    ) -> exp.Select | None:
        """The same aggregate, computed by first rolling the fact up to its own keys and only
        then joining the (small) dimension tables.

        Joining millions of fact rows to a dimension before grouping is what makes a cut by
        category slow; rolling up by sku_id first is exact for SUM, COUNT(*), MIN and MAX.
        Returns None when a measure does not roll up (COUNT DISTINCT) or the period is
        dated by a joined table, and the caller joins first.
        """
        fact = group.entity
        partials: list[tuple[Measure, exp.Expr, type[exp.Expr]]] = []
        for measure in group.measures:
            expr = self._measure_expr(measure, fact, sp.col(self._name(CALENDAR), AS_OF))
            combine = _ROLL_UP.get(type(expr))
            if combine is None or (isinstance(expr, exp.Count) and not isinstance(expr.this, exp.Star)):
                return None
            partials.append((measure, expr, combine))

        def own(node: exp.Expr) -> bool:
            return all(c.table == fact for c in node.find_all(exp.Column))

        if not own(conditions[0]) or (time_key is not None and not own(time_key)):
            return None
        inner_where = [c for c in conditions if own(c)]
        outer_where = [c for c in conditions if not own(c)]
        dimension_keys = key_columns[1:] if time_key is not None else key_columns
        carried: dict[str, exp.Column] = {}
        for node in [e for _, e in dimension_keys] + outer_where + list(source.joins.values()):
            for column in node.find_all(exp.Column):
                if column.table == fact:
                    carried.setdefault(column.name, column.copy())
        inner_keys: list[exp.Expr] = [exp.alias_(column, name) for name, column in carried.items()]
        groups: list[exp.Expr] = [column.copy() for column in carried.values()]
        if time_key is not None:
            inner_keys.insert(0, exp.alias_(time_key.copy(), _BUCKET))
            groups.insert(0, sp.grouping_key(time_key))
        inner = exp.select(*inner_keys, *(exp.alias_(e, m.name) for m, e, _ in partials))
        inner = inner.from_(source.table(fact)).where(*inner_where)
        if groups:
            inner = inner.group_by(*groups)

        outer_keys = [(k, e) for k, e in dimension_keys]
        if time_key is not None and self.grain:
            outer_keys.insert(0, (self.grain, sp.col(fact, _BUCKET)))
        # The rolled-up rows keep the fact's name, so the join conditions still read fact.column.
        select = exp.select(
            *(exp.alias_(e.copy(), k) for k, e in outer_keys),
            *(exp.alias_(combine(this=sp.col(fact, m.name)), m.name) for m, _, combine in partials),
        ).from_(inner.subquery(fact))
        select = source.add_joins(select)
        if outer_where:
            select = select.where(*outer_where)
        if outer_keys:
            select = select.group_by(*(e.copy() for _, e in outer_keys))
        return select

    def _key_columns(self, source: _Source, entity: str, time_key: exp.Expr | None) -> list[tuple[str, exp.Expr]]:
        keys: list[tuple[str, exp.Expr]] = []
        if self.grain and time_key is not None:
            keys.append((self.grain, time_key))
        for dimension in self.query.dimensions:
            ref = self.model.dimension_column(dimension, entity)
            assert ref is not None  # validated
            keys.append((dimension, source.column(ref)))
        return keys

    def _filter_conditions(self, source: _Source, entity: str) -> list[exp.Expr]:
        conditions = []
        for item in self.filters:
            ref = self.model.dimension_column(item.dimension, entity)
            assert ref is not None  # validated
            conditions.append(sp.member_filter(source.column(ref), item.members, item.exclude))
        return conditions

    def _open_on(self, entity_name: str, day: exp.Expr) -> exp.Expr:
        """A document is open on ``day``: opened <= day and (never closed or closed after it)."""
        document = self.model.entities[entity_name].document
        assert document is not None
        closed = exp.func("COALESCE", sp.col(entity_name, document.closed), sp.date_lit(sp.OPEN_END))
        return exp.and_(
            exp.LTE(this=sp.col(entity_name, document.opened), expression=day.copy()),
            exp.GT(this=closed, expression=day.copy()),
        )

    @staticmethod
    def _qualified(text: str, entity: str) -> exp.Expr:
        """A model condition (``on_hand_qty > 0``) with its columns qualified by ``entity``."""
        return sqlglot.parse_one(text).transform(
            lambda node: sp.col(entity, node.name) if isinstance(node, exp.Column) and not node.table else node
        )

    def _measure_expr(self, measure: Measure, entity: str, as_of: exp.Expr) -> exp.Expr:
        """The measure's aggregate with its columns qualified by the entity (``as_of`` bound)."""
        assert measure.expr is not None

        def qualify(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Column) and not node.table:
                return as_of.copy() if node.name == AS_OF else sp.col(entity, node.name)
            return node

        return sqlglot.parse_one(measure.expr).transform(qualify)

    def _unsold(
        self,
        group: _Group,
        source: _Source,
        stocked_from: exp.Select,
        key_columns: list[tuple[str, exp.Expr]],
        conditions: list[exp.Expr],
    ) -> exp.Select:
        """Items in stock on each bucket's last day that did not sell in the lookback window (the
        measure's ``unsold`` rule says what the item, "in stock", the sales and "sold" are)."""
        (measure,) = group.measures
        rule = measure.unsold
        assert measure.lookback_days is not None and rule is not None
        calendar = self._name(CALENDAR)
        item = sp.col(group.entity, rule.item)
        in_stock = self._qualified(rule.in_stock, group.entity)
        stocked_keys = [*key_columns, (rule.item, item), (AS_OF, sp.col(calendar, AS_OF))]
        stocked = source.add_joins(stocked_from.select(*(exp.alias_(e, k) for k, e in stocked_keys)))
        stocked = stocked.where(in_stock, *conditions).group_by(*(sp.grouping_key(e) for _, e in stocked_keys))

        as_of = sp.col(calendar, AS_OF)
        sale_date = sp.col(rule.sales, self.model.entities[rule.sales].time or "")
        window = exp.and_(
            exp.GT(
                this=sale_date,
                expression=exp.Sub(this=as_of.copy(), expression=sp.days_interval(measure.lookback_days)),
            ),
            exp.LTE(this=sale_date.copy(), expression=as_of.copy()),
        )
        sold = (
            exp.select(exp.alias_(as_of.copy(), AS_OF), exp.alias_(sp.col(rule.sales, rule.item), rule.item))
            .from_(calendar)
            .join(source.table(rule.sales), on=window, join_type="inner")
            .group_by(as_of.copy(), sp.col(rule.sales, rule.item))
            .having(self._qualified(rule.sold, rule.sales))
        )
        unsold = exp.If(this=exp.Is(this=sp.col("sold", rule.item), expression=exp.null()), true=exp.Literal.number(1))
        count = exp.func("SUM", exp.Case(ifs=[unsold], default=exp.Literal.number(0)))
        out_keys = [k for k, _ in key_columns]
        select = (
            exp.select(*(sp.col("stocked", k) for k in out_keys), exp.alias_(count, measure.name))
            .from_(stocked.subquery("stocked"))
            .join(sold.subquery("sold"), on=sp.same_keys("stocked", "sold", [AS_OF, rule.item]), join_type="left")
        )
        if out_keys:
            select = select.group_by(*(sp.col("stocked", k) for k in out_keys))
        return select

    # -- combining groups ---------------------------------------------------------------
    def _combine(self, group_names: list[str], located: dict[str, exp.Expr], needs_days: bool) -> exp.Select:
        keys = self.keys
        calendar = self._name(CALENDAR)
        several = len(group_names) > 1
        if several and keys:
            key_name = self._name("grid")
            union: exp.Query = exp.select(*keys).from_(group_names[0])
            for name in group_names[1:]:
                union = union.union(exp.select(*keys).from_(name), distinct=True)
            self.ctes.append((key_name, union))  # type: ignore[arg-type]
            base = key_name
            select = exp.select(*(sp.col(base, k) for k in keys)).from_(base)
            for name in group_names:
                select = select.join(name, on=sp.same_keys(base, name, keys), join_type="left")
        else:
            base = group_names[0]
            select = exp.select(*(sp.col(base, k) for k in keys)).from_(base)
            for name in group_names[1:]:
                select = select.join(name, join_type="cross")
        if needs_days:
            if self.grain:
                on = exp.EQ(this=sp.col(calendar, self.grain), expression=sp.col(base, self.grain))
                select = select.join(calendar, on=on, join_type="left")
            else:
                select = select.join(calendar, join_type="cross")

        def measure_ref(name: str) -> exp.Expr:
            ref = located[name].copy()
            # A key missing from one fact means no rows there: its sums and counts are 0.
            return exp.func("COALESCE", ref, exp.Literal.number(0)) if several and keys else ref

        days = sp.col(calendar, DAYS)
        for metric_id in self.query.metrics:
            select = select.select(exp.alias_(self._formula(metric_id, measure_ref, days), metric_id))
        return select

    def _formula(self, metric_id: str, measure_ref: Callable[[str], exp.Expr], days: exp.Expr) -> exp.Expr:
        """A metric's formula with divisions made safe and names replaced by their SQL."""
        tree = sqlglot.parse_one(self.model.metrics[metric_id].formula)
        for div in reversed(list(tree.find_all(exp.Div, bfs=False))):  # innermost first
            safe = sp.safe_divide(div.this, div.expression)
            tree = safe if div is tree else tree
            div.replace(safe)

        def substitute(node: exp.Expr) -> exp.Expr:
            if not isinstance(node, exp.Column):
                return node
            if node.name == DAYS:
                return days.copy()
            if node.name in self.model.measures:
                return measure_ref(node.name)
            return exp.paren(self._formula(node.name, measure_ref, days))

        return tree.transform(substitute)


def _dated(group: _Group, entity: Entity) -> bool:
    """The group reads its entity's rows by their own date (a range, or a snapshot's days), not
    through the date spine (balances of documents, unsold stock)."""
    return group.over == "period" or (group.over == "period_end" and entity.document is None)


def _names(model: SemanticModel, metric_id: str) -> set[str]:
    """Every name a metric's formula uses, through the metrics it refers to."""
    found: set[str] = set()
    for name in formula_names(model.metrics[metric_id].formula):
        found.add(name)
        if name in model.metrics:
            found |= _names(model, name)
    return found
