"""Master data: turn what a user calls a thing into the canonical key the warehouse filters on.

Users say "水润面膜10片装", "面膜10P", "套装", "Tmall", "红书", "三里屯店" or "Shangahi";
the compiler needs `sku_id = 'sku00042'`, `channel = 'tmall'`, `city = '上海'`. A
`MasterData` holds every member of the filterable dimensions with all the names it
goes by (its own names in Chinese and English, ids, aliases from every source system,
built-in channel synonyms, synonyms from the model) and answers two questions:

- `resolve(mention)`: exact | ambiguous(candidates) | fuzzy(best, score) | not_found(suggestions).
  An alias that several SKUs share (the finance system's "套装") is *ambiguous*, so the
  caller asks which one instead of guessing.
- `find_mentions(question)`: longest non-overlapping vocabulary matches in free text
  (Chinese has no spaces, so this is dictionary matching, not tokenising).

Pure: built from plain rows (`MemberRows`); `engines/members.py` reads them from an engine.
Keys are the values of the dimension columns: sku_id, store_id, warehouse_id, the channel
and channel_type codes, and the Chinese city / region / category / brand values.
"""

from __future__ import annotations

import datetime as dt
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz, process

from semantic_layer.phrase_index import PhraseIndex, normalize

Kind = Literal[
    "sku", "store", "city", "region", "category", "brand", "channel", "channel_type", "warehouse", "promotion"
]
KINDS: tuple[Kind, ...] = (
    "sku",
    "store",
    "city",
    "region",
    "category",
    "brand",
    "channel",
    "channel_type",
    "warehouse",
    "promotion",
)

# Names of the channel codes of DATA_CONTRACT.md. "offline" names both the channel and the
# channel type; `_filter` resolves it to the channel unless only channel types are wanted.
CHANNEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "tmall": ("天猫", "Tmall", "淘宝", "Taobao", "天猫商城", "淘宝天猫"),
    "jd": ("京东", "JD", "JD.com", "Jingdong", "京东商城"),
    "douyin": ("抖音", "Douyin", "TikTok", "抖店", "抖音电商"),
    "xiaohongshu": ("小红书", "红书", "RED", "Xiaohongshu", "XHS"),
    "offline": ("线下门店", "门店", "实体店", "stores", "offline stores", "physical stores"),
}
CHANNEL_NAMES: dict[str, tuple[str, str]] = {
    "tmall": ("天猫", "Tmall"),
    "jd": ("京东", "JD"),
    "douyin": ("抖音", "Douyin"),
    "xiaohongshu": ("小红书", "Xiaohongshu"),
    "offline": ("线下门店", "Offline stores"),
}
CHANNEL_TYPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "online": ("线上", "电商", "线上渠道", "online channels"),
    "offline": ("线下", "线下渠道", "offline channels"),
}
CHANNEL_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "online": ("线上", "Online"),
    "offline": ("线下", "Offline"),
}

# Fuzzy matching (rapidfuzz Indel ratio, 0-100). Measured on the case demo (6,000 SKUs,
# ~35,000 names) with one random edit per name: at 80, 94% resolve to the right member, 6% to
# an ambiguous set containing it, 0.1% to a wrong one; 90 misses 3%, 70 starts matching
# phrases such as "by store". Mentions under 4 characters are too short to guess.
# tests/test_master_data.py::test_fuzzy_accuracy_on_the_demo keeps this true.
FUZZY_CUTOFF = 80.0
FUZZY_MIN_LENGTH = 4
FUZZY_TIE_MARGIN = 1.0  # candidates this close to the best are a tie -> ambiguous
SUGGESTION_CUTOFF = 50.0
MAX_SUGGESTIONS = 5

_BRACKETED = re.compile(r"[【\[(（][^】\])）]*[】\])）]")


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a dimension. `key` is the value its dimension column holds."""

    kind: Kind
    key: str
    name: str
    name_en: str | None = None
    starts: dt.date | None = None  # promotions: the start date, to pick "去年双11" among the years

    def __reduce__(self) -> tuple[type[Member], tuple[Any, ...]]:
        """Pickled as its constructor call: twice as fast to load as the slots state (the disk cache)."""
        return (Member, (self.kind, self.key, self.name, self.name_en, self.starts))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member and the name that matched it; `via` says where that name comes from."""

    member: Member
    matched: str
    via: str  # "name", "name_en", "id", "alias:<source_system>", "synonym", "short_name"

    def __reduce__(self) -> tuple[type[Candidate], tuple[Any, ...]]:
        return (Candidate, (self.member, self.matched, self.via))


