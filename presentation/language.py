"""The languages an answer is written in, and how a list of names reads in each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Language = Literal["zh", "en"]


def join_names(names: Sequence[str], language: str) -> str:
    """``天猫、京东`` / ``Tmall and JD`` / ``Tmall, JD and Douyin``."""
    if language == "zh" or len(names) < 2:
        return "、".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
