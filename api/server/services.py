"""What every route of the server shares: one Assistant (thread-safe), the server config and the answer store."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.answer_store import AnswerStore
from agent.assistant import Assistant
from api.server.config import ServerConfig


@dataclass
class Services:
    assistant: Assistant
    config: ServerConfig
    #: Answers kept for downloads and feedback; by default beside the conversations (in memory when they are),
    #: kept as long as their turns.
    answers: AnswerStore = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.answers is None:
            store = self.assistant.conversations
            where = ":memory:" if store.path is None else store.path.with_name("answers.sqlite")
            self.answers = AnswerStore(where, max_age_days=store.max_age_days, model=self.assistant.model)
