"""The embedded planner: offline, deterministic, Chinese and English, no API key.

It reads a question into slots (:mod:`agent.question`), then decides: decline what must
be declined (data changes, instruction overrides, small talk), take up a pending
clarification, modify the previous query for a follow-up, ask back when a word means
several things, or build a MetricQuery. Every query it builds is checked against the
governed model and the asker's role before it is returned, so a refusal arrives as a
sentence in the user's language rather than as a compiler error.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable

from pydantic import ValidationError
from rapidfuzz import fuzz

from agent import cues
from agent.default_period import default_period, last_day
from agent.fuzzy import NearMisses, Reading
from agent.messages import say
from agent.plan import AttributePlan, Clarify, ClarifyOption, Conversation, QueryPlan, Refuse, ToolCall
from agent.question import parse, wants_each, wants_total
from agent.reading import Parsed, Rank
from agent.verified import VerifiedQuestions, plan_for
from agent.vocabulary import Vocabulary, detect_language
from presentation.cells import display_name
from presentation.language import Language, join_names
from presentation.metric_format import format_period
from semantic_layer.errors import PolicyDeniedError, QueryError, UnsupportedCutError
from semantic_layer.master_data import MasterData, Member
from semantic_layer.query import AttributeQuery, Filter, MetricQuery, Period, Principal
from semantic_layer.semantic_model import SemanticModel, formula_names
from semantic_layer.validation import check_query
from tools.registry import asks

PlanT = QueryPlan | ToolCall | AttributePlan | Clarify | Refuse
#: Plans kept per planner: a repeated question (same words, turns, asker and date) skips planning.
PLAN_CACHE_SIZE = 1024

#: Offered when a question names no metric at all.
_ORDINALS = {
    "1": 0, "一": 0, "first": 0, "1st": 0, "2": 1, "二": 1, "两": 1, "second": 1, "2nd": 1,
    "3": 2, "三": 2, "third": 2, "3rd": 2, "4": 3, "四": 3, "fourth": 3, "4th": 3,
    "5": 4, "五": 4, "fifth": 4, "5th": 4, "6": 5, "六": 5, "sixth": 5,
}  # fmt: skip
_PICK_FILLER = re.compile(
    r"那个|那款|那一个|那项|那种|这个|的|要|选|我|就|吧|\bthe\b|\bone\b|\bthat\b|\bi\b|\bwant\b|\bmean\b|[\s,，.。!！?？]+"
)
_PICK = re.compile(
    r"^\s*(?:选|选择|要|就|是|我要|我选|第|option|number|no\.?|#|the)?\s*"
    r"(\d|[一二两三四五六]|first|second|third|fourth|fifth|sixth|1st|2nd|3rd|4th|5th)\s*"
    r"(?:个|项|种|号|条|one|option)?\s*(?:吧|吧。|。|!|！|\.)?\s*$"
)


class EmbeddedPlanner:
    name = "embedded"

    def __init__(
        self,
        model: SemanticModel,
        master: MasterData,
        verified: VerifiedQuestions | None = None,
    ) -> None:
        """``verified``: the verified questions to answer first (default: the model folder's)."""
        self.model = model
        self.master = master
        self.vocabulary = Vocabulary(model, labelled=master.labelled)
        self.near = NearMisses(master, self.vocabulary)
        self.verified = verified if verified is not None else VerifiedQuestions(model)
        self._plans: OrderedDict[tuple[str, str, str, int, str], PlanT] = OrderedDict()
        self._plans_lock = threading.Lock()

    def language(self, question: str) -> Language:
        return detect_language(question, self.master)

    def plan(self, question: str, conversation: Conversation, user: Principal, today: dt.date) -> PlanT:
        """The plan, remembered per (question, the conversation's turns, asker, reference date, the verified
        questions' version): planning is two thirds of a repeated question's CPU, users ask the same
        questions again, and this planner reads nothing else (a certification changes the version).
        Each caller gets its own copy (callers may add to a plan's note)."""
        turns = conversation.model_dump_json(include={"turns"}) if conversation.turns else ""
        key = (question, turns, user.model_dump_json(), today.toordinal(), self.verified.state())
        with self._plans_lock:
            kept = self._plans.get(key)
            if kept is not None:
                self._plans.move_to_end(key)
        if kept is None:
            kept = self._plan(question, conversation, user, today)
            with self._plans_lock:
                self._plans[key] = kept
                while len(self._plans) > PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
        return kept.model_copy(deep=True)

    def _plan(self, question: str, conversation: Conversation, user: Principal, today: dt.date) -> PlanT:
        language = self.language(question)
        text = question.strip()
        folded = text.casefold()
        if not text:
            return Refuse(reason="out_of_scope", text=say("help", language))
        if cues.INJECTION.search(folded) or self._names_a_relation(folded):
            return Refuse(reason="injection", text=say("injection", language) + " " + say("help", language))
        if cues.DATA_CHANGE.search(folded):
            return Refuse(reason="data_change", text=say("data_change", language))
        pending = conversation.pending_clarification()
        if pending is not None:
            picked = self._pick(text, pending)
            if picked is not None:
                return picked
        verified = self._verified(text, user, language, today)
        if verified is not None:
            return verified
        if cues.GREETING.match(folded):
            return Refuse(reason="out_of_scope", text=say("greeting", language) + say("help", language))
        parsed = parse(text, self.vocabulary, self.master, today)
        parsed, read_as = self._read_near_misses(parsed)
        tool = self._tool_call(parsed, text, today, user, language)
        if tool is not None:
            return tool
        if not parsed.metrics and not parsed.ambiguous_metric and not parsed.out_of_scope:
            listing = self._attribute_listing(parsed, text, language)
            if listing is not None:
                return _noted(listing, read_as, language)
        if parsed.attribute_words and (parsed.metrics or parsed.ambiguous_metric):
            # "上个月天猫的GMV和账期": a member's attribute beside a metric is nothing the query can say;
            # the coverage rule asks about it rather than answer the metric alone
            parsed = parsed.model_copy(
                update={"leftover": " ".join([parsed.leftover, *parsed.attribute_words]).strip()}
            )
        previous = conversation.last_query()
        if parsed.no_days is not None:
            label, day = parsed.no_days.label, today.isoformat()
            return Refuse(reason="no_data", text=say("no_days_yet", language, label=label, today=day))
        if parsed.unknown_metric and not parsed.metrics:
            return Refuse(
                reason="unknown_metric",
                text=say("unknown_metric", language, word=parsed.unknown_metric) + " " + say("help", language),
            )
        follows = parsed.follow_cue or parsed.only_metrics or not (parsed.metrics or parsed.ambiguous_metric)
        if previous is not None and follows:
            if not parsed.empty:
                query = self._follow_up(previous, parsed, text, today)
                return _noted(self._finish(query, parsed, user, language), read_as, language)
            if parsed.follow_cue and not parsed.out_of_scope and not parsed.leftover:
                return Refuse(reason="unsupported", text=say("follow_up_unclear", language))
        if not parsed.metrics and not parsed.ambiguous_metric:
            return _noted(self._no_metric(parsed, text, today, user, language), read_as, language)
        if parsed.disjoint:
            return self._clarify_periods(self._fresh(parsed, text, today), parsed.disjoint, user, language)
        return _noted(self._finish(self._fresh(parsed, text, today), parsed, user, language), read_as, language)

    def _verified(self, text: str, user: Principal, language: Language, today: dt.date) -> PlanT | None:
        """A verified question's plan when ``text`` is one of its phrasings: a whole question, so it is used
        whatever came before (only a reply that picks one of our options goes first), checked for the
        asker's role like any plan; None when none matches or its dates cannot be read on ``today``."""
        if not self.verified.shortcut:
            return None
        found = self.verified.match(text)
        plan = plan_for(*found, today) if found is not None else None
        if isinstance(plan, QueryPlan):
            return self.check(plan.query, user, language) or plan
        return plan

    def _clarify_periods(self, query: dict, periods: tuple[Period, ...], user: Principal, language: Language) -> PlanT:
        """ "1月和3月的销售额": one query cannot leave February out; each period is an option, and the
        whole span by its grain the last (said as such, so nobody reads it as the two months alone)."""
        options: list[ClarifyOption] = []
        for period in [*periods, query_period := Period(start=periods[0].start, end=periods[-1].end)]:
            one = {**query, "period": period.model_dump()}
            if period is not query_period:
                one["grain"] = None
            label = format_period(period.start, period.end, language)
            grain = next((g for g in self.model.time_dimension.grains if g.name == query.get("grain")), None)
            if period is query_period and grain is not None:
                label += f"(按{grain.name_zh})" if language == "zh" else f" (by {grain.name_en})"
            plan = self._finish(one, Parsed(), user, language)
            if isinstance(plan, QueryPlan):
                options.append(ClarifyOption(label=label, plan=plan))
        names = join_names([format_period(p.start, p.end, language) for p in periods], language)
        return Clarify(text=say("disjoint_periods", language, periods=names), options=options)

    def _names_a_relation(self, folded: str) -> bool:
        """A question naming a warehouse table ("导出 fact_receivable") asks for raw rows, not a metric."""
        return any(re.search(rf"(?<![a-z0-9_]){re.escape(t)}(?![a-z0-9_])", folded) for t in self._relations)

    @functools.cached_property
    def _relations(self) -> tuple[str, ...]:
        return tuple({e.table.casefold().rsplit(".", 1)[-1] for e in self.model.entities.values()})

    def _read_near_misses(self, parsed: Parsed) -> tuple[Parsed, list[Reading]]:
        """Apply each leftover word that is close to exactly one name of the model ("面模" -> 面膜);
        the words applied leave the leftover, and the answer says how they were read."""
        applied: list[Reading] = []
        for glued, metric_id in parsed.glued:
            # "毛利律" is 毛利率 mistyped, not 毛利 and a stray character
            close = [r for r in self.near.readings(glued, with_skus=False) if r.close and r.kind == "metric"]
            if len(close) == 1 and close[0].metric != metric_id and metric_id in parsed.metrics:
                assert close[0].metric is not None
                metrics = tuple(close[0].metric if m == metric_id else m for m in parsed.metrics)
                parsed = parsed.model_copy(update={"metrics": metrics})
                applied.append(close[0])
        kept: list[str] = []
        words = parsed.leftover.split()
        i = 0
        while i < len(words):
            # two words first: "face msak", "gross marign" are one name mistyped
            for span in (2, 1):
                phrase = " ".join(words[i : i + span])
                if span == 2 and (i + 1 >= len(words) or not phrase.isascii()):
                    continue
                close = [r for r in self.near.readings(phrase, with_skus=False) if r.close]
                if len(close) == 1 and (close[0].kind == "member" or close[0].metric not in parsed.metrics):
                    parsed = _apply(parsed, close[0])
                    applied.append(close[0])
                    i += span
                    break
            else:
                kept.append(words[i])
                i += 1
        return parsed.model_copy(update={"leftover": " ".join(kept)}), applied

    # -- decisions -------------------------------------------------------------------
    def _no_metric(self, parsed: Parsed, text: str, today: dt.date, user: Principal, language: Language) -> PlanT:
        if parsed.out_of_scope:
            return Refuse(reason="out_of_scope", text=say("out_of_scope", language) + say("help", language))
        if parsed.ambiguous_member is not None:
            base = self._fresh(parsed, text, today, metrics=list(self.vocabulary.phrases.suggested_metrics[:1]))
            return self._clarify_member(base, *parsed.ambiguous_member, language)
        if parsed.leftover:
            suggestions = self.vocabulary.metric_suggestions(parsed.leftover)
            reply = say("unknown_metric", language, word=parsed.leftover)
            if suggestions:
                reply += " " + say("did_you_mean", language, options=self._metric_names(suggestions, language))
            else:
                reply += " " + say("help", language)
            return Refuse(reason="unknown_metric", text=reply, suggestions=suggestions)
        if parsed.why:
            return Refuse(reason="unsupported", text=say("why_nothing", language))
        if parsed.empty:
            return Refuse(reason="out_of_scope", text=say("out_of_scope", language) + say("help", language))
        suggested = list(self.vocabulary.phrases.suggested_metrics)
        base = self._fresh(parsed, text, today, metrics=suggested[:1])
        options = [self._option_for_metric(base, m, language) for m in suggested]
        names = self._metric_names(suggested, language)
        return Clarify(text=say("which_metric", language, options=names), options=options)

    def _fresh(self, parsed: Parsed, text: str, today: dt.date, metrics: list[str] | None = None) -> dict:
        metrics = list(
            metrics or parsed.metrics or (list(parsed.ambiguous_metric[1][:1]) if parsed.ambiguous_metric else [])
        )
        if parsed.why or parsed.trend or parsed.components:
            metrics = _with_components(self.model, metrics)
        dimensions = list(parsed.dimensions)
        outlets = self.vocabulary.roles.outlets
        if parsed.store_word and parsed.store_marked and outlets and outlets.dimension not in dimensions:
            dimensions.append(outlets.dimension)  # "深圳 stores x category": the stores are a breakdown too
        each_store = parsed.store_word and parsed.distributive and not dimensions  # "天津和成都的门店分别"
        if not wants_total(text) and (wants_each(text) or parsed.rank is not None) and not each_store:
            many = [f.dimension for f in parsed.filters if len(f.members) > 1 and not f.exclude]
            dimensions += [d for d in many[:1] if d not in dimensions]
        marked = parsed.store_marked or parsed.distributive or parsed.rank is not None
        if not dimensions and parsed.store_word and marked and outlets:
            dimensions = [outlets.dimension]  # "每家实体店", "each of our Shenzhen stores", "转化率最低的3家门店"
        filters = [f.model_dump() for f in parsed.filters]
        if parsed.share and not dimensions and not parsed.grain:
            # "天猫的销售额占比": the channel's part of all channels, so every channel is a row
            named = next((f for f in filters if not f["exclude"]), None)
            if named is not None:
                dimensions = [named["dimension"]]
                filters.remove(named)
        items = self.vocabulary.roles.ranked_items
        if parsed.rank is not None and parsed.rank.limit is not None and not dimensions and not parsed.grain and items:
            dimensions = [items]  # "销量前10" means the top 10 products
        grain = parsed.grain
        period = parsed.period
        if grain is None and parsed.trend:
            grain = _trend_grain(period)
        if period is None:
            # "现在还有多少库存": a stock or balance on the last day with data (its value on the last
            # month's end is the same number, but the period said is the day)
            snapshot = grain is None and all(
                self.model.metrics[m].point_in_time and (parsed.snapshot or self.model.metrics[m].additive)
                for m in metrics
            )
            period = last_day(today) if snapshot else default_period(today, grain)
        query: dict = {
            "metrics": metrics,
            "dimensions": dimensions,
            "grain": grain,
            "filters": filters,
            "period": period.model_dump(),
            "compare": parsed.compare or ("pop" if parsed.why else None),
            "share": parsed.share,
        }
        if parsed.compare_period is not None:
            query["compare_period"] = parsed.compare_period.model_dump()
        if parsed.rank is not None and (dimensions or grain):
            query.update(self._order(parsed.rank, metrics[0]))
        return query

    def _follow_up(self, previous: MetricQuery, parsed: Parsed, text: str, today: dt.date) -> dict:
        query = previous.model_dump(mode="json")
        if parsed.metrics:
            query["metrics"] = (
                query["metrics"] + [m for m in parsed.metrics if m not in query["metrics"]]
                if parsed.add_cue
                else list(parsed.metrics)
            )
        if parsed.period is not None:
            query["period"] = parsed.period.model_dump(mode="json")
        for new in parsed.filters:
            family = self.vocabulary.roles.family_of(new.dimension)
            kept = [f for f in query["filters"] if self.vocabulary.roles.family_of(f["dimension"]) != family]
            query["filters"] = [*kept, new.model_dump()]
        if parsed.dimensions:
            keep = query["dimensions"] if parsed.add_cue else []
            query["dimensions"] = keep + [d for d in parsed.dimensions if d not in keep]
        elif wants_each(text) and parsed.filters:
            many = [f.dimension for f in parsed.filters if len(f.members) > 1]
            query["dimensions"] = many[:1] or query["dimensions"]
        if parsed.grain is not None:
            query["grain"] = parsed.grain
        elif parsed.trend and query["grain"] is None:
            query["grain"] = _trend_grain(Period.model_validate(query["period"]))
        if parsed.compare is not None:
            query["compare"] = parsed.compare
        if parsed.compare_period is not None:
            query["compare_period"] = parsed.compare_period.model_dump(mode="json")
        if parsed.share:
            query["share"] = True
        if parsed.rank is not None:
            if parsed.dimensions and parsed.grain is None:
                query["grain"] = None  # "top 3 SKUs" after a weekly view ranks SKUs, not weeks
            items = self.vocabulary.roles.ranked_items
            if not query["dimensions"] and not query["grain"] and items:
                query["dimensions"] = [items]
            query.update(self._order(parsed.rank, query["metrics"][0]))
        elif query.get("order_by") and query["order_by"]["field"] not in query["metrics"]:
            query["order_by"]["field"] = query["metrics"][0]
        return query

    def _tool_call(
        self, parsed: Parsed, text: str, today: dt.date, user: Principal, language: Language
    ) -> ToolCall | Clarify | None:
        """Decisions rather than numbers: 补货建议, 定价, 现金转换周期分析, 账龄 go to the analysis tools."""
        call = self._tool_reading(parsed)
        if call is None:
            return None

        def number() -> ClarifyOption | None:  # "补货建议和上个月的销售额": the number is an option
            plan = self._finish(
                self._fresh(parsed, text, today), parsed.model_copy(update={"leftover": ""}), user, language
            )
            return (
                ClarifyOption(label=self._describe(plan.query, language), plan=plan)
                if isinstance(plan, QueryPlan)
                else None
            )

        return self.scoped(call, parsed, language, number)

    def _tool_reading(self, parsed: Parsed) -> ToolCall | None:
        if self._asks("replenishment", "slow_list", parsed):
            return ToolCall(
                tool="replenishment", arguments={**self._scope("replenishment", parsed), "actions": ["slow_mover"]}
            )
        overstock = self._asks("replenishment", "overstock", parsed)
        if self._asks("replenishment", "replenish", parsed) or (overstock and not parsed.metrics):
            arguments = self._scope("replenishment", parsed)
            if overstock:
                arguments["actions"] = ["overstock"]
            elif self._asks("replenishment", "order_now", parsed):
                arguments["actions"] = ["order_now"]
            if parsed.period is not None:  # "2025年6月面膜需要补货吗": decided on the data up to then
                arguments["as_of"] = parsed.period.end.isoformat()
            return ToolCall(tool="replenishment", arguments=arguments)
        if self._asks("elasticity", "price", parsed):
            arguments = self._scope("elasticity", parsed)
            if "sku_ids" in arguments:
                arguments["level"] = "sku"
            return ToolCall(tool="elasticity", arguments={**arguments, **self._dates(parsed)})
        focus = next((f for f in ("ar_aging", "ap_aging") if self._asks("ccc", f, parsed)), None)
        if focus is not None or self._asks("ccc", "overview", parsed):
            arguments = {**self._dates(parsed), "focus": focus or "overview"}
            if parsed.grain in ("month", "quarter"):
                arguments["grain"] = parsed.grain
            return ToolCall(tool="ccc", arguments=arguments)
        return None

    def scoped(
        self,
        call: ToolCall,
        parsed: Parsed,
        language: Language,
        metric_option: Callable[[], ClarifyOption | None] | None = None,
    ) -> ToolCall | Clarify:
        """The coverage rule for tools: what the question names that the tool's answer cannot carry makes
        the answer a question back, never a broader analysis than asked. That is a member the tool cannot be
        narrowed to ("天猫需要补货吗": replenishment is per warehouse and product) or would have to leave out,
        a breakdown its table does not have ("各渠道的补货建议"), or a metric it does not show ("补货建议和上个
        月的销售额": ``metric_option`` makes the option that answers that part instead). Several members of
        an argument that takes one are offered one by one. The LLM planner's calls are held to it too."""
        phrases = self.vocabulary.phrases
        declared = phrases.tool_scopes.get(call.tool, {})
        unscoped = [f for f in parsed.filters if f.exclude or f.dimension not in declared]
        several = [
            f for f in parsed.filters if f not in unscoped and not declared[f.dimension][1] and len(f.members) > 1
        ]
        rows = phrases.tool_rows.get(call.tool, ())
        keys = [d for d in parsed.dimensions if d not in rows]
        if parsed.grain is not None and call.arguments.get("grain") != parsed.grain:
            keys.insert(0, parsed.grain)
        # a metric read inside the tool's own words is the tool's ("哪些SKU滞销": 滞销 is in the trigger)
        asked = self._triggers(call.tool, tuple(asks().get(call.tool, ())), parsed)
        own = {m for ps, pe, _, m in parsed.metric_spans if any(ps < e and s < pe for s, e in asked)}
        shown = {*phrases.tool_shows.get(call.tool, ()), *own}
        metrics = [m for m in parsed.metrics if m not in shown and m in self.model.metrics]
        if not (unscoped or several or keys or metrics):
            return call
        tool = phrases.tool_names.get(call.tool, {}).get(language, call.tool)
        said: list[str] = []  # what the tool cannot do with the question, sentence by sentence
        left: list[str] = []  # the question's words the tool's answer leaves out, as the options say them
        foreign = list(dict.fromkeys(f.dimension for f in unscoped if f.dimension not in declared))
        if unscoped:
            excluding = "不含" if language == "zh" else "excluding "
            names = [
                (excluding if f.exclude else "") + self._member_name(f.dimension, m, language)
                for f in unscoped
                for m in f.members
            ]
            words = self._quoted(names, language)
            left.append(words)
            if foreign:
                allowed = join_names([self._dimension_name(d, language) for d in declared], language)
                scopes = say("tool_scopes", language, allowed=allowed) if declared else say("tool_no_scope", language)
                by = join_names([self._dimension_name(d, language) for d in foreign], language)
                said.append(say("tool_unscoped", language, tool=tool, dimensions=by, allowed=scopes, words=words))
            else:
                said.append(say("tool_no_exclude", language, tool=tool, words=words))
        if keys:
            by = join_names([display_name(self.model, k, language) for k in keys], language)
            words = self._quoted([f"按{by}" if language == "zh" else f"by {by}"], language)
            left.append(words)
            said.append(say("tool_no_breakdown", language, tool=tool, dimensions=by, words=words))
        if metrics:
            words = self._quoted([self.model.metrics[m].name(language) for m in metrics], language)
            left.append(words)
            said.append(say("tool_other_metrics", language, tool=tool, words=words))
        if several:
            f = several[0]
            argument = declared[f.dimension][0]
            said.append(
                say("tool_one_member", language, tool=tool, dimension=self._dimension_name(f.dimension, language))
            )
            without = say("without_words", language, words=join_names(left, language), reading="").rstrip(": ")
            options = []
            for key in f.members[:6]:
                name = self._member_name(f.dimension, key, language)
                label = f"{tool}: {name}" if name == key else f"{tool}: {name} ({key})"
                picked = call.model_copy(update={"arguments": {**call.arguments, argument: key}})
                options.append(ClarifyOption(label=f"{label} ({without})" if left else label, plan=picked))
        else:
            said.append(say("tool_ask", language))
            label = say("without_words", language, words=join_names(left, language), reading=tool)
            options = [ClarifyOption(label=label, plan=call)]
        number = metric_option() if metrics and metric_option is not None else None
        if number is not None:
            options.append(number)
        return Clarify(text=("" if language == "zh" else " ").join(said), options=options)

    @staticmethod
    def _quoted(words: list[str], language: Language) -> str:
        return join_names([f"“{w}”" if language == "zh" else f'"{w}"' for w in words], language)

    def _attribute_listing(self, parsed: Parsed, text: str, language: Language) -> PlanT | None:
        """ "账期最长的供应商", "哪些客户是经销商", "lead time by supplier": members listed by their
        attributes, when no metric is asked for and a dimension with attributes is named or implied."""
        named = [d for d in parsed.dimensions if d in self.model.dimensions and self.model.dimensions[d].attributes]
        words = [tuple(a.partition(".")[::2] for a in word) for word in parsed.attributes]
        if named:
            words = [tuple(p for p in word if p[0] in named) or word for word in words]
        dims = list(dict.fromkeys(named + [dim for word in words for dim, _ in word]))
        # attribute words, or members filtered by another of their dimensions ("哪些客户是经销商");
        # a dimension word alone ("top 3 SKUs") is a metric follow-up or ranking, not a listing
        if not dims or not (parsed.attributes or (parsed.filters and named)):
            return None
        if len(dims) > 1 and not named:
            options = [ClarifyOption(label=f"{self._dimension_name(d, language)} ({d})", plan=plan)
                       for d in dims if isinstance(plan := self._attribute_plan(d, words, parsed, text)[0], AttributePlan)]  # fmt: skip
            if len(options) > 1:
                return Clarify(text=say("which_dimension", language), options=options)
        dimension = named[0] if named else dims[0]
        plan, leftover = self._attribute_plan(dimension, words, parsed, text)
        leftover = " ".join([leftover, *parsed.amount_verbs]).strip()
        if leftover:
            understood = say("listing", language, dimension=self._dimension_name(dimension, language))
            quoted = self._quoted(leftover.split(), language)
            text = say("not_understood", language, reading=understood, words=quoted)
            label = say("without_words", language, words=quoted, reading=understood)
            return Clarify(text=text, options=[ClarifyOption(label=label, plan=plan)])
        return plan

    def _attribute_plan(
        self, dimension: str, words: list[tuple[tuple[str, str], ...]], parsed: Parsed, text: str
    ) -> tuple[AttributePlan, str]:
        """The listing, and the words of the question still unread once an amount ("60天") is a condition."""
        leftover = parsed.leftover
        attributes = list(dict.fromkeys(a for word in words for dim, a in word if dim == dimension))
        declared = {a.name: a for a in self.model.dimensions[dimension].attributes}
        conditions = []
        numeric = [a for a in attributes if declared[a].format not in ("text", "date")]
        amount = cues.ATTRIBUTE_AMOUNT.search(text.casefold())
        if numeric and amount is not None:
            # "账期60天的供应商", "60-day payment terms", "交期超过30天": a condition on the attribute named
            op = next((o for o, pattern in cues.AMOUNT_OPS if pattern.search(amount.group(0))), "=")
            conditions.append({"attribute": numeric[0], "op": op, "value": float(amount["n"])})
            leftover = " ".join(w for w in leftover.split() if w not in amount.group(0))
        dates = [a for a in attributes if declared[a].format == "date"] or [
            a.name for a in declared.values() if a.format == "date"
        ]
        if parsed.period is not None and dates:
            # "2025年12月开始的促销活动", "2025年折扣最大的4个活动": members whose date lies in the period
            conditions += [
                {"attribute": dates[0], "op": ">=", "value": parsed.period.start.isoformat()},
                {"attribute": dates[0], "op": "<=", "value": parsed.period.end.isoformat()},
            ]
        query: dict = {
            "dimension": dimension,
            "attributes": attributes,
            "filters": [f.model_dump() for f in parsed.filters],
            "conditions": conditions,
        }
        if parsed.rank is not None and attributes:
            spec = next(a for a in self.model.dimensions[dimension].attributes if a.name == attributes[0])
            descending = {"top": True, "all": True, "bottom": False}.get(
                parsed.rank.kind, (parsed.rank.kind == "best") == (spec.better == "higher")
            )
            query["order_by"] = {"field": attributes[0], "descending": descending}
            # "账期最长的供应商": all of them, longest first; a number named ("账期最长的3家") is a limit
            query["limit"] = parsed.rank.limit if parsed.rank.limit and parsed.rank.limit > 1 else None
        return AttributePlan(query=AttributeQuery.model_validate(query)), leftover

    def _asks(self, tool: str, ask: str, parsed: Parsed) -> bool:
        return bool(self._triggers(tool, (ask,), parsed))

    def _triggers(self, tool: str, wanted: tuple[str, ...], parsed: Parsed) -> list[tuple[int, int]]:
        """Where the question asks ``tool`` the ``wanted`` things: its triggers that are not part of a metric the
        question names. "应收账龄超过60天的占比" asks for the number the phrase book's words name, not for the
        aging tool: a trigger overlapping a metric phrase, or inside a metric's name ("AR aging over 60"),
        is the metric's."""
        found = []
        for ask in wanted:
            pattern = self.vocabulary.phrases.tool_asks.get((tool, ask))
            for m in pattern.finditer(parsed.text) if pattern is not None else ():
                s, e = m.span()
                spans = parsed.metric_spans
                if not any((s < pe and ps < e) if phrase else (ps <= s and e <= pe) for ps, pe, phrase, _ in spans):
                    found.append((s, e))
        return found

    def _scope(self, tool: str, parsed: Parsed) -> dict:
        """What a tool should look at, from the members the question names and the tool's own declaration."""
        arguments: dict = {}
        declared = self.vocabulary.phrases.tool_scopes.get(tool, {})
        for f in parsed.filters:
            argument, many = declared.get(f.dimension, (None, False))
            if f.exclude or argument is None:
                continue
            if many:
                arguments[argument] = list(f.members)
            elif len(f.members) == 1:
                arguments[argument] = f.members[0]
        return arguments

    @staticmethod
    def _dates(parsed: Parsed) -> dict:
        if parsed.period is None:
            return {}
        return {"start": parsed.period.start.isoformat(), "end": parsed.period.end.isoformat()}

    def _order(self, rank: Rank, metric_id: str) -> dict:
        better_low = self.model.metrics[metric_id].better == "lower"
        descending = {
            "top": True,
            "all": True,
            "bottom": False,
            "best": not better_low,
            "worst": better_low,
        }[rank.kind]
        return {"order_by": {"field": metric_id, "descending": descending}, "limit": rank.limit}

    def _finish(self, query: dict, parsed: Parsed, user: Principal, language: Language) -> PlanT:
        """Ask back about an ambiguous word, or validate the query against the model and the role."""
        parsed = _drop_promotions_not_taken(self.model, query, parsed)
        _promotions_in_period(query, parsed)
        if parsed.ambiguous_metric is not None:
            word, ids = parsed.ambiguous_metric
            options = [self._option_for_metric(query, m, language) for m in ids]
            return Clarify(text=say("ambiguous_metric", language, word=word), options=options)
        if parsed.ambiguous_member is not None:
            return self._clarify_member(query, *parsed.ambiguous_member, language)
        if query.get("share") and not query["dimensions"] and not query["grain"]:
            if all(self.model.metrics[m].additive for m in query["metrics"]):
                return self._clarify_share_dimension(query, language)
            allowed = [d for d in self.model.metric_dimensions(query["metrics"][0]) if d in self.model.dimensions]
            query["dimensions"] = allowed[:1]  # the model's refusal of a ratio's share, worded for this metric
        try:
            plan = MetricQuery.model_validate(query)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            return Refuse(reason="unsupported", text=say("invalid", language, reason=reason))
        refusal = self.check(plan, user, language)
        if refusal is not None:
            return refusal
        if parsed.leftover:
            return self._not_understood(plan, parsed.leftover.split(), language)
        return QueryPlan(query=plan)

    def _not_understood(self, plan: MetricQuery, words: list[str], language: Language) -> Clarify:
        """The coverage rule: words that look like content and that no recogniser read make the answer
        a question back, saying what was understood, never a broader answer. Options: each name the
        first such word may be a typo of, then the reading without the words."""
        options: list[ClarifyOption] = []
        readings = next((r for r in (self.near.readings(w) for w in words) if r), [])
        for reading in readings:
            read = _apply(Parsed(metrics=tuple(plan.metrics), filters=tuple(plan.filters)), reading)
            changed = plan.model_copy(update={"metrics": list(read.metrics), "filters": list(read.filters)})
            options.append(ClarifyOption(label=self._reading_label(reading, language), plan=QueryPlan(query=changed)))
        quoted = self._quoted(words, language)
        understood = self._describe(plan, language)
        options.append(ClarifyOption(label=say("without_words", language, words=quoted, reading=understood),
                                     plan=QueryPlan(query=plan)))  # fmt: skip
        text = say("not_understood", language, reading=understood, words=quoted)
        if readings:
            text += say("maybe", language, word=readings[0].word)
        return Clarify(text=text, options=options)

    def _clarify_share_dimension(self, query: dict, language: Language) -> PlanT:
        """ "销售额占比" with nothing to divide: a share is of a breakdown, so ask which one."""
        allowed = [d for d in self.model.metric_dimensions(query["metrics"][0]) if d in self.model.dimensions]
        options = []
        for dim in allowed[:6]:
            plan = MetricQuery.model_validate({**query, "dimensions": [dim]})
            options.append(
                ClarifyOption(label=f"{self._dimension_name(dim, language)} ({dim})", plan=QueryPlan(query=plan))
            )
        if len(options) < 1:
            return Refuse(reason="unsupported", text=say("share_needs_breakdown", language))
        return Clarify(text=say("share_which_dimension", language), options=options)

    def _reading_label(self, reading: Reading, language: Language) -> str:
        if reading.member is not None:
            kind = self._dimension_name(reading.member.kind, language)
            name = reading.member.name if language == "zh" else (reading.member.name_en or reading.member.name)
            return f"{name} ({kind})"
        assert reading.metric is not None
        return f"{self.model.metrics[reading.metric].name(language)} ({reading.metric})"

    def _describe(self, query: MetricQuery, language: Language) -> str:
        """What a query reads, in words: the metrics, the filters, the breakdown, the period."""
        parts = [self._metric_names(list(query.metrics), language)]
        for f in query.filters:
            names = [self._member_name(f.dimension, m, language) for m in f.members]
            prefix = ("不含" if language == "zh" else "excluding ") if f.exclude else ""
            parts.append(f"{self._dimension_name(f.dimension, language)}: {prefix}{join_names(names, language)}")
        keys = ([query.grain] if query.grain else []) + list(query.dimensions)
        if keys:
            by = join_names([display_name(self.model, k, language) for k in keys], language)
            parts.append(f"按{by}" if language == "zh" else f"by {by}")
        parts.append(format_period(query.period.start, query.period.end, language))
        return (", " if language == "en" else ",").join(parts)

    def _member_name(self, dimension: str, key: str, language: Language) -> str:
        member = self.master.member(dimension, key) if dimension in self.master.kinds else None
        if member is None:
            declared = self.model.dimensions[dimension].member(key) if dimension in self.model.dimensions else None
            if declared is None:
                return key
            return declared.name_zh if language == "zh" else declared.name_en
        return member.name if language == "zh" else (member.name_en or member.name)

    def check(self, query: MetricQuery, user: Principal, language: Language) -> Refuse | None:
        """The refusal, in the asker's language, for a query the model or the role does not allow; else None."""
        role = self.model.roles.get(user.role)
        if role is not None:
            for metric_id in query.metrics:
                metric = self.model.metrics.get(metric_id)
                if metric is not None and (not role.grants(metric)):
                    allowed = [m.id for m in self.model.metrics.values() if role.grants(m)]
                    text = say(
                        "metric_denied", language, role=user.role, metric=metric.name(language),
                        allowed=self._metric_names(allowed[:8], language),
                    )  # fmt: skip
                    return Refuse(reason="permission", text=text, suggestions=allowed[:8])
        try:
            check_query(query, self.model, user)
        except UnsupportedCutError as exc:
            metric = self.model.metrics[exc.metric]
            text = say(
                "cannot_cut", language, metric=metric.name(language), dimension=self._dimension_name(exc.dimension, language),
                allowed=join_names([self._dimension_name(d, language) for d in ["date", *exc.allowed]], language),
            )  # fmt: skip
            return Refuse(reason="unsupported", text=text, suggestions=exc.allowed)
        except PolicyDeniedError as exc:
            if user.store_id:
                return Refuse(
                    reason="permission", text=say("rows_denied", language, role=user.role, store=user.store_id)
                )
            return Refuse(reason="permission", text=say("invalid", language, reason=str(exc)))
        except QueryError as exc:
            return Refuse(reason="unsupported", text=say("invalid", language, reason=str(exc)))
        return None

    # -- clarifications ----------------------------------------------------------------
    def _option_for_metric(self, query: dict, metric_id: str, language: Language) -> ClarifyOption:
        changed = {**query, "metrics": [metric_id]}
        if changed.get("order_by"):
            changed["order_by"] = {**changed["order_by"], "field": metric_id}
        metric = self.model.metrics[metric_id]
        return ClarifyOption(
            label=f"{metric.name(language)} ({metric_id})", plan=QueryPlan(query=MetricQuery.model_validate(changed))
        )

    def _clarify_member(self, query: dict, word: str, members: tuple[Member, ...], language: Language) -> PlanT:
        options = []
        for member in members[:8]:
            filters = [f for f in query["filters"] if f["dimension"] != member.kind]
            filters.append(Filter(dimension=member.kind, members=[member.key], exclude=False).model_dump())
            names = [member.name, member.name_en] if language == "zh" else [member.name_en, member.name]
            name = " / ".join(dict.fromkeys(n for n in names if n))
            plan = MetricQuery.model_validate({**query, "filters": filters})
            options.append(ClarifyOption(label=f"{name} ({member.key})", plan=QueryPlan(query=plan)))
        kind = self._dimension_name(members[0].kind, language)
        return Clarify(text=say("ambiguous_member", language, word=word, kind=kind), options=options)

    def _pick(self, text: str, pending: Clarify) -> PlanT | None:
        """The option a reply to our question picks: by number, by label, or by naming it."""
        folded = text.casefold().strip()
        m = _PICK.match(folded)
        if m:
            index = _ORDINALS.get(m.group(1))
            if index is not None and index < len(pending.options):
                return pending.options[index].plan
        keys = {m.value for match in self.vocabulary.find(text) for m in match.values if m.kind == "metric"}
        keys |= {c.member.key for mention in self.master.find_mentions(text) for c in mention.candidates}
        named = [o for o in pending.options if _option_keys(o) & keys]
        if len(named) == 1:
            return named[0].plan
        # "要天数那个", "the white truffle one": the words that tell the option labels apart.
        words = _PICK_FILLER.sub(" ", folded).strip()
        if len(words) < 2:
            return None
        scores = [fuzz.partial_ratio(words, o.label.casefold()) for o in pending.options]
        best = max(range(len(scores)), key=scores.__getitem__)
        runner_up = max((sc for i, sc in enumerate(scores) if i != best), default=0.0)
        if scores[best] >= 75 and scores[best] - runner_up >= 10:
            return pending.options[best].plan
        return None

    # -- names -------------------------------------------------------------------------
    def _metric_names(self, ids: list[str], language: Language) -> str:
        return join_names([self.model.metrics[m].name(language) for m in ids if m in self.model.metrics], language)

    def _dimension_name(self, name: str, language: Language) -> str:
        if name == "date":
            return "日期" if language == "zh" else "date"
        dim = self.model.dimensions.get(name)
        if dim is None:
            return name
        return dim.name_zh if language == "zh" else dim.name_en


def _apply(parsed: Parsed, reading: Reading) -> Parsed:
    """Use a near miss as what it resembles: a member as a filter, a metric as a metric asked for."""
    if reading.member is not None:
        filters = parsed.with_filter(reading.member.kind, reading.member.key, exclude=False)
        return parsed.model_copy(update={"filters": filters})
    if reading.metric is not None:
        return parsed.model_copy(update={"metrics": parsed.with_metric(reading.metric)})
    return parsed


def _noted(plan: PlanT, applied: list[Reading], language: Language) -> PlanT:
    """Say how near misses were read ("按“面膜”理解“面模”"), first in the answer."""
    if not applied or isinstance(plan, Refuse):
        return plan
    note = "".join(say("read_as", language, word=r.word, surface=r.surface) for r in applied)
    return plan.model_copy(update={"note": note + (plan.note or "")})


def _option_keys(option: ClarifyOption) -> set[str]:
    if not isinstance(option.plan, QueryPlan):
        return set()
    query = option.plan.query
    return set(query.metrics) | {member for f in query.filters for member in f.members}


def _drop_promotions_not_taken(model: SemanticModel, query: dict, parsed: Parsed) -> Parsed:
    """An event word ("双11") next to a metric that its promotions do not cut (marketing spend) is
    not a filter it can take: leave it out, and the answer says it was left out."""
    if not parsed.promotion_words:
        return parsed
    named = {key for key, _ in parsed.promotion_starts}
    filters = [f for f in query["filters"] if not set(f["members"]) & named]
    dropped = {f["dimension"] for f in query["filters"]} - {f["dimension"] for f in filters}
    if all(d in model.metric_dimensions(m) for d in dropped for m in query["metrics"] if m in model.metrics):
        return parsed
    query["filters"] = filters
    return parsed.model_copy(update={"leftover": " ".join([parsed.leftover, *parsed.promotion_words]).strip()})


def _promotions_in_period(query: dict, parsed: Parsed) -> None:
    """ "去年双11": of the promotions an event word names, those that start in the period (or in
    the six weeks before it, for sales still running into it); all of them if none does."""
    starts = dict(parsed.promotion_starts)
    if not starts:
        return
    period = Period.model_validate(query["period"])
    earliest = period.start - dt.timedelta(days=42)
    for f in query["filters"]:
        if set(f["members"]) & starts.keys():
            kept = [
                key for key in f["members"]
                if (start := starts.get(key)) is None or earliest <= start <= period.end
            ]  # fmt: skip
            f["members"] = kept or f["members"]


def _with_components(model: SemanticModel, metrics: list[str]) -> list[str]:
    """ "为什么现金转换周期变长了", "毛利率趋势": a composite metric explains itself with the
    components the model declares for it (ccc: dio, dso, dpo), else the metrics its formula names."""
    out = list(metrics)
    parts = {c for m in metrics for c in model.metrics[m].components or ()}
    for metric_id in metrics:
        if metric_id in parts:
            continue  # "CCC走势,连同DIO、DSO、DPO": dio is there as a part of ccc, not to be taken apart
        metric = model.metrics[metric_id]
        declared = getattr(metric, "components", None)
        names = declared if declared is not None else sorted(formula_names(metric.formula), key=metric.formula.find)
        out += [n for n in names if n in model.metrics and n not in out]
    return out


def _trend_grain(period: Period | None) -> str:
    if period is None:
        return "month"
    if period.days <= 31:
        return "day"
    return "week" if period.days <= 92 else "month"
