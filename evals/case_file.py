"""The eval case files (``evals/cases/*.yaml``, format in ``evals/cases/FORMAT.md``) and their loader.

Case files are written by hand and by several people, so the loader is strict: an unknown
key, a missing gold SQL or a duplicated id is an error naming the file and the family, not
a case that silently scores zero (or one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CATEGORIES = (
    "lookup", "breakdown", "ranking", "time", "comparison", "follow-up",
    "master data", "clarification", "refusal", "injection", "permission", "analysis",
    "stock", "share", "event", "calendar", "attribute", "typo", "distributive", "scope",
    "coverage", "components", "verified",
)  # fmt: skip
LANGUAGES = ("zh", "en", "mixed")
#: The embedded suite: every case file shipped with the project.
CASES_DIR = Path(__file__).parent / "cases"

Category = Literal[
    "lookup", "breakdown", "ranking", "time", "comparison", "follow-up",
    "master data", "clarification", "refusal", "injection", "permission", "analysis",
    "stock", "share", "event", "calendar", "attribute", "typo", "distributive", "scope",
    "coverage", "components", "verified",
]  # fmt: skip
NonAnswer = Literal["clarification", "refusal"]
#: How a list of acceptable statuses is written in reports (``clarification|refusal``).
STATUS_SEPARATOR = "|"
Lang = Literal["zh", "en", "mixed"]
_GRAINS = ("day", "week", "month", "quarter", "year")


class CaseFileError(ValueError):
    """A case file that cannot be used, with a message naming the file (and family)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedFilter(_Strict):
    dimension: str
    members: list[str] = Field(min_length=1)
    exclude: bool = False


class ExpectedPeriod(_Strict):
    start: dt.date
    end: dt.date


class ExpectedOrder(_Strict):
    field: str
    descending: bool = True


class PlanExpectation(_Strict):
    """A partial MetricQuery: only the keys a case gives are compared with the executed plan."""

    metrics: list[str] | None = None
    dimensions: list[str] | None = None
    grain: Literal["day", "week", "month", "quarter", "year"] | None = None
    filters: list[ExpectedFilter] | None = None
    period: ExpectedPeriod | None = None
    compare: Literal["yoy", "pop"] | None = None
    order_by: ExpectedOrder | None = None
    limit: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _grain_from_dimensions(cls, data: Any) -> Any:
        """``dimensions: [month, channel]`` means grain month (as MetricQuery reads it)."""
        if isinstance(data, dict) and isinstance(data.get("dimensions"), list):
            grains = [d for d in data["dimensions"] if d in _GRAINS or d == "date"]
            if len(grains) == 1 and "grain" not in data:
                data = {**data, "grain": "day" if grains[0] == "date" else grains[0]}
                data["dimensions"] = [d for d in data["dimensions"] if d not in grains]
        return data

    def given(self) -> dict[str, Any]:
        """The keys the case wrote, as JSON values (dates as ISO strings)."""
        return self.model_dump(mode="json", include=set(self.model_fields_set))


class ToolExpectation(_Strict):
    """An analysis tool the answer must come from: its name, the arguments the case gives (the
    others are free), and columns its table must have."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    columns_include: list[str] = Field(default_factory=list)


class Expect(_Strict):
    """What every case of a family must produce. ``status`` may list several non-answers when
    either is right (a word the model does not know: ask back when it has candidates, else
    refuse); ``options_include`` then applies to a clarification only."""

    status: Literal["answer", "clarification", "refusal"] | list[NonAnswer]
    plan: PlanExpectation | None = None
    tool: ToolExpectation | None = None
    sql: str | None = None
    order_matters: bool = False
    options_include: list[str] | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _list_of_non_answers(cls, value: Any) -> Any:
        """One clear message instead of pydantic's two (one per member of the union)."""
        if isinstance(value, list) and not all(v in ("clarification", "refusal") for v in value):
            raise ValueError(f"a status list holds only clarification and refusal, got {value}")
        return value

    @property
    def statuses(self) -> tuple[str, ...]:
        """The acceptable statuses, in the order written."""
        return (self.status,) if isinstance(self.status, str) else tuple(self.status)

    @property
    def label(self) -> str:
        """The expectation as reports show it: ``answer``, ``refusal``, ``clarification|refusal``."""
        return STATUS_SEPARATOR.join(self.statuses)

    @model_validator(mode="after")
    def _fits_status(self) -> Expect:
        if isinstance(self.status, list) and (not self.status or len(set(self.status)) != len(self.status)):
            raise ValueError("a status list names each acceptable status once, at least one")
        if self.status == "answer" and not (self.sql or "").strip() and self.tool is None:
            raise ValueError("status answer needs sql (or a tool)")
        if self.tool is not None and self.plan is not None:
            raise ValueError("give plan (a MetricQuery) or tool, not both")
        if self.status == "clarification" and not self.options_include:
            raise ValueError("status clarification needs options_include")
        if self.status != "answer":
            extra = [k for k in ("sql", "plan", "tool") if getattr(self, k) is not None]
            extra += ["order_matters"] if self.order_matters else []
            if extra:
                raise ValueError(f"status {self.label} takes no {', '.join(extra)}")
        if "clarification" not in self.statuses and self.options_include is not None:
            raise ValueError("options_include is for status clarification only")
        return self


