"""``search_members``: a name as people write it -> the member keys filters take, as the caller may see them.

Master data resolves a mention to exact, fuzzy, ambiguous (several members share the name, e.g. an
alias the finance system gives several SKUs) or not found with suggestions. The role's row filters
apply here too: a store manager resolving store names sees their own store only, so master data
never tells them what the other stores are called.
"""

from __future__ import annotations

from typing import Any

from semantic_layer.master_data import Ambiguous, Candidate, Exact, Fuzzy, MasterData, NotFound, Resolution
from semantic_layer.query import Principal
from semantic_layer.semantic_model import Role


def visible(candidates: tuple[Candidate, ...], role: Role, principal: Principal) -> list[Candidate]:
    """The candidates outside the role's row filters, or inside them on the principal's own member."""
    pinned = {f.dimension: getattr(principal, f.principal_attribute) for f in role.row_filters}
    return [c for c in candidates if c.member.kind not in pinned or c.member.key == pinned[c.member.kind]]


def resolution(master: MasterData, mention: str, kinds: list[str] | None, role: Role, principal: Principal) -> dict:
    """The resolution of ``mention`` among ``kinds`` (None: every kind) as JSON, narrowed to what the caller sees."""
    found: Resolution = master.resolve(mention, kinds=kinds)
    if isinstance(found, NotFound):
        return _result(mention, "not_found", [], None, visible(found.suggestions, role, principal))
    candidates: tuple[Candidate, ...]
    if isinstance(found, Exact):
        candidates, score = (found.candidate,), 100.0
    elif isinstance(found, Fuzzy):
        candidates, score = (found.best,), found.score
    else:
        assert isinstance(found, Ambiguous)
        candidates, score = found.candidates, found.score
    shown = visible(candidates, role, principal)
    if not shown:
        return _result(mention, "not_found", [], None, [])
    if len(shown) > 1:
        return _result(mention, "ambiguous", shown, score, [])
    return _result(mention, "exact" if score == 100.0 else "fuzzy", shown, score, [])


def _result(
    mention: str, status: str, candidates: list[Candidate], score: float | None, suggestions: list[Candidate]
) -> dict[str, Any]:
    return {
        "mention": mention,
        "status": status,
        "score": score,
        "candidates": [_candidate(c) for c in candidates],
        "suggestions": [_candidate(c) for c in suggestions],
    }


def _candidate(candidate: Candidate) -> dict[str, Any]:
    """A member as a filter takes it (``dimension`` and ``key``), its names, and the name that matched."""
    member = candidate.member
    return {
        "dimension": member.kind,
        "key": member.key,
        "name": member.name,
        "name_en": member.name_en,
        "matched": candidate.matched,
        "via": candidate.via,
    }