@dataclass(frozen=True, slots=True)
class Exact:
    candidate: Candidate
    status: Literal["exact"] = "exact"


@dataclass(frozen=True, slots=True)
class Ambiguous:
    candidates: tuple[Candidate, ...]
    score: float = 100.0  # 100 for a shared exact name, lower for a fuzzy tie
    status: Literal["ambiguous"] = "ambiguous"


@dataclass(frozen=True, slots=True)
class Fuzzy:
    best: Candidate
    score: float
    status: Literal["fuzzy"] = "fuzzy"


@dataclass(frozen=True, slots=True)
class NotFound:
    suggestions: tuple[Candidate, ...]
    status: Literal["not_found"] = "not_found"


Resolution = Exact | Ambiguous | Fuzzy | NotFound


@dataclass(frozen=True, slots=True)
class Mention:
    """A vocabulary match in a question: `text[start:end]` of the original question."""

    start: int
    end: int
    text: str
    candidates: tuple[Candidate, ...]

    @property
    def ambiguous(self) -> bool:
        return len({(c.member.kind, c.member.key) for c in self.candidates}) > 1


@dataclass
class MemberRows:
    """Rows of the dimension tables, as the loader reads them (column order in comments)."""

    skus: Sequence[tuple] = ()  # sku_id, sku_name, sku_name_en, category, category_en, brand, brand_en
    aliases: Sequence[tuple] = ()  # alias, sku_id, source_system
    stores: Sequence[tuple] = ()  # store_id, store_name, store_name_en, channel, channel_type,
    #                               city, city_en, region, region_en
    warehouses: Sequence[tuple] = ()  # warehouse_id, warehouse_name, warehouse_name_en, city
    promotions: Sequence[tuple] = ()  # promo_id, promo_name, start_date
    extra_synonyms: Mapping[tuple[Kind, str], Iterable[str]] = field(default_factory=dict)
    #: Members of the model's other labelled dimensions (customers, suppliers): dimension -> (key, zh, en)
    labelled: Mapping[str, Sequence[tuple[str, ...]]] = field(default_factory=dict)


