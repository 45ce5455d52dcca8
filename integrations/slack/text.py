"""Untrusted text made safe for Slack: escaped, cut to a limit, quoted as code.

Slack parses ``<…>`` in message text as mentions and links (``<!channel>``, ``<@U123>``,
``<https://x|y>``) and ``&`` as an entity; text from a model or a user has these three
escaped, so it shows exactly as written and pings or links nothing.

    >>> escape("<!channel> & <@U123>")
    '&lt;!channel&gt; &amp; &lt;@U123&gt;'
    >>> clip("a" * 10, 8)
    Clipped(text='aaaaaa …', cut=True)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
MARK = " …"


def escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in text)


class Clipped(NamedTuple):
    text: str  # escaped, at most the limit
    cut: bool


def pieces(text: str, size: int) -> Iterator[str]:
    """``text`` escaped, in pieces of at most ``size`` characters; no entity broken in half."""
    chunk: list[str] = []
    room = size
    for ch in text:
        piece = _ENTITIES.get(ch, ch)
        if len(piece) > room:
            yield "".join(chunk)
            chunk, room = [], size
        chunk.append(piece)
        room -= len(piece)
    if chunk:
        yield "".join(chunk)


def clip(text: str, limit: int) -> Clipped:
    """``text`` escaped and cut so that the escaped form (with a mark) fits in ``limit``."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return Clipped(escaped, False)
    return Clipped(next(pieces(text, limit - len(MARK))) + MARK, True)


def shorten(text: str, limit: int) -> str:
    """Plain text (a header, a label: never parsed for mentions) cut to ``limit``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def code(text: str, limit: int) -> Clipped:
    """A code block of ``text`` within ``limit`` characters, fences included."""
    body = text.replace("```", "`\u200b``")  # text cannot close the fence early
    inner = clip(body, limit - 8)
    return Clipped(f"```\n{inner.text}\n```", inner.cut)


def mention(slack_user_id: str | None, fallback: str) -> str:
    """A real mention for a Slack user id we hold (U…/W…), else the name, escaped."""
    if slack_user_id and slack_user_id[:1] in "UW" and slack_user_id.isalnum():
        return f"<@{slack_user_id}>"
    return escape(fallback)


def link(url: str | None, label: str) -> str:
    """A mrkdwn link to a URL we built (not user text), or the label alone."""
    if not url:
        return escape(label)
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"
