"""Verified questions: answers a person certified, kept in the model folder and used before planning.

A certified answer's plan is stored with the ways of asking it (``planner/verified.yaml`` beside the
phrase book: the model loader reads only the YAML files directly in the folder). A question whose
normalised text equals a stored phrasing gets that plan, marked with who verified it; the LLM planner
also sees the nearest few as examples. A phrasing is a whole question: one that reads as a follow-up
("那京东呢?") is refused, because what it means depends on the conversation it was asked in.

Plans hold dates, and relative words ("上个月") mean other dates once the data's reference date moves
on. So each entry keeps the reference date it was certified at, and its period moves with the
phrasing's time words (or with the default period when it names none) only when those words read the
certified period on that day; otherwise the match is not used and the planner answers as usual,
rather than answer a period nobody asked for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import fuzz

from agent import cues
from agent.default_period import default_period, last_day
from agent.plan import AttributePlan, QueryPlan, Verification
from agent.time_expressions import find_periods
from semantic_layer.errors import QueryError
from semantic_layer.phrase_index import normalize
from semantic_layer.query import AttributeQuery, MetricQuery, Period, Principal
from semantic_layer.semantic_model import MODEL_DIR, ModelError, Role, SemanticModel
from semantic_layer.validation import check_attribute_query, check_query

log = logging.getLogger("chatbi.verified")

VERIFIED_FILE = "planner/verified.yaml"
#: Who may certify without a grant in the roles file.
ADMIN = "admin"
#: How many verified questions the LLM planner sees as examples, and how alike (rapidfuzz's 0..100
#: ratio of the normalised texts) one must be to count as near.
NEAREST, NEAR_SCORE = 3, 40.0
_HEADER = """\
# Verified questions: answers certified by a person (chatbi verified add, chatbi feedback certify).
# A question whose text equals a phrasing (ignoring case, spaces, punctuation and full/half width)
# gets the plan, and the answer says who verified it. Dates in a plan are as of reference_date; they
# move with the phrasing's relative time words when the data's reference date moves on.
"""

VerifiablePlan = Annotated[QueryPlan | AttributePlan, Field(discriminator="kind")]


class CertifyError(ValueError):
    """An answer that cannot be certified, with a sentence for the user."""


class CertifyDenied(CertifyError):
    """The role may not certify."""


class VerifiedQuestion(BaseModel):
    """One certified plan and the phrasings that ask it; the first phrasing is the canonical one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phrasings: list[str] = Field(min_length=1)
    plan: VerifiablePlan
    verified_by: str = Field(min_length=1)
    verified_at: dt.datetime
    reference_date: dt.date = Field(description="The data's reference date ('today') the plan's dates were read at.")
    note: str | None = None

    @field_validator("phrasings")
    @classmethod
    def _whole_questions(cls, phrasings: list[str]) -> list[str]:
        for text in phrasings:
            if not normalise(text):
                raise ValueError("a phrasing is blank")
            if reads_as_follow_up(text):
                raise ValueError(f"'{text}' reads as a follow-up: a verified phrasing must be a whole question")
        return phrasings

    @property
    def question(self) -> str:
        return self.phrasings[0]


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Any] = Field(default_factory=list)


def normalise(text: str) -> str:
    """The form phrasings are matched in: NFKC (full width -> half), case-folded, no spaces, no
    punctuation except ``%`` and a mark between two digits (2025-01, 1.5)."""
    folded = normalize(text)
    kept = []
    for i, ch in enumerate(folded):
        if ch.isspace():
            continue
        if unicodedata.category(ch).startswith("P") and ch != "%" and not _between_digits(folded, i):
            continue
        kept.append(ch)
    return "".join(kept)


def _between_digits(text: str, i: int) -> bool:
    return 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()


def reads_as_follow_up(text: str) -> bool:
    """Does ``text`` lean on an earlier turn ("那京东呢", "also by month")? Such a wording is no verified phrasing."""
    folded = normalize(text)
    return bool(cues.FOLLOW_UP.search(folded) or cues.ADD_TO_PREVIOUS.search(folded))


def plan_for(entry: VerifiedQuestion, phrasing: str, today: dt.date) -> QueryPlan | AttributePlan | None:
    """The entry's plan for ``phrasing`` asked on ``today``, marked verified; None when its dates cannot be
    read again on ``today`` (see the module docstring)."""
    plan = entry.plan if today == entry.reference_date else _moved(entry.plan, phrasing, entry.reference_date, today)
    if plan is None:
        return None
    stamp = Verification(by=entry.verified_by, at=entry.verified_at, question=entry.question)
    return plan.model_copy(update={"verified": stamp, "note": None})


