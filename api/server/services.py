"""What every route of the server shares: one Assistant (thread-safe) and the server config."""

from __future__ import annotations

from dataclasses import dataclass

from agent.assistant import Assistant
from api.server.config import ServerConfig


@dataclass
class Services:
    assistant: Assistant
    config: ServerConfig
