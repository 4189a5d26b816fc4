"""What both bots share: who a chat user is allowed to be, asking as them, and answering a message once.

A chat platform delivers at least once (Slack retries, DingTalk redelivers), one user message
can arrive as two events (a mention is also a message), and a deployment may run several
workers: :data:`ANSWERED_TTL_S` is how long the deployment's shared state
(:mod:`api.shared_state`) remembers a message as answered, so nobody gets the same answer twice.
"""

from __future__ import annotations

import logging

from agent.answer import Answer
from agent.answer_store import Asker, Rating
from agent.conversation_store import StoreUnavailable
from api.server.answers import download_url, keep_answer
from api.server.config import ServerConfig, User
from api.server.errors import ApiError
from api.server.services import Services
from semantic_layer.query import Principal

log = logging.getLogger(__name__)

#: Said to a chat user the server config does not know: no data, and who can help.
NO_ACCESS = (
    "抱歉，你还没有 chatbi 的访问权限，请联系管理员为你开通。\n"
    "Sorry, you don't have access to chatbi yet: please ask your administrator to add you."
)
#: Said when a message has no question in it (a bare mention, a picture).
ASK_IN_TEXT = "请用文字提问，例如「上个月各渠道的销售额」。\nAsk me in words, for example “GMV by channel last month”."
#: Said when answering failed unexpectedly (the details go to the server log, not to the chat).
FAILED = "抱歉，回答这个问题时出错了，请稍后再试。\nSorry, something went wrong answering that; please try again."
#: Said when the conversation's earlier turns cannot be read right now (the store is locked or broken).
NO_CONTEXT = (
    "抱歉，暂时读不到这段对话的上下文，请稍后再试。\n"
    "Sorry, this conversation's earlier turns cannot be read right now; please try again shortly."
)
#: Said after a thumbs up or down was kept, and when its answer is unknown, expired or someone else's.
FEEDBACK_THANKS = "谢谢反馈！/ Thanks for the feedback!"
FEEDBACK_GONE = "这条回答已过期或不属于你，无法反馈。/ That answer has expired or is not yours: no feedback kept."
#: How long a message stays answered: far beyond any platform's redelivery (Slack retries for minutes).
ANSWERED_TTL_S = 24 * 60 * 60


def principal_for(config: ServerConfig, user: User | None) -> Principal | None:
    """The chat user's principal: admin in demo mode (no users configured), None for a stranger."""
    if config.demo_mode:
        return Principal()
    return user.principal if user is not None else None


def asker_for(user: User | None, principal: Principal) -> Asker:
    """Whom a chat answer is kept for: the configured user (the same one their API key is), or demo."""
    return Asker.of(user.name if user is not None else "demo", principal)


def ask_as(
    services: Services, principal: Principal, question: str, conversation_id: str, asker: Asker | None = None
) -> Answer:
    """The assistant's answer, kept for downloads and feedback (``asker``); an unexpected failure becomes a polite
    error answer, logged with its traceback."""
    try:
        answer = services.assistant.ask(question, conversation_id=conversation_id, principal=principal)
    except StoreUnavailable as exc:
        log.warning("conversation %s unavailable: %s", conversation_id, exc)
        return Answer(status="error", text=NO_CONTEXT, language="zh")
    except Exception:
        log.exception("answering %r in %s failed", question, conversation_id)
        return Answer(status="error", text=FAILED, language="zh")
    if asker is not None:
        channel = conversation_id.split(":", 1)[0]
        keep_answer(services, answer, asker, question, conversation_id=conversation_id, channel=channel)
    return answer


def downloads(services: Services, base_url: str | None, answer: Answer) -> dict[str, str] | None:
    """The reply's links to the answer's files (None without a kept answer or an address to link to)."""
    if not answer.answer_id or not (base_url or services.config.public_url):
        return None
    links = {fmt: download_url(services, base_url or "", answer.answer_id, fmt) for fmt in ("xlsx", "csv")}
    return {fmt: url for fmt, url in links.items() if url} or None


def record_feedback(services: Services, asker: Asker, answer_id: str, rating: Rating, comment: str | None) -> str:
    """Keep a chat user's verdict; the sentence to tell them (thanks, or that the answer is gone)."""
    try:
        stored = services.answers.load_for(answer_id, asker)
        if stored is None:
            return FEEDBACK_GONE
        services.answers.add_feedback(stored, rating, comment, asker)
    except (StoreUnavailable, ValueError) as exc:
        log.warning("feedback on %s not kept: %s", answer_id, exc)
        return FAILED
    return FEEDBACK_THANKS


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced: JSON may carry them (``"\\udfff"``), UTF-8 cannot."""
    return text.encode("utf-8", "replace").decode("utf-8")


def refused(status: int, message: str) -> ApiError:
    """The JSON error for a request the bot will not take, logged as one line (a stream of them is one line each)."""
    log.warning("bot request refused (%d): %s", status, message)
    return ApiError(status, message)
