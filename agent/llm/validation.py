"""Check what the model proposes before it can run: against the governed model, master data and the role.

A proposal ends one of three ways (:class:`Verdict`):

- a plan that may run, sometimes tidied deterministically (a member written by its exact name
  becomes its key; a period reaching today ends yesterday, as every period does);
- a refusal that no repair should talk round: the role may not see it;
- an error in words the model can act on (unknown id, a cut the metric cannot take, a member
  master data does not know, SQL the guard refuses), for the one repair round.

Filter members are checked against master data because the compiler cannot: a category written as
"面膜类" instead of "面膜" would compile, run and confidently report zero.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError

from agent.embedded_planner import EmbeddedPlanner
from agent.llm import sql_fallback
from agent.llm.llm_tools import ToolSpec, to_plan
from agent.llm.texts import say
from agent.messages import say as say_embedded
from agent.plan import AttributePlan, Clarify, ClarifyOption, QueryPlan, Refuse, SqlPlan, ToolCall
from agent.question import parse
from agent.vocabulary import detect_language
from presentation.language import Language
from semantic_layer.engine import EngineError
from semantic_layer.errors import PolicyDeniedError, QueryError
from semantic_layer.master_data import Ambiguous, Candidate, Exact, Fuzzy, Kind, MasterData, Resolution
from semantic_layer.query import MetricQuery, Principal
from semantic_layer.semantic_model import SemanticModel
from semantic_layer.validation import check_query

PlanT = QueryPlan | ToolCall | AttributePlan | Clarify | Refuse | SqlPlan
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
#: Refusals whose fixed wording is complete; the model's own words are not needed for them.
_FIXED_REFUSALS = {
    "out_of_scope": ("out_of_scope", "help"),
    "injection": ("injection", "help"),
    "data_change": ("data_change",),
}


@dataclass(frozen=True)
class Verdict:
    """A plan that may run, or the error the model is shown for its repair (never both)."""

    plan: PlanT | None = None
    error: str | None = None


@dataclass(frozen=True)
class Asked:
    """Who asks what, when: everything a check depends on besides the model."""

    question: str
    user: Principal
    today: dt.date
    language: Language
    draft: PlanT  # the embedded planner's reading of the same question


class PlanValidator:
    def __init__(
        self, model: SemanticModel, master: MasterData, embedded: EmbeddedPlanner, *, dialect: str, sql_fallback: bool
    ) -> None:
        self.model = model
        self.master = master
        self.embedded = embedded
        self.dialect = dialect
        self.sql_fallback = sql_fallback

    def check(self, name: str, arguments: dict[str, Any], analysis: dict[str, ToolSpec], asked: Asked) -> Verdict:
        """The verdict on one terminal function call of the model."""
        try:
            plan = to_plan(name, arguments, analysis)
        except ValidationError as exc:
            return Verdict(error=f"{name} arguments are not valid: {_explain(exc)}")
        except KeyError:
            return Verdict(error=f"there is no function '{name}'")
        except (TypeError, ValueError) as exc:  # arguments of the wrong shape altogether
            return Verdict(error=f"{name} arguments are not valid: {type(exc).__name__}")
        if isinstance(plan, QueryPlan):
            return self._query_plan(plan, asked)
        if isinstance(plan, ToolCall):
            return self._tool(plan, analysis[plan.tool], asked)
        if isinstance(plan, Clarify):
            return self._clarify(plan, analysis, asked)
        if isinstance(plan, Refuse):
            return Verdict(plan=self._refusal(plan, asked))
        return self._sql(plan, asked)

    # -- metric queries ----------------------------------------------------------------
    def _query_plan(self, plan: QueryPlan, asked: Asked) -> Verdict:
        query, problem = self._tidy(plan.query, asked.today)
        if problem:
            return Verdict(error=problem)
        try:
            check_query(query, self.model, asked.user)
        except PolicyDeniedError:
            refusal = self.embedded.check(query, asked.user, asked.language)
            return Verdict(plan=refusal or Refuse(reason="permission", text=say("declined", asked.language)))
        except QueryError as exc:
            return Verdict(error=str(exc))
        missed = self._not_covered(query, asked)
        if missed:
            return Verdict(error="the plan ignores what the question asks: " + "; ".join(missed) + ". Include it")
        # The answer quotes ignored words back to the user: only words the question really has.
        ignored = [w for w in plan.ignored if w.strip() and w.strip().casefold() in asked.question.casefold()]
        return Verdict(plan=plan.model_copy(update={"query": query, "ignored": ignored}))

    def _not_covered(self, query: MetricQuery, asked: Asked) -> list[str]:
        """The coverage rule for the model's plan: a period, an event, a comparison, a share or a filter
        that the embedded reading found in the question must be in the plan, or the plan answers a
        broader question than was asked."""
        reading = parse(asked.question, self.embedded.vocabulary, self.master, asked.today)
        missed = []
        if reading.period is not None:
            period = reading.period.model_copy(
                update={"end": min(reading.period.end, asked.today - dt.timedelta(days=1))}
            )
            if query.period != period:
                missed.append(
                    f"the period is {period.start}..{period.end}, not {query.period.start}..{query.period.end}"
                )
        if reading.compare is not None and query.compare != reading.compare:
            missed.append(f"compare must be {reading.compare}")
        if reading.compare_period is not None and query.compare_period != reading.compare_period:
            window = reading.compare_period
            missed.append(f"compare_period must be {window.start}..{window.end}")
        if reading.share and not query.share:
            missed.append("share must be true (the question asks for a share of the total)")
        for wanted in reading.filters:
            family_of = self.embedded.vocabulary.roles.family_of
            family = family_of(wanted.dimension)
            if reading.share and family in {family_of(d) for d in query.dimensions}:
                continue  # "天猫的销售额占比": the channel is a row of the breakdown the share is of
            have = {
                m for f in query.filters
                if family_of(f.dimension) == family and f.exclude == wanted.exclude for m in f.members
            }  # fmt: skip
            lost = [m for m in wanted.members if m not in have]
            if lost:
                word = "exclude" if wanted.exclude else "filter"
                missed.append(f"{word} {wanted.dimension} {', '.join(lost)}")
        return missed

    def _tidy(self, query: MetricQuery, today: dt.date) -> tuple[MetricQuery, str | None]:
        """Members to keys and the period to the days with data; or what is wrong with them."""
        latest = today - dt.timedelta(days=1)
        if query.period.start > latest:
            return query, (
                f"the period starts on {query.period.start}, but data ends on {latest}: use an earlier period, "
                "or refuse with reason no_data if the user asked for a period that has not started"
            )
        period = query.period.model_copy(update={"end": min(query.period.end, latest)})
        filters, problems = [], []
        for item in query.filters:
            members = []
            for member in item.members:
                key, problem = self._member(item.dimension, member)
                members.append(key)
                if problem:
                    problems.append(problem)
            filters.append(item.model_copy(update={"members": members}))
        tidied = query.model_copy(update={"period": period, "filters": filters})
        return tidied, "; ".join(problems) or None

    def _member(self, dimension: str, member: str) -> tuple[str, str | None]:
        if dimension not in self.master.kinds:
            return member, None  # customer, supplier: not in master data (check_query checks declared ones)
        kind = cast(Kind, dimension)
        if self.master.member(kind, member) is not None:
            return member, None
        found = self.master.resolve(member, kinds={kind})
        if isinstance(found, Exact):  # the name of exactly one member; a fuzzy match is a guess for the model
            return found.candidate.member.key, None
        keys = ", ".join(f"{c.member.key} ({c.member.name})" for c in candidates(found)[:5])
        hint = f"; candidates: {keys}" if keys else "; call resolve_members"
        return member, f"{dimension} has no member '{member}'{hint}"

    # -- the other plans -----------------------------------------------------------------
    def _tool(self, call: ToolCall, spec: ToolSpec, asked: Asked) -> Verdict:
        role = self.model.roles.get(asked.user.role)
        denied = [
            m
            for m in spec.reads
            if role is None or m not in self.model.metrics or not role.grants(self.model.metrics[m])
        ]
        if role is None or denied:  # a row-filtered role's tool reads are narrowed when they run, as on the
            # embedded path (or refused by name when a read's rows cannot be narrowed: tools/reads.py)
            reason = ", ".join(denied) if denied else f"unknown role '{asked.user.role}'"
            text = say("tool_denied", asked.language, role=asked.user.role, reason=reason)
            return Verdict(plan=Refuse(reason="permission", text=text))
        # the coverage rule, as for the embedded planner's calls: a member the question names that the
        # tool cannot be narrowed to makes the answer a question back, never the whole company's analysis
        reading = parse(asked.question, self.embedded.vocabulary, self.master, asked.today)
        return Verdict(plan=self.embedded.scoped(call, reading, asked.language))

    def _clarify(self, plan: Clarify, analysis: dict[str, ToolSpec], asked: Asked) -> Verdict:
        options: list[ClarifyOption] = []
        for option in plan.options:
            if isinstance(option.plan, QueryPlan):
                verdict = self._query_plan(option.plan, asked)
            elif isinstance(option.plan, AttributePlan):
                verdict = Verdict(plan=option.plan)
            elif option.plan.tool in analysis:
                try:
                    call = to_plan(option.plan.tool, option.plan.arguments, analysis)
                except ValidationError as exc:
                    return Verdict(error=f"option '{option.label}': {_explain(exc)}")
                verdict = self._tool(cast(ToolCall, call), analysis[option.plan.tool], asked)
            else:
                verdict = Verdict(error=f"there is no analysis tool '{option.plan.tool}'")
            if verdict.error:
                return Verdict(error=f"option '{option.label}': {verdict.error}")
            if isinstance(verdict.plan, QueryPlan | ToolCall | AttributePlan):
                options.append(option.model_copy(update={"plan": verdict.plan}))
        if len(options) < 2:
            return Verdict(error="fewer than two options remain that this user may run; answer or refuse instead")
        text = plan.text.strip() if _own_words_ok(plan.text, asked) else say("which_one", asked.language)
        options = [
            o if self._label_ok(o, asked) else o.model_copy(update={"label": self._label(o, asked)}) for o in options
        ]
        return Verdict(plan=plan.model_copy(update={"text": text, "options": options}))

    def _label_ok(self, option: ClarifyOption, asked: Asked) -> bool:
        """A label may state the numbers of the question and of the names it offers ("面霜50g", "sku00012")."""
        offered = [*self._names(option, "zh"), *self._names(option, "en")]
        return _numbers_ok(option.label, " ".join([asked.question, *offered]))

    def _label(self, option: ClarifyOption, asked: Asked) -> str:
        """An option's label in our words: the names of its metrics and members, then their ids or keys."""
        if not isinstance(option.plan, QueryPlan):
            return option.plan.tool if isinstance(option.plan, ToolCall) else option.plan.query.dimension
        query = option.plan.query
        keys = [*query.metrics, *(member for f in query.filters for member in f.members)]
        return f"{' / '.join(self._names(option, asked.language))} ({', '.join(keys)})"

    def _names(self, option: ClarifyOption, language: Language) -> list[str]:
        if not isinstance(option.plan, QueryPlan):
            return [option.plan.tool if isinstance(option.plan, ToolCall) else option.plan.query.dimension]
        query = option.plan.query
        names = [self.model.metrics[m].name(language) for m in query.metrics]
        for item in query.filters:
            for key in item.members:
                member = (
                    self.master.member(cast(Kind, item.dimension), key) if item.dimension in self.master.kinds else None
                )
                shown = (member.name if language == "zh" else member.name_en or member.name) if member else None
                names.append(shown or key)
        return names

    def _refusal(self, plan: Refuse, asked: Asked) -> Refuse:
        """The model's reason, in our words where we have complete ones; its own words only when they are
        in the user's language and state no number the question did not."""
        language = asked.language
        suggestions = [s for s in plan.suggestions if s in self.model.metrics]
        keys = _FIXED_REFUSALS.get(plan.reason)
        if keys is not None:
            text = " ".join(say_embedded(k, language) for k in keys)
        elif _own_words_ok(plan.text, asked):
            text = plan.text.strip()
        else:
            text = say("declined", language) + " " + say_embedded("help", language)
        return Refuse(reason=plan.reason, text=text, suggestions=suggestions)

    def _sql(self, plan: SqlPlan, asked: Asked) -> Verdict:
        if not self.sql_fallback:
            return Verdict(error="run_sql is switched off here: use query_metrics or refuse")
        if _expressible(asked.draft):
            return Verdict(error="governed metrics can answer this question: call query_metrics, not run_sql")
        try:
            sql_fallback.guarded(plan, self.model, asked.user, self.dialect)
        except PolicyDeniedError:
            return Verdict(
                plan=Refuse(reason="permission", text=say("sql_denied", asked.language, role=asked.user.role))
            )
        except EngineError as exc:  # GuardError
            return Verdict(error=f"the SQL guard refused it: {exc}")
        return Verdict(plan=plan)


def candidates(found: Resolution) -> tuple[Candidate, ...]:
    """The members a resolution names: the one, the tied ones, the fuzzy best or the suggestions."""
    if isinstance(found, Exact):
        return (found.candidate,)
    if isinstance(found, Fuzzy):
        return (found.best,)
    return found.candidates if isinstance(found, Ambiguous) else found.suggestions


def _expressible(draft: PlanT) -> bool:
    """The embedded planner understood the whole question as a metric query or an analysis: a governed
    answer exists, so SQL is not allowed. A reading that left words out is no proof either way."""
    return isinstance(draft, ToolCall) or (isinstance(draft, QueryPlan) and not draft.ignored)


def _own_words_ok(text: str, asked: Asked) -> bool:
    """The model's own sentence may be shown: in the user's language, stating no number of its own."""
    return bool(text.strip()) and detect_language(text) == asked.language and _numbers_ok(text, asked.question)


def _numbers_ok(text: str, question: str) -> bool:
    """Every number in ``text`` is one the question states: a clarification or refusal asserts no figure."""
    allowed = set(_DIGITS.findall(question))
    return all(number in allowed for number in _DIGITS.findall(text))


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()[:5])