def _moved(
    plan: QueryPlan | AttributePlan, phrasing: str, then: dt.date, today: dt.date
) -> QueryPlan | AttributePlan | None:
    before, now = find_periods(phrasing, then), find_periods(phrasing, today)
    if isinstance(plan, AttributePlan):  # its dates are conditions: kept only when the words name fixed dates
        return plan if all(m.explicit for m in before) else None
    query = plan.query
    if query.compare_period is not None:
        return None
    period: Period | None
    if len(before) == 1 and len(now) == 1 and before[0].period == query.period:
        period = now[0].period
    elif not before and query.period == default_period(then, query.grain):
        period = default_period(today, query.grain)
    elif not before and query.period == last_day(then):
        period = last_day(today)
    else:
        return None
    if period is None:
        return None
    return plan.model_copy(update={"query": query.model_copy(update={"period": period})})


#: Seconds between two looks at verified.yaml: every question asks for its version (the plan cache's key),
#: and a stat a question is wasted when certifications come minutes apart.
RESTAT_INTERVAL_S = 1.0


class VerifiedQuestions:
    """The verified questions of a model folder, read again when the file changes (a certification made
    while the server runs applies to the questions asked from :data:`RESTAT_INTERVAL_S` on). ``shortcut``
    False: only examples, no match (the verified eval suite asks whether the planner reaches the certified
    answers by itself). ``clock``: monotonic seconds, for the test of the interval."""

    def __init__(
        self, model: SemanticModel, folder: Path | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.model = model
        self._clock = clock
        self._looked_at: float | None = None
        self.path = (folder or model.folder or MODEL_DIR) / VERIFIED_FILE
        self.shortcut = True
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._entries: tuple[VerifiedQuestion, ...] = ()
        self._index: dict[str, tuple[VerifiedQuestion, str]] = {}
        self._refresh(strict=True)

    def entries(self) -> tuple[VerifiedQuestion, ...]:
        self._refresh(strict=False)
        return self._entries

    def state(self) -> str:
        """What a plan depends on here (the file's version, whether matches are used): part of the key a
        planner remembers plans by, so a certification made while the server runs applies at once."""
        self._refresh(strict=False)
        return f"{self._version}:{self.shortcut}"

    def match(self, question: str) -> tuple[VerifiedQuestion, str] | None:
        """The entry and the phrasing ``question`` equals once normalised, if any."""
        self._refresh(strict=False)
        return self._index.get(normalise(question))

    def nearest(self, question: str, limit: int = NEAREST) -> list[tuple[VerifiedQuestion, str]]:
        """The entries most like ``question`` (their closest phrasing each), best first. The entry the
        question is a phrasing of is left out: it is answered by :meth:`match`, and with the shortcut off
        (the verified eval suite) its plan as an example would hand the model the answer."""
        self._refresh(strict=False)
        norm = normalise(question)
        scored: dict[int, tuple[float, VerifiedQuestion, str]] = {}
        for key, (entry, phrasing) in self._index.items():
            if key == norm:
                scored[id(entry)] = (101.0, entry, phrasing)
                continue
            score = fuzz.ratio(norm, key)
            best = scored.get(id(entry))
            if score >= NEAR_SCORE and (best is None or score > best[0]):
                scored[id(entry)] = (score, entry, phrasing)
        ranked = sorted((s for s in scored.values() if s[0] <= 100), key=lambda s: -s[0])
        return [(entry, phrasing) for _, entry, phrasing in ranked[:limit]]

    def _refresh(self, *, strict: bool) -> None:
        """Read the file if it changed. A broken edit fails at start-up (``strict``); while running it is
        logged and the last good version kept, so one bad save does not stop every answer."""
        now = self._clock()
        if not strict and self._looked_at is not None and now - self._looked_at < RESTAT_INTERVAL_S:
            return
        self._looked_at = now
        try:
            stat = self.path.stat()
            version: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            version = None
        if version == self._version:
            return
        with self._lock:
            try:
                entries = read(self.path, self.model) if version is not None else ()
            except ModelError as exc:
                if strict:
                    raise
                log.error("%s; keeping the verified questions read before", exc)
                self._version = version
                return
            self._entries, self._index, self._version = entries, _index(entries), version


def _index(entries: Sequence[VerifiedQuestion]) -> dict[str, tuple[VerifiedQuestion, str]]:
    return {normalise(p): (entry, p) for entry in entries for p in entry.phrasings}


def read(path: Path, model: SemanticModel) -> tuple[VerifiedQuestion, ...]:
    """The entries of ``path``, each validated and its plan checked against ``model``; ModelError naming
    the file and the entry on any problem. A missing file has none."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return ()
    try:
        data = _File.model_validate(_parsed(text) or {})
    except ValidationError as exc:
        raise ModelError(f"{VERIFIED_FILE}: expected a 'questions:' list: {_first_problem(exc)}") from None
    entries: list[VerifiedQuestion] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.questions, start=1):
        first = raw.get("phrasings") if isinstance(raw, dict) else None
        where = f"{VERIFIED_FILE}: question #{number}" + (
            f" ({first[0]!r})" if isinstance(first, list) and first else ""
        )
        try:
            entry = VerifiedQuestion.model_validate(raw)
        except ValidationError as exc:
            raise ModelError(f"{where}: {_first_problem(exc)}") from None
        problem = check_plan(entry.plan, model)
        if problem is not None:
            raise ModelError(f"{where}: {problem}")
        for phrasing in entry.phrasings:
            other = seen.setdefault(normalise(phrasing), number)
            if other != number:
                raise ModelError(f"{where}: phrasing {phrasing!r} is also question #{other}'s")
        entries.append(entry)
    return tuple(entries)


def _parsed(text: bytes) -> Any:
    """The YAML of ``text``, from the disk cache when these bytes were parsed before: a cold start (every
    `chatbi ask`, every server worker) then imports no YAML parser, as for the model and the phrase book."""
    from semantic_layer.disk_cache import cached

    def parse() -> Any:
        import yaml

        try:
            return yaml.safe_load(text.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ModelError(f"{VERIFIED_FILE}: not valid YAML: {_first_problem(exc)}") from None

    return cached("verified-questions", [text], parse)


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc).splitlines()[0]


def check_plan(plan: QueryPlan | AttributePlan, model: SemanticModel) -> str | None:
    """Why ``plan`` does not fit ``model`` (an unknown metric, a cut it cannot take), else None. Checked as
    a role that reads everything: who may see the answer is decided for each asker when it runs."""
    everything = Role(name="verified questions", domains=["*"])
    checking = model.model_copy(update={"roles": {**model.roles, everything.name: everything}})
    principal = Principal(role=everything.name)
    try:
        if isinstance(plan, QueryPlan):
            check_query(plan.query, checking, principal)
        else:
            check_attribute_query(plan.query, checking, principal)
    except QueryError as exc:
        return str(exc)
    return None


def as_plan(
    plan: QueryPlan | AttributePlan | MetricQuery | AttributeQuery | dict[str, Any],
) -> QueryPlan | AttributePlan:
    """A plan to certify from what an answer keeps: a plan, a query, or either as JSON (``Answer.plan``
    holds the query). CertifyError for anything else (a clarification, a refusal, a tool call)."""
    if isinstance(plan, QueryPlan | AttributePlan):
        return plan
    if isinstance(plan, MetricQuery):
        return QueryPlan(query=plan)
    if isinstance(plan, AttributeQuery):
        return AttributePlan(query=plan)
    if isinstance(plan, dict):
        kind = plan.get("kind")
        try:
            if kind == "query":
                return QueryPlan.model_validate(plan)
            if kind == "attributes":
                return AttributePlan.model_validate(plan)
            if kind is None:
                return QueryPlan(query=MetricQuery.model_validate(plan))
        except ValidationError as exc:
            if kind is not None or "dimension" not in plan:
                raise CertifyError(f"not a plan: {_first_problem(exc)}") from None
        if kind is None:
            try:
                return AttributePlan(query=AttributeQuery.model_validate(plan))
            except ValidationError as exc:
                raise CertifyError(f"not a plan: {_first_problem(exc)}") from None
    raise CertifyError("only a metric query or an attribute listing can be certified (not a clarification, "
                       "refusal, SQL fallback or analysis tool answer)")  # fmt: skip


def may_certify(model: SemanticModel, role: str) -> bool:
    declared = model.roles.get(role)
    return role == ADMIN or (declared is not None and declared.certify)


def certify(
    model_dir: Path | str,
    question: str,
    plan: QueryPlan | AttributePlan | MetricQuery | AttributeQuery | dict[str, Any],
    verifier: str,
    role: str,
    *,
    today: dt.date,
    phrasings: Iterable[str] = (),
    note: str | None = None,
    model: SemanticModel | None = None,
    now: dt.datetime | None = None,
) -> VerifiedQuestion:
    """Store ``plan`` as the verified answer to ``question`` (the canonical wording) and ``phrasings``.

    ``today``: the data's reference date the plan's dates were read at (the answer's). Only admin, or a
    role granted ``certify`` in the model's roles, may (:class:`CertifyDenied`). The file is rewritten
    whole, under a lock, to a temporary file renamed over it, so a crash or a second certifier never
    loses an entry. The same plan certified again gains the new phrasings; a phrasing certified with
    another plan moves to it (one phrasing, one answer).
    """
    from semantic_layer.semantic_model import load_model

    folder = Path(model_dir)
    model = model or load_model(folder)
    if not may_certify(model, role):
        raise CertifyDenied(f"role '{role}' may not certify answers (admin may, or a role with certify: true in roles)")
    if not verifier.strip():
        raise CertifyError("say who verifies the answer (a user name)")
    checked = as_plan(plan)
    checked = checked.model_copy(update={"note": None, "verified": None})
    problem = check_plan(checked, model)
    if problem is not None:
        raise CertifyError(f"the plan does not fit the model: {problem}")
    wordings = list({normalise(w): w.strip() for w in reversed([question, *phrasings]) if w.strip()}.values())[::-1]
    stamp = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    path = folder / VERIFIED_FILE
    with _locked(path):
        entries = list(read(path, model))
        try:
            entry, entries = _merged(entries, wordings, checked, verifier.strip(), stamp, today, note)
        except ValidationError as exc:
            raise CertifyError(_first_problem(exc)) from None
        _write(path, entries)
    return entry


def _merged(
    entries: list[VerifiedQuestion],
    wordings: list[str],
    plan: QueryPlan | AttributePlan,
    verifier: str,
    stamp: dt.datetime,
    today: dt.date,
    note: str | None,
) -> tuple[VerifiedQuestion, list[VerifiedQuestion]]:
    taken = {normalise(w) for w in wordings}
    key = _plan_key(plan)
    out: list[VerifiedQuestion | None] = []
    same: int | None = None
    previous: VerifiedQuestion | None = None
    for old in entries:
        if same is None and _plan_key(old.plan) == key:
            same, previous = len(out), old
            out.append(None)
            continue
        rest = [p for p in old.phrasings if normalise(p) not in taken]
        if rest:
            out.append(old if len(rest) == len(old.phrasings) else old.model_copy(update={"phrasings": rest}))
    kept = [p for p in previous.phrasings if normalise(p) not in taken] if previous else []
    entry = VerifiedQuestion(
        phrasings=[*wordings, *kept], plan=plan, verified_by=verifier, verified_at=stamp,
        reference_date=today, note=note if note is not None else previous.note if previous else None,
    )  # fmt: skip
    if same is None:
        out.append(entry)
    else:
        out[same] = entry
    return entry, [e for e in out if e is not None]


def _plan_key(plan: QueryPlan | AttributePlan) -> str:
    return json.dumps(_plan_data(plan), sort_keys=True, ensure_ascii=False)


def _plan_data(plan: QueryPlan | AttributePlan) -> dict[str, Any]:
    return {
        "kind": plan.kind,
        **plan.model_dump(mode="json", exclude_defaults=True, exclude={"kind", "note", "verified"}),
    }


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One certifier at a time per folder (another process's read-modify-write would drop this one's
    entry); the folder itself is locked, so no lock file is left in the model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # closing releases the lock


def _write(path: Path, entries: Sequence[VerifiedQuestion]) -> None:
    import yaml

    data = {
        "questions": [
            {
                "phrasings": list(e.phrasings),
                "plan": _plan_data(e.plan),
                "verified_by": e.verified_by,
                "verified_at": e.verified_at.isoformat(),
                "reference_date": e.reference_date.isoformat(),
                **({"note": e.note} if e.note else {}),
            }
            for e in entries
        ]
    }
    text = _HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".verified-", suffix=".yaml")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
