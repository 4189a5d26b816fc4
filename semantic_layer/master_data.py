"""Master data: turn what a user calls a thing into the canonical key the warehouse filters on.

Users say "水润面膜10片装", "面膜10P", "套装", "Tmall", "红书", "三里屯店" or "Shangahi";
the compiler needs `sku_id = 'sku00042'`, `channel = 'tmall'`, `city = '上海'`. A
`MasterData` holds every member of the filterable dimensions with all the names it
goes by (its own names in Chinese and English, ids, aliases from every source system, the
names the model declares, the shortened names its ``index`` rules derive) and answers two questions:

- `resolve(mention)`: exact | ambiguous(candidates) | fuzzy(best, score) | not_found(suggestions).
  An alias that several SKUs share (the finance system's "套装") is *ambiguous*, so the
  caller asks which one instead of guessing.
- `find_mentions(question)`: longest non-overlapping vocabulary matches in free text
  (Chinese has no spaces, so this is dictionary matching, not tokenising).

Pure: built from plain rows (`MemberRows`); `engines/members.py` reads them through the model
from an engine. Which dimensions are indexed, and the rules for the names people use beside the
warehouse's own (a store without its city, a promotion by its event), are the model's (a
dimension's ``index`` in dimensions.yaml). Keys are the values of the dimension's key column.
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
from semantic_layer.semantic_model import MemberIndex

#: A dimension of the model whose members master data indexes (it declares an ``index``).
Kind = str

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


@dataclass(frozen=True)
class DimensionRows:
    """One indexed dimension's members as the loader reads them, with the model's naming rules."""

    kind: Kind
    members: Sequence[tuple] = ()  # key, name, English name (or None), start date (or None)
    index: MemberIndex = field(default_factory=MemberIndex)
    aliases: Sequence[tuple] = ()  # alias, key, source system (or None)
    #: The names the model gives members (its declared members): key -> (name, English name, synonyms...)
    declared: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass
class MemberRows:
    """Every indexed dimension's rows, the model's event names (one tuple per event) and the members
    of the other labelled dimensions (customers, suppliers): dimension -> (key, zh, en)."""

    dimensions: Sequence[DimensionRows] = ()
    events: Sequence[Sequence[str]] = ()
    labelled: Mapping[str, Sequence[tuple[str, ...]]] = field(default_factory=dict)


class MasterData:
    """An index over every name of every member; build once, query many times (thread-safe reads)."""

    def __init__(self, rows: MemberRows) -> None:
        builder = _Builder()
        builder.populate(rows)
        self.labelled: Mapping[str, Sequence[tuple[str, ...]]] = rows.labelled
        #: The indexed dimensions, in the model's order.
        self.kinds: tuple[Kind, ...] = tuple(d.kind for d in rows.dimensions)
        self._prefer = _preferences(rows.dimensions)
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
        state = (self.labelled, self.kinds, self._prefer)
        return _restore, (state, members, list(vias), exact, phrase_columns, lengths)

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
        exact = self._keep(self._exact.get(norm, ()), wanted)
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
        matches = self._phrases.find(text, accept=lambda hits: self._keep(hits, wanted))
        return [Mention(m.start, m.end, m.text, m.values) for m in matches]

    def _keep(self, cands: Sequence[Candidate], wanted: frozenset[Kind] | None) -> tuple[Candidate, ...]:
        """The candidates of the wanted kinds. A code naming members of two dimensions, one of which
        the model prefers (``prefer_over``), means the preferred one."""
        kept = tuple(cands) if wanted is None else tuple(c for c in cands if c.member.kind in wanted)
        for kind, beaten in self._prefer.items():
            codes = {c.member.key for c in kept if c.member.kind == kind}
            if codes:
                kept = tuple(c for c in kept if not (c.member.kind in beaten and c.member.key in codes))
        return kept

    def _fuzzy(
        self, norm: str, wanted: frozenset[Kind] | None, cutoff: float, scorer: Callable[..., float]
    ) -> list[tuple[Candidate, float]]:
        choices = self._choices_for(wanted)
        results = process.extract(norm, choices, scorer=scorer, score_cutoff=cutoff, limit=20)
        scored: list[tuple[Candidate, float]] = []
        for surface, score, _ in results:
            scored.extend((c, float(score)) for c in self._keep(self._exact[surface], wanted))
        return scored

    def _choices_for(self, wanted: frozenset[Kind] | None) -> list[str]:
        """The names fuzzy matching searches: all, or those of the wanted kinds (cached per set)."""
        if wanted is None:
            return self._surfaces
        if wanted not in self._choices:
            self._choices[wanted] = [s for s in self._surfaces if self._keep(self._exact[s], wanted)]
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
    state: tuple[Mapping[str, Sequence[tuple[str, ...]]], tuple[Kind, ...], Mapping[Kind, frozenset[Kind]]],
    members: list[tuple[Any, ...]],
    vias: list[str],
    exact: _Columns,
    phrases: _Columns | None,
    lengths: dict[str, list[int]],
) -> MasterData:
    """A :class:`MasterData` from its compact pickle (``__reduce__``); ``phrases`` None: the same as ``exact``."""
    made = [Member(*row) for row in members]
    data = MasterData.__new__(MasterData)
    data.labelled, data.kinds, data._prefer = state
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
        """Each dimension's own names first (in the model's order), then the names derived from other
        dimensions' (a prefix is any member name of those), then aliases."""
        said: dict[Kind, list[str]] = {}
        for dim in rows.dimensions:
            said[dim.kind] = self.own_names(dim)
        events = [tuple(dict.fromkeys(p for p in phrases if p)) for phrases in rows.events]
        for dim in rows.dimensions:
            prefixes = sorted({p for kind in dim.index.drop_prefix for p in said.get(kind, ())}, key=len, reverse=True)
            if prefixes or dim.index.events:
                for member in self.of_kind(dim.kind):
                    for name in dict.fromkeys(n for n in (member.name, member.name_en) if n):
                        for short in _derived_names(name, dim.index, prefixes, events):
                            self.add(member, short, "short_name")
            for alias, key, source in dim.aliases:
                found = self.members.get((dim.kind, str(key)))
                if found is None or not alias:
                    continue  # an alias of a member the members' table lacks: nothing to resolve it to
                via = f"alias:{source}" if source else "alias"
                self.add(found, alias, via)
                stripped = _BRACKETED.sub("", alias).strip()
                if stripped != alias:
                    self.add(found, stripped, via)

    def own_names(self, dim: DimensionRows) -> list[str]:
        """Index the members' keys, names, forms and declared names; return what the members are
        called (names and declared names), which other dimensions' names may start with."""
        called: list[str] = []
        for key, name, name_en, starts in dim.members:
            member = self.member(dim.kind, str(key), str(name or key), name_en or None, starts)
            called += self.add_names(member, dim.index, name or None, name_en or None, "name")
            self.add(member, str(key), "id")
        for key, (name, name_en, *synonyms) in dim.declared.items():
            known = (dim.kind, key) in self.members  # the data names it already: these are more names
            member = self.member(dim.kind, key, name, name_en)
            called += self.add_names(member, dim.index, name, name_en, "synonym" if known else "name")
            for synonym in synonyms:
                self.add(member, synonym, "synonym")
                called.append(synonym)
            self.add(member, key, "id")
        return called

    def add_names(
        self, member: Member, index: MemberIndex, name: str | None, name_en: str | None, via: str
    ) -> list[str]:
        self.add(member, name, via)
        self.add(member, name_en, "name_en" if via == "name" else via)
        for form in index.forms:
            base = name if _has_cjk(form) else name_en
            if base:
                self.add(member, form.format(base), via)
        if index.plural_en and name_en and not name_en.endswith("s"):
            self.add(member, f"{name_en}s", "name_en")
        return [n for n in (name, name_en) if n]

    def of_kind(self, kind: Kind) -> list[Member]:
        return [m for (k, _), m in self.members.items() if k == kind]


