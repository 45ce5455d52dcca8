"""Refusing replays: a signed request that comes again inside Slack's window counts once.

Bolt refuses a request whose timestamp is more than five minutes off, but accepts the
same signed request as often as it comes inside that window. The gateway records each
request it acts on in the transaction that writes what it carries (a vote), under the
request's own key, so the second copy fails on the primary key and writes nothing, in
this process or in another gateway on the same ledger::

    with session_scope() as session:
        remember_request(session, stamp=stamp, now=utcnow())  # Replayed if seen before
        vote_and_conclude(session, ...)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from integrations.slack.payloads import RequestStamp
from roles.ledger import SlackRequest

# Bolt's window (slack_sdk.signature: 5 minutes either way), and a margin for clocks.
WINDOW = timedelta(minutes=5)
KEEP = WINDOW * 2


class Replayed(Exception):
    """This very request was acted on before: nothing of it is written again."""


def remember_request(session: Session, *, stamp: RequestStamp, now: datetime) -> None:
    """Record the request, or raise :class:`Replayed`; rows past the window are pruned.

    Call it first in the transaction: on PostgreSQL a copy that arrives while the first is
    still uncommitted waits for it here, then fails.
    """
    session.execute(delete(SlackRequest).where(col(SlackRequest.sent_at) < now - KEEP))
    session.add(SlackRequest(key=stamp.key, sent_at=stamp.sent_at, received_at=now))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Replayed(f"request {stamp.key[:16]}… was already acted on") from None
