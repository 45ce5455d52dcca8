"""Where an outbox message goes: Slack through the Web API, or a stream when there is no Slack.

A sender posts, updates, and finds a post of unknown outcome by the metadata it carries
(``event_type`` ``promptloop_outbox``, the outbox id and revision), so a message whose
process died after the call is found rather than posted twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from integrations.settings import Settings
from integrations.slack.client import clients_from_settings, slack_errors
from integrations.slack.render import render_text
from roles.ledger import OutboxMessage

EVENT_TYPE = "promptloop_outbox"
# How far before a message's creation its post can be: clocks differ a little.
_LOOKUP_MARGIN_S = 300.0
log = logging.getLogger("promptloop.slack")


@dataclass(frozen=True)
class Sent:
    ts: str | None
    channel: str | None
    revision: int  # the revision now shown


class Sender(Protocol):
    min_interval_s: float  # between two writes to one channel

    def post(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent: ...

    def update(self, message: OutboxMessage, *, ts: str) -> Sent: ...

    def find(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent | None: ...


def outbox_metadata(message: OutboxMessage) -> dict[str, Any]:
    """What a post carries to be found again. The creation time tells two ledgers' rows of
    the same id apart (a staging and a production ledger posting to one channel)."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "outbox_id": message.id,
            "created": message.created_at.isoformat(),
            "revision": message.revision,
        },
    }


def _is_ours(found: dict[str, Any], message: OutboxMessage) -> bool:
    metadata = found.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == EVENT_TYPE
        and payload.get("outbox_id") == message.id
        and payload.get("created") == message.created_at.isoformat()
    )


class SlackSender:
    """Posts through ``post_client`` (no blind retries) and paces writes per channel."""

    def __init__(
        self,
        client: WebClient,
        post_client: WebClient | None = None,
        *,
        min_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.post_client = post_client or client
        self.min_interval_s = min_interval_s
        self._sleep = sleep
        self._last_write: dict[str, float] = {}

    def post(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent:
        response = self._write(
            self.post_client.chat_postMessage,
            channel=message.channel,
            text=message.text,
            blocks=message.blocks or None,
            thread_ts=thread_ts,
            metadata=outbox_metadata(message),
            unfurl_links=False,
            unfurl_media=False,
        )
        return Sent(ts=response["ts"], channel=response.get("channel"), revision=message.revision)

    def update(self, message: OutboxMessage, *, ts: str) -> Sent:
        channel = message.posted_channel or message.channel
        response = self._write(
            self.client.chat_update,
            channel=channel,
            ts=ts,
            text=message.text,
            blocks=message.blocks,
            metadata=outbox_metadata(message),
        )
        return Sent(ts=ts, channel=response.get("channel", channel), revision=message.revision)

    def find(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent | None:
        with slack_errors():  # iterating the pages calls Slack again
            channel = message.posted_channel or message.channel
            if channel[:1] in ("U", "W"):  # a direct message: its conversation is a D… id
                channel = self.client.conversations_open(users=channel)["channel"]["id"]
            if thread_ts:
                pages = self.client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                oldest = message.created_at.timestamp() - _LOOKUP_MARGIN_S
                pages = self.client.conversations_history(
                    channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
                )
            for page in pages:
                for found in page.get("messages", []):
                    if _is_ours(found, message):
                        revision = int(found["metadata"]["event_payload"].get("revision") or 0)
                        return Sent(found["ts"], channel, revision)
        return None

    def _write(
        self, method: Callable[..., SlackResponse], *, channel: str, **kw: Any
    ) -> SlackResponse:
        wait = self._last_write.get(channel, -math.inf) + self.min_interval_s - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        try:
            with slack_errors():
                return method(channel=channel, **kw)
        finally:
            self._last_write[channel] = time.monotonic()


class LocalSender:
    """No Slack: each message is written readably to ``stream`` (or the log) and kept."""

    min_interval_s = 0.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def post(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent:
        shown_before = message.delivered_revision > 0  # shown here, then changed
        self._show(message, "updated" if shown_before else "reply" if message.parent_id else "new")
        return Sent(ts=None, channel=None, revision=message.revision)

    def update(self, message: OutboxMessage, *, ts: str) -> Sent:
        self._show(message, "updated")
        return Sent(ts=ts, channel=None, revision=message.revision)

    def find(self, message: OutboxMessage, *, thread_ts: str | None) -> Sent | None:
        return None  # the stream keeps nothing to look up; showing twice is harmless

    def _show(self, message: OutboxMessage, what: str) -> None:
        head = f"── Slack {message.channel} · {message.kind} #{message.id} ({what}) ──"
        body = render_text(message.blocks, message.text)
        if self.stream is None:
            log.info("%s\n%s", head, body)
        else:
            self.stream.write(f"{head}\n{body}\n\n")
            self.stream.flush()


def sender_from_settings(settings: Settings, stream: TextIO | None = None) -> Sender:
    """Slack when ``SLACK_BOT_TOKEN`` is set, otherwise the stream or the log."""
    clients = clients_from_settings(settings)
    if clients is None:
        return LocalSender(stream)
    return SlackSender(*clients)
