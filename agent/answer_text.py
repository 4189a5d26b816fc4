"""The sentences a business user reads for one metric result, in the question's language.

A wrong number said confidently is the worst failure, so the text only *copies* numbers out of
the result: every figure is a cell put through :func:`presentation.metric_format.format_value`, and
nothing is summed, averaged or subtracted here (no totals, no percentage points). Besides cells
the text names the period, the filters, members (by display name, never by code when a name is
known), row counts and rank positions. ``tests/test_answer_text.py`` extracts every number of
many texts to hold this.

Shapes, decided by the query: one number (no keys); a ranking (``order_by`` and ``limit``: the
rows in order); a time series (a grain: first, last, highest and lowest bucket); a breakdown
(dimensions: the top three by the first metric). A single row of any shape reads like one number,
with its label. Then the governed definition, briefly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from presentation.cells import column_format, display_name
from presentation.language import Language, join_names
from presentation.metric_format import format_bucket, format_period, format_value, is_missing
from semantic_layer.query import Filter
from semantic_layer.semantic_model import SemanticModel, formula_signs

if TYPE_CHECKING:
    from semantic_layer.compiler import CompiledQuery
    from semantic_layer.prepared import PreparedQuery

#: (dimension name, member code, language) -> the member's display name, or None if unknown.
Labeler = Callable[[str, str, str], str | None]

BREAKDOWN_TOP = 3
RANKING_SHOWN = 10
_COMPARE = {"yoy": {"zh": "同比", "en": "YoY"}, "pop": {"zh": "环比", "en": "vs previous period"}}
_NO_VALUE = {"zh": "无数据", "en": "n/a"}
_BLANK_MEMBER = {"zh": "(空)", "en": "(none)"}


def compose_text(
    compiled: CompiledQuery | PreparedQuery,
    rows: list[list[Any]],
    model: SemanticModel,
    language: Language,
    *,
    labels: Labeler,
    truncated: bool = False,
    total_rows: int | None = None,
) -> str:
    """The answer text for ``rows``: the result of ``compiled``, in its columns (no name columns).

    ``truncated``: the row limit cut the result; the text then describes the rows shown as such, says
    how many rows the whole result has (``total_rows``, when counted) and suggests a coarser cut.
    """
    composer = _Composer(compiled, model, language, labels, truncated)
    return composer.text(rows, total_rows)


@dataclass
class _Composer:
    compiled: CompiledQuery | PreparedQuery
    model: SemanticModel
    language: Language
    labels: Labeler
    truncated: bool = False

    def __post_init__(self) -> None:
        self.query = self.compiled.query
        self.columns = self.compiled.columns
        self.zh = self.language == "zh"
        self.keys = ([self.query.grain] if self.query.grain else []) + list(self.query.dimensions)

    def text(self, rows: list[list[Any]], total_rows: int | None) -> str:
        scope = self.scope()
        if not rows or (not self.keys and all(is_missing(v) for v in rows[0])):
            return f"{scope}没有符合条件的数据。" if self.zh else f"No data for {scope}."
        if not self.keys:
            body = self.single(rows[0])
        elif len(rows) == 1:
            body = f"{self.row_label(rows[0])} {self.single(rows[0])}"
        elif self.query.order_by is not None and self.query.limit is not None:
            body = self.ranking(rows)
        elif self.query.grain:
            body = self.series(rows)
        else:
            body = self.breakdown(rows)
        sentences = [f"{scope},{body}" if self.zh else f"{scope}, {body}"]
        if self.truncated:
            sentences.append(self.cut_off(len(rows), total_rows))
        sentences.append(self.definition())
        return ("" if self.zh else " ").join(sentences)

    # -- framing --------------------------------------------------------------------
    def scope(self) -> str:
        """The period and, in brackets, the filters: ``2025年12月(天猫、京东)``; the role's pinned rows
        always among them (``仅限您的门店: 上海南京路店``), as the asker may have meant the whole company."""
        when = format_period(self.query.period.start, self.query.period.end, self.language)
        pinned = self.pinned()
        parts = [self.filter_phrase(f) for f in self.query.filters if (f.dimension, tuple(f.members)) not in pinned]
        parts += pinned.values()
        if not parts:
            return when
        return f"{when}({'; '.join(parts)})" if self.zh else f"{when} ({'; '.join(parts)})"

    def pinned(self) -> dict[tuple[str, tuple[str, ...]], str]:
        """The filters the asker's role imposes, with how they read: ``仅限您的门店: 上海南京路店``."""
        role = self.model.roles.get(self.compiled.principal.role)
        out: dict[tuple[str, tuple[str, ...]], str] = {}
        for row_filter in role.row_filters if role is not None else []:
            value = getattr(self.compiled.principal, row_filter.principal_attribute, None)
            if not value:
                continue
            # A display name listing alternatives ("门店/店铺") reads by its first one here.
            noun = self.key_name(row_filter.dimension).split("/")[0]
            member = self.member(row_filter.dimension, str(value))
            phrase = f"仅限您的{noun}: {member}" if self.zh else f"your {noun} only: {member}"
            out[(row_filter.dimension, (str(value),))] = phrase
        return out

    def filter_phrase(self, item: Filter) -> str:
        names = join_names([self.member(item.dimension, m) for m in item.members], self.language)
        dim = self.model.dimensions.get(item.dimension)
        style = dim.filter_phrase if dim is not None else None
        if style is not None:
            phrase = (style.zh if self.zh else style.en).format(names)
            return (("不含" if self.zh else "excluding ") + phrase) if item.exclude else phrase
        dimension = self.key_name(item.dimension)
        if item.exclude:
            return f"{dimension}不含{names}" if self.zh else f"{dimension} excluding {names}"
        return f"{dimension}: {names}"

    def definition(self) -> str:
        """``口径: 毛利 / 销售额``: each metric's governed description (named when there are several)."""
        metrics = [self.model.metrics[m] for m in self.query.metrics]
        texts = [m.description(self.language).rstrip("。.") for m in metrics]
        if len(metrics) > 1:
            texts = [f"{m.name(self.language)} = {t}" for m, t in zip(metrics, texts, strict=True)]
        if self.zh:
            return f"口径: {'; '.join(texts)}。"
        return f"{'Definitions' if len(texts) > 1 else 'Definition'}: {'; '.join(texts)}."

    # -- shapes ---------------------------------------------------------------------
    def single(self, row: list[Any]) -> str:
        phrases = [self.metric_phrase(m, row) for m in self.query.metrics]
        driver = self.driver(row)
        return "; ".join(phrases) + ("。" if self.zh else ".") + driver

    def driver(self, row: list[Any]) -> str:
        """ "变化主要来自库存周转天数。": with a comparison, the component whose change moved a composite
        the most (ccc = dio + dso - dpo: a falling dpo lengthens it), for formulas that add and subtract."""
        if self.query.compare is None or not self.query.metrics:
            return ""
        composite = self.model.metrics[self.query.metrics[0]]
        signs = formula_signs(composite.formula) if composite.components else None
        if not signs or not all(c in self.query.metrics for c in signs):
            return ""
        moves: dict[str, float] = {}
        for part, sign in signs.items():
            now, before = self.cell(row, part), self.cell(row, f"{part}_previous")
            if is_missing(now) or is_missing(before):
                return ""
            moves[part] = sign * (float(now) - float(before))
        total = sum(moves.values())
        if total == 0:
            return ""
        part = max(moves, key=lambda p: moves[p] * (1 if total > 0 else -1))
        name = self.key_name(part)
        return f"变化主要来自{name}。" if self.zh else f" The change comes mainly from {name}."

    def ranking(self, rows: list[list[Any]]) -> str:
        """``按销售额从高到低前5(品类): 1. 面膜 ¥…; 2. …``: the rows in the order the query asked."""
        order = self.query.order_by
        assert order is not None
        metric = order.field if order.field in self.query.metrics else self.query.metrics[0]
        shown = rows[:RANKING_SHOWN]
        items = "; ".join(f"{i}. {self.item(row, metric)}" for i, row in enumerate(shown, start=1))
        field, keys = self.key_name(order.field), self.key_names()
        if self.zh:
            more = f"(共 {len(rows):,} 行,其余见表)" if len(rows) > len(shown) else ""
            direction = "从高到低" if order.descending else "从低到高"
            return f"按{field}{direction}前{len(shown)}({keys}): {items}{more}。"
        more = f" ({len(rows):,} rows in all; see the table)" if len(rows) > len(shown) else ""
        direction = "top" if order.descending else "bottom"
        return f"{direction} {len(shown)} by {field} ({keys}): {items}{more}."

    def series(self, rows: list[list[Any]]) -> str:
        """One series: its first and last bucket, then its highest and lowest. Several series
        (a grain and dimensions): the highest and lowest rows."""
        metric = self.query.metrics[0]
        name, keys, count = self.key_name(metric), self.key_names(), len(rows)
        if self.query.dimensions:
            return self.counted(keys, count) + self.extremes(rows, metric, name) + ("。" if self.zh else ".")
        at = self.columns.index(self.keys[0])
        first, last = (
            self.item(min(rows, key=lambda r: r[at]), metric),
            self.item(max(rows, key=lambda r: r[at]), metric),
        )
        if self.truncated:  # the last period shown is not the last one: name the rows shown only
            head = self.counted(keys, count) + (f",{name}: 首行 {first}" if self.zh else f", {name}: first {first}")
        elif self.zh:
            head = f"按{keys}共 {count:,} 期,{name}: 首期 {first},末期 {last}"
        else:
            head = f"by {keys} ({count:,} periods), {name}: first {first}, last {last}"
        return head + self.extremes(rows, metric, None) + self.components(rows, at) + ("。" if self.zh else ".")

    def components(self, rows: list[list[Any]], at: int) -> str:
        """What the other metrics (a composite's components) did over the series: first and last bucket."""
        first, last = min(rows, key=lambda r: r[at]), max(rows, key=lambda r: r[at])
        parts = []
        for metric in self.query.metrics[1:]:
            name = self.key_name(metric)
            start, end = self.value(first, metric), self.value(last, metric)
            parts.append(f"{name} 从 {start} 到 {end}" if self.zh else f"{name} from {start} to {end}")
        if not parts:
            return ""
        return ("; 其中" + "、".join(parts)) if self.zh else ("; of which " + ", ".join(parts))

    def breakdown(self, rows: list[list[Any]]) -> str:
        """``按渠道共 5 行。销售额最高的 3 个: 天猫 ¥…、京东 ¥…、抖音 ¥…``; up to three rows: all of them."""
        metric = self.query.metrics[0]
        name, keys, count = self.key_name(metric), self.key_names(), len(rows)
        at = self.columns.index(metric)
        valued = self.valued(rows, metric)
        shown = sorted(valued, key=lambda r: r[at], reverse=True)[:BREAKDOWN_TOP]
        if count <= BREAKDOWN_TOP:
            shown += [r for r in rows if is_missing(self.cell(r, metric))]
        head = self.counted(keys, count)
        if self.zh:
            if not valued:
                return f"{head},{name}均无数据。"
            which = f"{name}最高的 {len(shown)} 个" if count > len(shown) else name
            return f"{head}。{which}: {'、'.join(self.item(r, metric) for r in shown)}。"
        if not valued:
            return f"{head}; no {name} values."
        which = f"highest {name}" if count > len(shown) else name
        return f"{head}. {which[0].upper() + which[1:]}: {'; '.join(self.item(r, metric) for r in shown)}."

    def extremes(self, rows: list[list[Any]], metric: str, name: str | None) -> str:
        """``; 最高 …,最低 …`` over the rows that have a value (``name`` says which metric, if needed)."""
        valued = self.valued(rows, metric)
        if not valued:
            return ""
        at = self.columns.index(metric)
        high, low = (
            self.item(max(valued, key=lambda r: r[at]), metric),
            self.item(min(valued, key=lambda r: r[at]), metric),
        )
        if self.zh:
            return f"; {name or ''}最高 {high},最低 {low}"
        return f"; highest {name + ' ' if name else ''}{high}, lowest {low}"

    def counted(self, keys: str, count: int) -> str:
        """``按品类共 12 行``; of a truncated result, ``按商品(只看已返回的前 10,000 行)``: never a false total."""
        if self.truncated:
            return f"按{keys}(只看已返回的前 {count:,} 行)" if self.zh else f"by {keys} (the first {count:,} rows only)"
        return f"按{keys}共 {count:,} 行" if self.zh else f"by {keys}: {count:,} rows"

    def cut_off(self, shown: int, total: int | None) -> str:
        """Why the text speaks of the rows shown only, how many there are in all, and a coarser cut to ask for."""
        if self.zh:
            size = f"结果共 {total:,} 行," if total is not None else "结果"
            return f"{size}超过行数上限,只返回了前 {shown:,} 行,以上只描述这些行。{self.coarser()}"
        size = f"The result has {total:,} rows" if total is not None else "The result"
        return (
            f"{size}, more than the row limit: only the first {shown:,} rows were returned, "
            f"and the above describes those rows only. {self.coarser()}"
        )

    def coarser(self) -> str:
        """``可以按周汇总、少拆分(商品、门店)或缩短时间范围。``: the next grain up, the breakdowns to drop."""
        options = []
        grains = [g.name for g in self.model.time_dimension.grains]
        if self.query.grain in grains and grains.index(self.query.grain) + 1 < len(grains):
            up = self.key_name(grains[grains.index(self.query.grain) + 1])
            options.append(f"按{up}汇总" if self.zh else f"by {up}")
        if self.query.dimensions:
            dims = join_names([self.key_name(d) for d in self.query.dimensions], self.language)
            options.append(f"少拆分({dims})" if self.zh else f"with fewer breakdowns ({dims})")
        options.append("缩短时间范围" if self.zh else "over a shorter period")
        if self.zh:
            return f"可以{'、'.join(options[:-1]) + '或' if len(options) > 1 else ''}{options[-1]}。"
        return f"Try asking {', '.join(options[:-1]) + ' or ' if len(options) > 1 else ''}{options[-1]}."

    # -- pieces ---------------------------------------------------------------------
    def metric_phrase(self, metric_id: str, row: list[Any]) -> str:
        """``销售额 ¥368.23万,同比 +3.2%(2024年12月 ¥356.70万)``: with compare, current, growth, previous."""
        phrase = f"{self.key_name(metric_id)} {self.value(row, metric_id)}"
        previous = self.compiled.previous_period
        if self.query.compare is None or previous is None:
            return phrase
        word = _COMPARE[self.query.compare][self.language]
        when = format_period(previous.start, previous.end, self.language)
        before_column, growth_column = f"{metric_id}_previous", f"{metric_id}_growth"
        if is_missing(self.cell(row, before_column)):
            return phrase + (f",{when}无数据,无法计算{word}" if self.zh else f" (no data for {when} to compare with)")
        before = self.value(row, before_column)
        if is_missing(self.cell(row, growth_column)):
            return phrase + (f",{word}无法计算({when} {before})" if self.zh else f" ({word} n/a; {when}: {before})")
        growth = self.value(row, growth_column)
        return phrase + (f",{word} {growth}({when} {before})" if self.zh else f" ({growth} {word}; {when}: {before})")

    def item(self, row: list[Any], metric_id: str) -> str:
        """A row's label and value, ``天猫 ¥150.00万``; with compare, its growth in brackets."""
        text = f"{self.row_label(row)} {self.value(row, metric_id)}"
        share = f"{metric_id}_share"
        if self.query.share and share in self.columns and not is_missing(self.cell(row, share)):
            text += f"(占 {self.value(row, share)})" if self.zh else f" ({self.value(row, share)} of total)"
        compare = self.query.compare
        if compare is None or is_missing(self.cell(row, f"{metric_id}_growth")):
            return text
        growth = self.value(row, f"{metric_id}_growth")
        word = _COMPARE[compare][self.language]
        return f"{text}({word} {growth})" if self.zh else f"{text} ({growth} {word})"

    def row_label(self, row: list[Any]) -> str:
        parts = []
        for key in self.keys:
            code = self.cell(row, key)
            if key == self.query.grain:
                parts.append(format_bucket(code, key, self.language))
            else:
                parts.append(_BLANK_MEMBER[self.language] if code is None else self.member(key, str(code)))
        return " / ".join(parts)

    def value(self, row: list[Any], column: str) -> str:
        value = self.cell(row, column)
        if is_missing(value):
            return _NO_VALUE[self.language]
        return format_value(value, column_format(column, self.model), self.language)

    def cell(self, row: list[Any], column: str) -> Any:
        return row[self.columns.index(column)]

    def valued(self, rows: list[list[Any]], metric: str) -> list[list[Any]]:
        return [r for r in rows if not is_missing(self.cell(r, metric))]

    def member(self, dimension: str, code: str) -> str:
        return self.labels(dimension, code, self.language) or code

    def key_name(self, name: str) -> str:
        return display_name(self.model, name, self.language)

    def key_names(self) -> str:
        return join_names([self.key_name(k) for k in self.keys], self.language)