class MasterData:
    """An index over every name of every member; build once, query many times (thread-safe reads)."""

    def __init__(self, rows: MemberRows) -> None:
        builder = _Builder()
        builder.populate(rows)
        self.labelled: Mapping[str, Sequence[tuple[str, ...]]] = rows.labelled
        self._members = builder.members
        self._exact: Mapping[str, tuple[Candidate, ...]] = {k: tuple(v) for k, v in builder.index.items()}
        self._surfaces: list[str] = list(self._exact)
        self._choices: dict[frozenset[Kind], list[str]] = {}
        self._phrases: PhraseIndex[Candidate] = PhraseIndex()
        for surface, candidates in self._exact.items():
            for candidate in candidates:
                self._phrases.add(surface, candidate)

    def __reduce__(self) -> tuple[Callable[..., MasterData], tuple[Any, ...]]:
        """Pickled compactly (the disk cache): members as rows, and the candidates of every name as
        columns (member numbers, matched names, sources), made into Candidates when the name is first
        looked up. A question looks up a few of the 35,000 names, so a new process no longer builds
        them all (loading took 0.15 s of `chatbi ask`, now a fifth of that)."""
        numbers = {key: i for i, key in enumerate(self._members)}
        vias: dict[str, int] = {}
        members = [(m.kind, m.key, m.name, m.name_en, m.starts) for m in self._members.values()]
        phrases, lengths = self._phrases.entries()
        # The phrase index holds the same names and candidates (names are normalised already): kept once.
        same = phrases.keys() == self._exact.keys() and all(
            tuple(found) == self._exact[phrase] for phrase, found in phrases.items()
        )
        exact = _columns(self._exact, numbers, vias)
        phrase_columns = None if same else _columns(phrases, numbers, vias)
        return _restore, (self.labelled, members, list(vias), exact, phrase_columns, lengths)

    @property
    def size(self) -> int:
        """Number of distinct names indexed."""
        return len(self._surfaces)

    def members(self, kind: Kind) -> list[Member]:
        return [m for (k, _), m in self._members.items() if k == kind]

    def member(self, kind: Kind, key: str) -> Member | None:
        return self._members.get((kind, key))

    def resolve(self, mention: str, *, kinds: Iterable[Kind] | None = None) -> Resolution:
        """Resolve one mention, optionally only among `kinds` (e.g. {"sku"})."""
        wanted = frozenset(kinds) if kinds is not None else None
        norm = normalize(mention)
        exact = _filter(self._exact.get(norm, ()), wanted)
        if exact:
            if len(_unique(exact)) == 1:
                return Exact(exact[0])
            return Ambiguous(exact)
        if len(norm) >= FUZZY_MIN_LENGTH:
            scored = self._fuzzy(norm, wanted, FUZZY_CUTOFF, fuzz.ratio)
            if scored:
                best_score = scored[0][1]
                tied = _unique(c for c, s in scored if best_score - s <= FUZZY_TIE_MARGIN)
                if len(tied) == 1:
                    return Fuzzy(tied[0], round(best_score, 1))
                return Ambiguous(tuple(tied), round(best_score, 1))
        if not norm:
            return NotFound(())
        suggestions = self._fuzzy(norm, wanted, SUGGESTION_CUTOFF, fuzz.ratio)
        return NotFound(tuple(_unique(c for c, _ in suggestions)[:MAX_SUGGESTIONS]))

    def find_mentions(self, text: str, *, kinds: Iterable[Kind] | None = None) -> list[Mention]:
        """Longest non-overlapping exact (normalised) matches in `text`, in reading order.

        ASCII names only match whole words ("jd" not inside "jdx"); Chinese names match anywhere.
        """
        wanted = frozenset(kinds) if kinds is not None else None
        matches = self._phrases.find(text, accept=lambda hits: _filter(hits, wanted))
        return [Mention(m.start, m.end, m.text, m.values) for m in matches]

    def _fuzzy(
        self, norm: str, wanted: frozenset[Kind] | None, cutoff: float, scorer: Callable[..., float]
    ) -> list[tuple[Candidate, float]]:
        choices = self._choices_for(wanted)
        results = process.extract(norm, choices, scorer=scorer, score_cutoff=cutoff, limit=20)
        scored: list[tuple[Candidate, float]] = []
        for surface, score, _ in results:
            scored.extend((c, float(score)) for c in _filter(self._exact[surface], wanted))
        return scored

    def _choices_for(self, wanted: frozenset[Kind] | None) -> list[str]:
        """The names fuzzy matching searches: all, or those of the wanted kinds (cached per set)."""
        if wanted is None:
            return self._surfaces
        if wanted not in self._choices:
            self._choices[wanted] = [s for s in self._surfaces if _filter(self._exact[s], wanted)]
        return self._choices[wanted]


#: A name index as columns: the names; where each name's candidates start (and the last ends), as
#: array("I") bytes; per candidate its member's number (array("I")), the name it matched ("" for the
#: indexed name itself) and its source's number (array("H")).
_Columns = tuple[list[str], bytes, bytes, list[str], bytes]


def _columns(
    index: Mapping[str, Sequence[Candidate]], numbers: dict[tuple[Kind, str], int], vias: dict[str, int]
) -> _Columns:
    names: list[str] = []
    starts, members, sources, matched = array("I", [0]), array("I"), array("H"), []
    for name, candidates in index.items():
        names.append(name)
        for c in candidates:
            members.append(numbers[(c.member.kind, c.member.key)])
            matched.append("" if c.matched == name else c.matched)
            sources.append(vias.setdefault(c.via, len(vias)))
        starts.append(len(matched))
    return names, starts.tobytes(), members.tobytes(), matched, sources.tobytes()


def _restore(
    labelled: Mapping[str, Sequence[tuple[str, ...]]],
    members: list[tuple[Any, ...]],
    vias: list[str],
    exact: _Columns,
    phrases: _Columns | None,
    lengths: dict[str, list[int]],
) -> MasterData:
    """A :class:`MasterData` from its compact pickle (``__reduce__``); ``phrases`` None: the same as ``exact``."""
    made = [Member(*row) for row in members]
    data = MasterData.__new__(MasterData)
    data.labelled = labelled
    data._members = {(m.kind, m.key): m for m in made}
    data._exact = _Candidates(made, vias, exact)
    data._surfaces = list(exact[0])
    data._choices = {}
    data._phrases = PhraseIndex.of(data._exact if phrases is None else _Candidates(made, vias, phrases), lengths)
    return data