_YEAR_PREFIX = re.compile(r"^(?:20\d\d|\d\d)\s*年?")


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _derived_names(
    name: str, index: MemberIndex, prefixes: Sequence[str], events: Sequence[tuple[str, ...]]
) -> list[str]:
    """ "上海南京路店" -> ["南京路店", "南京路"]; "上海嘉定仓" -> ["嘉定仓", "上海仓", ...];
    "2024天猫双11" -> ["天猫双11", "双11", "双十一", ...]: people drop the city or platform they are
    talking about, and name a promotion by its event (every year's and platform's, a group)."""
    names: list[str] = []
    rest = name
    if index.events:
        rest = _YEAR_PREFIX.sub("", name).strip()
        if rest != name:
            names.append(rest)
    lowered = rest.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix.lower()) and len(rest) > len(prefix) + 1:
            rest = rest[len(prefix) :].strip()
            names.append(rest)
            names += [rest[: -len(s)].strip() for s in index.drop_suffix if rest.endswith(s)]
            names += [f.format(prefix) for f in index.prefix_forms if _has_cjk(f) == _has_cjk(prefix)]
            break
    if index.events:
        names += _event_names(rest, events)
    return [n for n in dict.fromkeys(names) if len(n) >= 2 and n != name]


def _event_names(rest: str, events: Sequence[tuple[str, ...]]) -> list[str]:
    """The event a promotion's name begins with ("618好物节" -> "618"); a promotion that is just the
    event ("双11") also answers to the event's other Chinese names ("双十一", "光棍节")."""
    lowered = rest.lower()
    found = [(p, phrases) for phrases in events for p in phrases if lowered.startswith(p.lower())]
    if not found:
        return []
    phrase, phrases = max(found, key=lambda f: len(f[0]))
    if len(phrase) < len(rest):
        return [rest[: len(phrase)]]
    return [p for p in phrases if _has_cjk(p)]


def _preferences(dimensions: Sequence[DimensionRows]) -> Mapping[Kind, frozenset[Kind]]:
    """Dimension -> the dimensions whose same code it wins over (the model's ``prefer_over``)."""
    return {d.kind: frozenset(d.index.prefer_over) for d in dimensions if d.index.prefer_over}


def _unique(cands: Iterable[Candidate]) -> list[Candidate]:
    seen: set[tuple[str, str]] = set()
    out: list[Candidate] = []
    for c in cands:
        ident = (c.member.kind, c.member.key)
        if ident not in seen:
            seen.add(ident)
            out.append(c)
    return out
