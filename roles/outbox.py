"""The outbox's moves: write a message, change it, claim it for delivery, record the outcome.

Every function receives the session and never commits: a message is written in the same
transaction as the handoff or vote it belongs to, and a claim is committed by the
delivery loop before it calls Slack. Claims are conditional updates (and ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), so two delivery processes never hold the same row::

    message = enqueue(session, channel="C0REVIEW", kind="notice", text="hello", blocks=[])
    session.commit()
    claimed = claim_next(session, worker="serve-1", now=utcnow())
    session.commit()
    ...  # post it
    mark_delivered(session, message_id=claimed.id, worker="serve-1", ts="1.2",
                   revision=claimed.revision, now=utcnow())
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, case, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from roles.clock import utcnow
from roles.errors import InputError, NotFoundError
from roles.ledger.outbox import OutboxKind, OutboxMessage, OutboxRead, OutboxStatus

PENDING, SENDING = OutboxStatus.PENDING.value, OutboxStatus.SENDING.value
DELIVERED, FAILED = OutboxStatus.DELIVERED.value, OutboxStatus.FAILED.value
UNDELIVERED = (PENDING, SENDING)
KINDS = frozenset(k.value for k in OutboxKind)
# Made once: building an alias's columns costs more than the claim's query itself.
_EARLIER = aliased(OutboxMessage, name="earlier")
_RECENT = aliased(OutboxMessage, name="recent")


def enqueue(
    session: Session,
    *,
    channel: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]],
    change_id: int | None = None,
    parent_id: int | None = None,
    key: str | None = None,
) -> OutboxMessage:
    """A new pending message, or the one already written under ``key`` (unchanged).

    A reply (``parent_id``) goes to its parent's channel; naming another one is an error.
    """
    if kind not in KINDS:
        raise InputError(f"no outbox message kind {kind!r}; one of {', '.join(sorted(KINDS))}")
    existing = find_message(session, key=key) if key is not None else None
    if existing is not None:
        return existing
    if parent_id is not None:
        parent = get_message(session, message_id=parent_id)
        if parent.channel != channel:
            raise InputError(
                f"outbox message {parent_id} is in {parent.channel}; its replies cannot go to "
                f"{channel}"
            )
    message = OutboxMessage(
        channel=channel,
        kind=kind,
        text=text,
        blocks=blocks,
        change_id=change_id,
        parent_id=parent_id,
        key=key,
    )
    session.add(message)
    session.flush()
    return message


def get_message(session: Session, *, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:
        raise NotFoundError(f"no outbox message {message_id}")
    return message


def find_message(session: Session, *, key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def update_message(
    session: Session, *, message_id: int, text: str, blocks: list[dict[str, Any]]
) -> bool:
    """New content for a message; ``False`` if it is the same. A delivered message becomes
    pending again and is sent as ``chat.update``; one not yet posted is posted as it is now."""
    message = get_message(session, message_id=message_id)
    if message.text == text and message.blocks == blocks:
        return False
    m = OutboxMessage
    statement = (
        update(m)
        .where(col(m.id) == message_id)
        .values(
            text=text,
            blocks=blocks,
            revision=col(m.revision) + 1,
            # In SQL, not from what was read: a delivery may record its outcome meanwhile.
            status=case((col(m.status) == DELIVERED, PENDING), else_=col(m.status)),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(statement)
    session.expire(message)
    return True


def claim_next(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease_s: float = 120.0,
    min_interval_s: float = 1.0,
) -> OutboxMessage | None:
    """Claim the next message that may go now, or ``None``.

    A message may go when it is pending and due, or was left ``sending`` by a claim older
    than ``lease_s`` (its process died: outcome unknown), no earlier message of its
    channel is still undelivered, and no call for its channel ended in the last
    ``min_interval_s`` (Slack's pace of about one post per second per channel, kept
    across processes: the ``now`` given to ``mark_*`` is when the call ended).

    The claim counts an attempt; ``attempts > 1`` on a message with no ``ts`` means an
    earlier attempt may have reached Slack.
    """
    m, earlier, recent = OutboxMessage, _EARLIER, _RECENT
    due = or_(
        and_(
            col(m.status) == PENDING,
            or_(col(m.next_attempt_at).is_(None), col(m.next_attempt_at) <= now),
        ),
        and_(col(m.status) == SENDING, col(m.claimed_at) < now - timedelta(seconds=lease_s)),
    )
    blocked = exists().where(
        col(earlier.channel) == col(m.channel),
        col(earlier.id) < col(m.id),
        col(earlier.status).in_(UNDELIVERED),
    )
    paced = exists().where(
        col(recent.channel) == col(m.channel),
        col(recent.sent_at) > now - timedelta(seconds=min_interval_s),
    )
    candidates = session.exec(
        select(m.id, m.status, m.attempts)
        .where(due, ~blocked, ~paced)
        .order_by(col(m.id))
        .limit(8)
        .with_for_update(skip_locked=True, of=m)  # nothing on SQLite, which has one writer
    ).all()
    for message_id, status, attempts in candidates:
        assert message_id is not None
        claimed = _conditional(
            session,
            message_id,
            [col(m.status) == status, col(m.attempts) == attempts],
            status=SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=attempts + 1,
            next_attempt_at=None,
            updated_at=now,
        )
        if claimed:
            return get_message(session, message_id=message_id)
    return None


def mark_delivered(
    session: Session,
    *,
    message_id: int,
    worker: str,
    revision: int,
    now: datetime,
    ts: str | None,
    posted_channel: str | None = None,
    locally: bool = False,
) -> bool:
    """Record that ``revision`` is in Slack (or the log). If the content changed meanwhile,
    the message stays pending, to be sent again as an update. ``False``: not our claim."""
    m = OutboxMessage
    return _claimed(
        session,
        message_id,
        worker,
        status=case((col(m.revision) > revision, PENDING), else_=DELIVERED),
        delivered_revision=revision,
        ts=func.coalesce(ts, m.ts),
        posted_channel=func.coalesce(posted_channel, m.posted_channel),
        delivered_locally=locally,
        error=None,
        delivered_at=now,
        now=now,
    )


def mark_failed(
    session: Session, *, message_id: int, worker: str, error: str, now: datetime
) -> bool:
    """A permanent error: the message stops here, with the error recorded."""
    return _claimed(session, message_id, worker, now=now, status=FAILED, error=error)


def mark_retry(
    session: Session, *, message_id: int, worker: str, error: str, retry_at: datetime, now: datetime
) -> bool:
    """A transient error: pending again, due at ``retry_at``; later messages of its channel wait."""
    return _claimed(
        session,
        message_id,
        worker,
        status=PENDING,
        error=error,
        next_attempt_at=retry_at,
        now=now,
    )


def requeue(session: Session, *, message_id: int, now: datetime) -> bool:
    """A failed message pending again (the channel or token fixed); its last error stays
    on it until it is delivered. ``False`` if it had not failed."""
    return _conditional(
        session,
        message_id,
        [col(OutboxMessage.status) == FAILED],
        status=PENDING,
        next_attempt_at=None,
        updated_at=now,
    )


def list_messages(
    session: Session, *, statuses: tuple[str, ...] | None = None, change_id: int | None = None
) -> list[OutboxRead]:
    query = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if statuses:
        query = query.where(col(OutboxMessage.status).in_(statuses))
    if change_id is not None:
        query = query.where(OutboxMessage.change_id == change_id)
    return [OutboxRead.model_validate(m, from_attributes=True) for m in session.exec(query)]


def undelivered(session: Session) -> int:
    """How many messages are pending or being sent."""
    count = session.exec(
        select(func.count()).where(col(OutboxMessage.status).in_(UNDELIVERED))
    ).one()
    return int(count)


def _claimed(
    session: Session, message_id: int, worker: str, *, now: datetime, **values: Any
) -> bool:
    """Record a call's outcome on our own claim; ``now`` is when the call ended."""
    m = OutboxMessage
    return _conditional(
        session,
        message_id,
        [col(m.status) == SENDING, col(m.claimed_by) == worker],
        sent_at=now,
        updated_at=now,
        **values,
    )


def _conditional(session: Session, message_id: int, conditions: list[Any], **values: Any) -> bool:
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, *conditions)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount == 1
