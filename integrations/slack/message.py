"""A message as Block Kit objects plus its fallback text, checked against Slack's limits.

``slack_sdk.models`` checks each block (section text ≤ 3000, fields ≤ 10, …) when it
is turned into JSON and raises ``SlackObjectFormationError``; what no single block can
see — at most 50 blocks, and the whole message well under the ~12k characters at which
Slack has refused messages that kept every other limit — is checked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from integrations.slack.text import clip

MAX_BLOCKS = 50
MAX_CHARS = 11_000  # Block Kit JSON text in all blocks; Slack refused some near 13k
MAX_FALLBACK = 3000  # the notification text


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification and screen-reader fallback, as written (escaped on the way out)
    blocks: list[Block]

    def as_json(self) -> list[dict[str, Any]]:
        """The blocks as Slack receives them, validated."""
        if len(self.blocks) > MAX_BLOCKS:
            raise SlackObjectFormationError(
                f"{len(self.blocks)} blocks; a message holds {MAX_BLOCKS}"
            )
        data = [block.to_dict() for block in self.blocks]  # validates every block
        size = text_size(data)
        if size > MAX_CHARS:
            raise SlackObjectFormationError(f"{size} characters of text; keep under {MAX_CHARS}")
        return data

    def outbox_fields(self) -> dict[str, Any]:
        """``text`` and ``blocks`` for ``roles.outbox.enqueue`` or ``update_message``."""
        return {"text": clip(self.text, MAX_FALLBACK).text, "blocks": self.as_json()}


def text_size(blocks: list[dict[str, Any]]) -> int:
    """The characters of every ``text`` value in the blocks."""

    def walk(node: Any) -> int:
        if isinstance(node, dict):
            return sum(
                len(v) if k == "text" and isinstance(v, str) else walk(v) for k, v in node.items()
            )
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    return walk(blocks)