class _Candidates(Mapping[str, tuple[Candidate, ...]]):
    """Name -> candidates, each name's made from the columns when it is first looked up."""

    __slots__ = ("_members", "_vias", "_names", "_at", "_starts", "_numbers", "_matched", "_sources", "_made")

    def __init__(self, members: list[Member], vias: list[str], columns: _Columns) -> None:
        names, starts, numbers, matched, sources = columns
        self._members = members
        self._vias = vias
        self._names = names
        self._at = dict(zip(names, range(len(names)), strict=True))
        self._starts, self._numbers, self._sources = array("I"), array("I"), array("H")
        self._starts.frombytes(starts)
        self._numbers.frombytes(numbers)
        self._sources.frombytes(sources)
        self._matched = matched
        self._made: dict[str, tuple[Candidate, ...]] = {}

    def __getitem__(self, name: str) -> tuple[Candidate, ...]:
        made = self._made.get(name)
        if made is None:  # two threads may both make it: the same value, and either is kept
            at = self._at[name]
            made = tuple(
                Candidate(self._members[self._numbers[k]], self._matched[k] or name, self._vias[self._sources[k]])
                for k in range(self._starts[at], self._starts[at + 1])
            )
            self._made[name] = made
        return made

    def get(self, name: str, default: Any = None) -> Any:
        made = self._made.get(name)
        if made is not None:
            return made
        return self[name] if name in self._at else default

    def __contains__(self, name: object) -> bool:
        return name in self._at

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _Builder:
    """Collects members and their names; the order of adds decides which name a candidate shows."""

    def __init__(self) -> None:
        self.members: dict[tuple[Kind, str], Member] = {}
        self.index: dict[str, list[Candidate]] = {}

    def member(
        self, kind: Kind, key: str, name: str, name_en: str | None = None, starts: dt.date | None = None
    ) -> Member:
        if (kind, key) not in self.members:
            self.members[(kind, key)] = Member(kind, key, name, name_en, starts)
        return self.members[(kind, key)]

    def add(self, member: Member, surface: str | None, via: str) -> None:
        norm = normalize(surface) if surface else ""
        if not norm:
            return
        bucket = self.index.setdefault(norm, [])
        if not any(c.member == member for c in bucket):
            bucket.append(Candidate(member, surface or norm, via))

    def populate(self, rows: MemberRows) -> None:
        for sku_id, name, name_en, category, category_en, brand, brand_en in rows.skus:
            sku = self.member("sku", sku_id, name, name_en)
            self.add(sku, name, "name")
            self.add(sku, name_en, "name_en")
            self.add(sku, sku_id, "id")
            cat = self.member("category", category, category, category_en)
            self.add(cat, category, "name")
            self.add(cat, category_en, "name_en")
            self.add(cat, _plural(category_en), "name_en")
            br = self.member("brand", brand, brand, brand_en)
            self.add(br, brand, "name")
            self.add(br, brand_en, "name_en")
        for alias, sku_id, source in rows.aliases:
            sku_member = self.members.get(("sku", sku_id))
            if sku_member is None:
                continue  # an alias of a SKU that is not in dim_sku: nothing to resolve it to
            self.add(sku_member, alias, f"alias:{source}")
            stripped = _BRACKETED.sub("", alias).strip()
            if stripped != alias:
                self.add(sku_member, stripped, f"alias:{source}")
        for store_id, name, name_en, channel, channel_type, city, city_en, region, region_en in rows.stores:
            store = self.member("store", store_id, name, name_en)
            self.add(store, name, "name")
            self.add(store, name_en, "name_en")
            self.add(store, store_id, "id")
            for short in _short_names(name, city, ("店",)) + _short_names(name_en, city_en, (" store",)):
                self.add(store, short, "short_name")
            self.add_city(city, city_en)
            reg = self.member("region", region, region, region_en)
            for surface in (region, region_en, f"{region}地区", f"{region}区"):
                self.add(reg, surface, "name")
            self.add_code("channel", channel, CHANNEL_NAMES, CHANNEL_SYNONYMS)
            self.add_code("channel_type", channel_type, CHANNEL_TYPE_NAMES, CHANNEL_TYPE_SYNONYMS)
        for warehouse_id, name, name_en, city in rows.warehouses:
            wh = self.member("warehouse", warehouse_id, name, name_en)
            self.add(wh, name, "name")
            self.add(wh, name_en, "name_en")
            self.add(wh, warehouse_id, "id")
            for short in _short_names(name, city, ()):
                self.add(wh, short, "short_name")
            for short in (f"{city}仓", f"{city}仓库", f"{city}的仓库"):  # one warehouse per city
                self.add(wh, short, "short_name")
            if name_en:
                city_en = name_en.split()[0]
                for short in (f"{city_en} warehouse", f"{city_en} DC"):
                    self.add(wh, short, "short_name")
            self.add_city(city, None)
        for promo_id, name, starts in rows.promotions:
            promo = self.member("promotion", promo_id, name, name, starts)
            self.add(promo, name, "name")
            self.add(promo, promo_id, "id")
            for short in _event_names(name):
                self.add(promo, short, "short_name")
        for (kind, key), synonyms in rows.extra_synonyms.items():
            member = self.members.get((kind, key))
            if member is not None:
                for synonym in synonyms:
                    self.add(member, synonym, "synonym")

    def add_city(self, city: str, city_en: str | None) -> None:
        member = self.member("city", city, city, city_en)
        self.add(member, city, "name")
        self.add(member, f"{city}市", "name")
        self.add(member, city_en, "name_en")

    def add_code(
        self,
        kind: Kind,
        code: str,
        names: Mapping[str, tuple[str, str]],
        synonyms: Mapping[str, tuple[str, ...]],
    ) -> None:
        name, name_en = names.get(code, (code, code))
        member = self.member(kind, code, name, name_en)
        self.add(member, name, "name")
        self.add(member, name_en, "name_en")
        for synonym in synonyms.get(code, ()):
            self.add(member, synonym, "synonym")
        self.add(member, code, "id")


