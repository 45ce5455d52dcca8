"""Requests from Slack the gateway acted on, kept while Slack's window could replay them.

Slack signs each request (``X-Slack-Signature`` over its timestamp and body) and Bolt
accepts a signature for five minutes; the same signed request sent again inside that
window is refused by the primary key here, in the transaction of the vote it carries, so
two gateway processes on one ledger count it once too. Rows older than the window are
pruned: Bolt refuses their timestamps anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class SlackRequest(SQLModel, table=True):
    __tablename__ = "slack_request"

    # ``v0=…`` (HTTP: the signature) or ``socket:<sha256 of the payload>`` (Socket Mode).
    key: str = Field(primary_key=True, max_length=128)
    sent_at: datetime = Field(index=True, sa_type=UTCDateTime)  # Slack's request timestamp
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
