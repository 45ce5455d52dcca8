"""Block Kit as plain text, for a terminal or a log when no Slack is configured.

>>> render_text([{"type": "header", "text": {"type": "plain_text", "text": "Review"}},
...              {"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt;"}}])
'Review\\n======\\na <b>'
"""

from __future__ import annotations

import re
from typing import Any

_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>|<([^<>|]+)>")


def unescape(text: str) -> str:
    """Slack's mrkdwn as a person reads it: links as ``label (url)``, entities decoded."""

    def link(match: re.Match[str]) -> str:
        if match.group(3) is not None:  # <url>, or a mention: <@U123>, <!channel>
            target = match.group(3)
            return "@" + target[1:] if target[:1] in "@!" else target
        return f"{match.group(2)} ({match.group(1)})"

    text = _LINK.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: dict[str, Any] | None) -> str:
    return unescape(str(obj.get("text", ""))) if obj else ""


def _block(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"))
        return [title, "=" * len(title)]
    if kind == "divider":
        return ["-" * 40]
    if kind == "section":
        lines = [_text(block.get("text"))] if block.get("text") else []
        lines += [_text(f) for f in block.get("fields", [])]
        if block.get("accessory", {}).get("type") == "button":
            lines.append(f"[{_text(block['accessory'].get('text'))}]")
        return lines
    if kind == "context":
        return ["  ".join(_text(e) for e in block.get("elements", []) if "text" in e)]
    if kind == "actions":
        labels = [_text(e.get("text")) for e in block.get("elements", []) if e.get("text")]
        return [" ".join(f"[{label}]" for label in labels)]
    if kind == "input":
        return [f"{_text(block.get('label'))}: ____"]
    return [f"({kind} block)"]


def render_text(blocks: list[dict[str, Any]], fallback: str = "") -> str:
    """Every block as lines of text; the fallback text when there are no blocks."""
    if not blocks:
        return unescape(fallback)
    return "\n".join(line for block in blocks for line in _block(block))