def _short_names(name: str | None, city: str | None, suffixes: tuple[str, ...]) -> list[str]:
    """ "上海南京路店" -> ["南京路店", "南京路"], "广州白云仓" -> ["白云仓"]: people drop the city they
    are talking about, and for stores the word 店 too."""
    if not name or not city or not name.startswith(city):
        return []
    rest = name[len(city) :].strip()
    shorts = [rest]
    for suffix in suffixes:
        if rest.endswith(suffix):
            shorts.append(rest[: -len(suffix)].strip())
    return [s for s in shorts if len(s) >= 2]


_YEAR_PREFIX = re.compile(r"^(?:20\d\d|\d\d)\s*年?")
_CHANNEL_WORDS = tuple(
    sorted({w for names in CHANNEL_SYNONYMS.values() for w in names if not w.isascii()}, key=len, reverse=True)
)
_EVENT_PREFIX = re.compile(r"^(?:\d{3,4}|双\d{1,2}|双十[一二])")
_EVENT_NUMERALS = {"双11": "双十一", "双12": "双十二", "双十一": "双11", "双十二": "双12"}


def _event_names(name: str) -> list[str]:
    """ "2024天猫双11" -> ["天猫双11", "双11", "双十一"]: people name a promotion by its event, and
    every year's and every platform's promotion of that event answers to it (a group, not a typo)."""
    names: list[str] = []
    rest = _YEAR_PREFIX.sub("", name).strip()
    if rest != name:
        names.append(rest)
    for word in _CHANNEL_WORDS:
        if rest.startswith(word) and len(rest) > len(word) + 1:
            rest = rest[len(word) :].strip()
            names.append(rest)
            break
    event = _EVENT_PREFIX.match(rest)
    if event and event.group(0) != rest:  # "618好物节" is a 618 promotion too
        names.append(event.group(0))
    for short, other in _EVENT_NUMERALS.items():
        if short in rest:
            names.append(rest.replace(short, other))
    return [n for n in dict.fromkeys(names) if len(n) >= 2]


def _plural(name_en: str | None) -> str | None:
    if not name_en or name_en.endswith("s"):
        return None
    return f"{name_en}s"


def _filter(cands: Sequence[Candidate], wanted: frozenset[Kind] | None) -> tuple[Candidate, ...]:
    """The candidates of the wanted kinds. A code that names both a channel and a channel type
    ("offline") means the channel: it selects the same or fewer rows, so asking would be noise."""
    kept = tuple(cands) if wanted is None else tuple(c for c in cands if c.member.kind in wanted)
    channels = {c.member.key for c in kept if c.member.kind == "channel"}
    if channels:
        kept = tuple(c for c in kept if not (c.member.kind == "channel_type" and c.member.key in channels))
    return kept


def _unique(cands: Iterable[Candidate]) -> list[Candidate]:
    seen: set[tuple[str, str]] = set()
    out: list[Candidate] = []
    for c in cands:
        ident = (c.member.kind, c.member.key)
        if ident not in seen:
            seen.add(ident)
            out.append(c)
    return out
