"""What the LLM planner itself says to the user, in the question's language: notes and fixed refusals.

Kept apart from :mod:`agent.messages` (the embedded planner's sentences) so that the two planners
can change their wording independently; both go through the same ``say``-style lookup.
"""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "fallback": {
        "zh": "注意:{reason},本次由内置规划器回答。\n",
        "en": "Note: {reason}, so the embedded planner answered.\n",
    },
    "timeout": {"zh": "LLM 服务响应超时", "en": "the LLM endpoint timed out"},
    "unreachable": {"zh": "无法连接 LLM 服务", "en": "the LLM endpoint could not be reached"},
    "rate_limited": {"zh": "LLM 服务持续限流(HTTP 429)", "en": "the LLM endpoint kept rate-limiting (HTTP 429)"},
    "server_error": {"zh": "LLM 服务出错(HTTP {status})", "en": "the LLM endpoint failed (HTTP {status})"},
    "rejected": {
        "zh": "LLM 服务拒绝了请求(HTTP {status})",
        "en": "the LLM endpoint refused the request (HTTP {status})",
    },
    "failed": {"zh": "LLM 调用失败", "en": "the LLM call failed"},
    "invalid": {
        "zh": "LLM 给出的计划修正后仍未通过校验",
        "en": "the LLM's plan still failed validation after a repair",
    },
    "steps": {"zh": "LLM 未在限定步数内给出计划", "en": "the LLM gave no plan within its step limit"},
    "not_governed": {
        "zh": "注意:以下结果不是治理指标,没有统一口径,由只读 SQL 直接查询得出。",
        "en": "Note: this is not a governed metric: it has no agreed definition and comes from a read-only SQL query. ",
    },
    "sql_rows": {"zh": "共 {rows} 行。", "en": "{rows} row(s)."},
    "sql_truncated": {
        "zh": "结果超过 {limit} 行,只显示前 {limit} 行。",
        "en": " Only the first {limit} rows are shown.",
    },
    "sql_value": {"zh": "结果:{value}。", "en": " Result: {value}."},
    "sql_denied": {
        "zh": "抱歉,您的角色({role})不能使用非治理的 SQL 查询,请按已定义的指标提问。",
        "en": "Sorry, your role ({role}) may not use ungoverned SQL queries; please ask about a defined metric.",
    },
    "tool_denied": {
        "zh": "抱歉,您的角色({role})不能使用这个分析工具:{reason}",
        "en": "Sorry, your role ({role}) may not use this analysis: {reason}",
    },
    "which_one": {"zh": "您指的是哪一个?", "en": "Which one do you mean?"},
    "declined": {
        "zh": "抱歉,这个问题我无法按口径回答。",
        "en": "Sorry, I cannot answer that with the governed definitions.",
    },
}


def say(key: str, language: str, **values: object) -> str:
    return _TEXTS[key][language].format(**values)
