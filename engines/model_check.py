"""Check a model folder against a live warehouse, before anyone asks it a question.

A model that loads can still be wrong about the warehouse it points at: a relation renamed, a
column missing, a key that is not unique (every join through it multiplies rows), a foreign key
whose values match nothing (every cut through it loses rows), a metric whose SQL the engine
rejects. Each of these gives wrong numbers or errors at question time; here each is a problem
that names the model file and entry and the warehouse object. Every probe is a sqlglot tree run
through the engine protocol, so the SQL guard checks it like any other statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import sqlglot.expressions as exp

from semantic_layer.compiler import compile_query
from semantic_layer.engine import Engine, EngineError
from semantic_layer.errors import QueryError
from semantic_layer.query import MetricQuery, Period, Principal
from semantic_layer.semantic_model import Entity, Read, SemanticModel
from semantic_layer.tool_reads import bind_read, parse_read

Severity = Literal["error", "warning"]
#: How long one probe may take: a check of a big warehouse must not hang on one table.
PROBE_TIMEOUT_S = 60.0
#: The days each metric is run over: enough to exercise its SQL, little enough to be quick.
METRIC_DAYS = 7


@dataclass(frozen=True)
class Problem:
    severity: Severity
    entry: str  # the model file and entry: "entities.yaml: entities 'fact_sales'"
    target: str  # the warehouse object: "fact_sales.order_date"
    message: str


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    checked: dict[str, int]  # what was checked, by kind: relations, keys, joins, metrics

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def check_model(model: SemanticModel, engine: Engine, *, progress: Callable[[str], None] | None = None) -> Report:
    """Every relation, column, key, join and metric of ``model`` tried on ``engine``."""
    checker = _Checker(model, engine, progress or (lambda step: None))
    problems = list(checker.run())
    return Report(problems=problems, checked=checker.checked)


def steps(model: SemanticModel) -> int:
    """How many probes ``check_model`` runs (for a progress bar)."""
    entities = model.entities.values()
    keyed = sum(1 for e in entities if e.key)
    joins = sum(len(e.joins) for e in entities)
    return len(model.entities) + keyed + joins + len(model.metrics) + len(model.reads)


class _Checker:
    def __init__(self, model: SemanticModel, engine: Engine, progress: Callable[[str], None]) -> None:
        self.model, self.engine, self.progress = model, engine, progress
        self.present: dict[str, set[str]] = {}  # entity -> the columns the warehouse has
        self.latest: dict[str, dt.date] = {}  # entity -> its latest date
        self.checked = {"relations": 0, "keys": 0, "joins": 0, "metrics": 0, "reads": 0}

    def run(self) -> Iterator[Problem]:
        for entity in self.model.entities.values():
            yield from self._relation(entity)
        for entity in self.model.entities.values():
            if entity.key and entity.name in self.present:
                yield from self._key(entity)
        for entity in self.model.entities.values():
            for join in entity.joins:
                yield from self._join(entity, join.column, join.to)
        for metric_id in self.model.metrics:
            yield from self._metric(metric_id)
        for name, read in self.model.reads.items():
            yield from self._read(name, read)

    def _where(self, section: str, name: str) -> str:
        return f"{self.model.origins.get(f'{section}/{name}', '?')}: {section} '{name}'"

    def _run(self, tree: exp.Expr) -> list[tuple]:
        return self.engine.execute(tree, row_limit=10, timeout_s=PROBE_TIMEOUT_S).rows

    def _relation(self, entity: Entity) -> Iterator[Problem]:
        self.progress(f"relation {entity.table}")
        self.checked["relations"] += 1
        where = self._where("entities", entity.name)
        try:
            result = self.engine.execute(
                exp.select("*").from_(exp.to_table(entity.table)).limit(1), row_limit=1, timeout_s=PROBE_TIMEOUT_S
            )
        except EngineError as exc:
            yield Problem("error", where, entity.table, f"cannot read the relation: {_first_line(exc)}")
            return
        have = {c.lower() for c in result.columns}
        self.present[entity.name] = have
        for column in map(entity.physical, entity.columns):
            if column.lower() not in have:
                yield Problem("error", where, f"{entity.table}.{column}", "the relation has no such column")
        logical = entity.time or (entity.document.opened if entity.document is not None else None)
        dated = entity.physical(logical) if logical else None
        if dated and dated.lower() in have:
            yield from self._time(entity, dated, where)

    def _time(self, entity: Entity, dated: str, where: str) -> Iterator[Problem]:
        """The latest date of the entity's time column (a document's opening date): metrics run up to it."""
        column = exp.column(dated)
        tree = exp.select(exp.Max(this=column)).from_(exp.to_table(entity.table))
        try:
            latest = self._run(tree)[0][0]
        except EngineError as exc:
            yield Problem("error", where, f"{entity.table}.{dated}", f"cannot read: {_first_line(exc)}")
            return
        if latest is None:
            yield Problem("warning", where, entity.table, "the relation is empty")
        elif isinstance(latest, dt.datetime):
            self.latest[entity.name] = latest.date()
        elif isinstance(latest, dt.date):
            self.latest[entity.name] = latest
        else:
            kind = type(latest).__name__
            yield Problem("error", where, f"{entity.table}.{dated}", f"the time column holds {kind}, not dates")

    def _key(self, entity: Entity) -> Iterator[Problem]:
        assert entity.key is not None
        name = entity.physical(entity.key)
        self.progress(f"key {entity.table}.{name}")
        self.checked["keys"] += 1
        key = exp.column(name)
        tree = exp.select(
            exp.Count(this=exp.Star()).as_("n"),
            exp.Count(this=exp.Distinct(expressions=[key])).as_("k"),
            exp.Count(this=key).as_("filled"),
        ).from_(exp.to_table(entity.table))
        where = self._where("entities", entity.name)
        try:
            rows, distinct, filled = self._run(tree)[0]
        except EngineError as exc:
            yield Problem("error", where, f"{entity.table}.{name}", f"cannot read the key: {_first_line(exc)}")
            return
        target = f"{entity.table}.{name}"
        if distinct < filled:
            message = f"the key is not unique: {filled - distinct:,} repeated values in {rows:,} rows (joins through it multiply rows)"
            yield Problem("error", where, target, message)
        if filled < rows:
            yield Problem("error", where, target, f"the key is empty in {rows - filled:,} of {rows:,} rows")

    def _join(self, entity: Entity, column: str, to: str) -> Iterator[Problem]:
        other = self.model.entities[to]
        if entity.name not in self.present or to not in self.present or other.key is None:
            return
        column, key = entity.physical(column), other.physical(other.key)
        self.progress(f"join {entity.table}.{column} -> {other.table}")
        self.checked["joins"] += 1
        local = exp.column(column, table="f")
        keys = exp.select(exp.column(key)).from_(exp.to_table(other.table))
        orphan = exp.and_(local.is_(exp.null()).not_(), local.isin(query=keys).not_())
        tree = exp.select(
            exp.Count(this=exp.Star()).as_("n"),
            exp.Sum(
                this=exp.Case(ifs=[exp.If(this=orphan, true=exp.Literal.number(1))], default=exp.Literal.number(0))
            ).as_("orphans"),
        ).from_(exp.to_table(entity.table).as_("f"))
        where = self._where("entities", entity.name)
        target = f"{entity.table}.{column} -> {other.table}.{key}"
        try:
            rows, orphans = self._run(tree)[0]
        except EngineError as exc:
            yield Problem("error", where, target, f"cannot compare the join's values: {_first_line(exc)}")
            return
        orphans = int(orphans or 0)
        if rows and orphans == rows:
            yield Problem("error", where, target, f"none of the {rows:,} values matches a key (wrong column or type?)")
        elif orphans:
            share = orphans / rows
            yield Problem(
                "warning",
                where,
                target,
                f"{orphans:,} of {rows:,} rows ({share:.1%}) match no key: cuts through this join leave them out",
            )

    def _metric(self, metric_id: str) -> Iterator[Problem]:
        self.progress(f"metric {metric_id}")
        self.checked["metrics"] += 1
        where = self._where("metrics", metric_id)
        entities = {m.entity for m in self.model.metric_measures(metric_id)}
        latest = min((self.latest[e] for e in entities if e in self.latest), default=None)
        if latest is None:
            yield Problem("warning", where, ", ".join(sorted(entities)), "not run: no dated rows to run it on")
            return
        period = Period(start=latest - dt.timedelta(days=METRIC_DAYS - 1), end=latest)
        try:
            query = MetricQuery.model_validate({"metrics": [metric_id], "period": period})
            compiled = compile_query(query, self.model, dialect=self.engine.dialect)
            self.engine.execute(compiled.ast, row_limit=10, timeout_s=PROBE_TIMEOUT_S)
        except (QueryError, EngineError) as exc:
            yield Problem(
                "error",
                where,
                ", ".join(sorted(entities)),
                f"does not run ({period.start}..{period.end}): {_first_line(exc)}",
            )

    def _read(self, name: str, read: Read) -> Iterator[Problem]:
        """The read, with its parameters at sample values, planned by the warehouse (``LIMIT 0``): its
        relations, columns and SQL are the warehouse's, whatever the tool will pass."""
        self.progress(f"read {name}")
        self.checked["reads"] += 1
        where = self._where("reads", name)
        target = ""
        day = max(self.latest.values(), default=dt.date.today())
        samples = {"date": day, "integer": 1, "number": 1.0, "text": "", "texts": [""]}
        try:
            tree = parse_read(self.model, read)
            target = ", ".join(_relations(self.model, tree))
            params = {p: samples[k] for p, k in read.params.items()}
            tree = bind_read(self.model, read, tree, params, Principal(), self.engine.dialect)
            self.engine.execute(
                exp.select("*").from_(tree.subquery("r")).limit(0), row_limit=1, timeout_s=PROBE_TIMEOUT_S
            )
        except (QueryError, EngineError) as exc:
            yield Problem("error", where, target or "-", f"does not run: {_first_line(exc)}")


def _relations(model: SemanticModel, tree: exp.Select) -> list[str]:
    """The warehouse relations a parsed read names (its entities' tables), for the problem's target."""
    named = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    entities = {t.name for t in tree.find_all(exp.Table) if t.name not in named}
    return sorted(model.entities[e].table if e in model.entities else e for e in entities)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