class Case(_Strict):
    """One way of asking: a question ``q``, or a conversation ``turns`` scored on its last answer."""

    q: str | None = None
    turns: list[str] | None = Field(None, min_length=1)
    lang: Lang

    @model_validator(mode="after")
    def _one_question_form(self) -> Case:
        if (self.q is None) == (self.turns is None):
            raise ValueError("give exactly one of q and turns")
        if not all(text.strip() for text in self.questions):
            raise ValueError("questions must not be blank")
        return self

    @property
    def questions(self) -> list[str]:
        return [self.q] if self.q is not None else list(self.turns or [])


class Family(_Strict):
    """One intent asked several ways; all its cases share one expectation."""

    id: str = Field(pattern=r"^\S+$")
    category: Category
    today: dt.date | None = None
    role: Literal["admin", "finance", "marketing", "store_manager"] = "admin"
    store: str | None = None
    expect: Expect
    cases: list[Case] = Field(min_length=1)

    @field_validator("today", mode="before")
    @classmethod
    def _no_datetime(cls, value: Any) -> Any:
        return value.date() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True)
class EvalCase:
    """One case to run: ``<family id>#<n>`` (1-based), with its family and the file it came from."""

    id: str
    family: Family
    case: Case
    source: Path


@dataclass(frozen=True)
class Suite:
    name: str
    files: list[Path]
    families: list[Family]
    sources: dict[str, Path]

    def cases(self) -> list[EvalCase]:
        return [
            EvalCase(f"{family.id}#{n}", family, case, self.sources[family.id])
            for family in self.families
            for n, case in enumerate(family.cases, start=1)
        ]


def load_file(path: Path) -> list[Family]:
    """The families of one YAML file; CaseFileError naming the file and family on any problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CaseFileError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict) or set(data) != {"families"} or not isinstance(data["families"], list):
        raise CaseFileError(f"{path}: the file must hold exactly one key, 'families:', a list")
    families = []
    for index, item in enumerate(data["families"]):
        name = item.get("id") if isinstance(item, dict) else None
        where = f"family '{name}'" if name else f"family #{index + 1}"
        try:
            families.append(Family.model_validate(item))
        except ValidationError as exc:
            raise CaseFileError(f"{path}: {where}: {_validation_problem(exc)}") from None
    if not families:
        raise CaseFileError(f"{path}: no families")
    return families


def load_suite(source: Path, name: str | None = None) -> Suite:
    """All families of a YAML file or of every ``*.yaml``/``*.yml`` file in a folder; ids unique across files."""
    if source.is_dir():
        files = sorted([*source.glob("*.yaml"), *source.glob("*.yml")])
        if not files:
            raise CaseFileError(f"{source}: no case files (*.yaml) in this folder")
    elif source.is_file():
        files = [source]
    else:
        raise CaseFileError(f"{source}: no such case file or folder")
    families: list[Family] = []
    sources: dict[str, Path] = {}
    for path in files:
        for family in load_file(path):
            if family.id in sources:
                raise CaseFileError(f"{path}: family '{family.id}': id already used in {sources[family.id]}")
            sources[family.id] = path
            families.append(family)
    return Suite(name or source.stem, files, families, sources)


def resolve_suite(name: str) -> Path:
    """``embedded`` (the case files of evals/cases/), a case file's or sub-folder's name there (``lookup``,
    ``understanding``), or a path to a file or folder."""
    if name == "embedded":
        return CASES_DIR
    if Path(name).exists():
        return Path(name)
    if (CASES_DIR / f"{name}.yaml").is_file():
        return CASES_DIR / f"{name}.yaml"
    if (CASES_DIR / name).is_dir():
        return CASES_DIR / name
    raise CaseFileError(
        f"unknown suite '{name}': give embedded, the name of a file in {CASES_DIR}, or a path to a .yaml file or folder"
    )


def _validation_problem(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    more = len(exc.errors()) - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1})" if mark is not None else problem
