"""The outbox: one row per message, written with the handoff or vote it belongs to.

Most go to Slack; a ``webhook`` row is the deploy webhook's event (its channel names the
webhook, ``webhook:deploy``; its text is the JSON body).

A row is ``pending`` until a delivery process claims it (``sending``), then ``delivered``
(Slack's ``ts`` recorded, or ``delivered_locally`` when no Slack is configured) or
``failed`` (a permanent error, recorded). A transient error puts it back to ``pending``
with ``next_attempt_at``. Changing a delivered message bumps ``revision`` and makes it
``pending`` again: delivery then sends ``chat.update`` for the ``ts`` it holds.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.changes  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class OutboxKind(StrEnum):
    REVIEW_PARENT = "review_parent"
    REVIEW_ITEM = "review_item"
    DEPLOY_REQUEST = "deploy_request"
    NOTICE = "notice"
    WEBHOOK = "webhook"  # the deploy webhook's event: text is the JSON body, no blocks


class OutboxBase(SQLModel):
    """What a message says and where it goes."""

    channel: str = Field(index=True, max_length=64)  # a conversation id (C…, G…, D…) or a user id
    kind: str = Field(max_length=32)
    change_id: int | None = Field(
        default=None, foreign_key="change_request.id", index=True, ondelete="RESTRICT"
    )
    # A thread reply goes under its parent's ts; the parent is in the same channel.
    parent_id: int | None = Field(default=None, foreign_key="outbox.id", ondelete="RESTRICT")
    # Names the message for its writer, so a step that runs again finds it instead of a twin.
    key: str | None = Field(default=None, unique=True, max_length=200)
    blocks: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    text: str = Field(sa_type=Text)  # the notification and fallback text


class OutboxCreate(OutboxBase):
    pass


class OutboxRead(OutboxBase):
    """A row as the CLI and ``serve status`` show it."""

    id: int
    status: str
    attempts: int
    revision: int
    delivered_revision: int
    ts: str | None
    posted_channel: str | None
    delivered_locally: bool
    error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class OutboxMessage(OutboxBase, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=OutboxStatus.PENDING.value, index=True, max_length=16)
    attempts: int = 0  # claims so far; a claim after the first looks its post up before sending
    revision: int = 1  # bumped by every change of content
    delivered_revision: int = 0  # the revision Slack (or the log) shows
    ts: str | None = Field(default=None, max_length=32)
    posted_channel: str | None = Field(default=None, max_length=64)  # the id Slack answered with
    delivered_locally: bool = False
    error: str | None = Field(default=None, sa_type=Text)
    claimed_by: str | None = Field(default=None, max_length=255)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the last call for it ended: the channel's next message waits a second from here.
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
