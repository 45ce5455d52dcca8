"""The outbox's moves on SQLite and PostgreSQL: order per channel, pace, claims, updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import load, submit
from sqlmodel import Session

from roles.clock import utcnow
from roles.errors import InputError
from roles.outbox import (
    claim_next,
    enqueue,
    get_message,
    mark_delivered,
    mark_failed,
    mark_retry,
    update_message,
)


def _add(session: Session, channel: str, text: str, **kw: object) -> int:
    message = enqueue(session, channel=channel, kind="notice", text=text, blocks=[], **kw)  # type: ignore[arg-type]
    session.commit()
    assert message.id is not None
    return message.id


def _claim(session: Session, worker: str = "w", **kw: object) -> int | None:
    message = claim_next(session, worker=worker, now=utcnow(), min_interval_s=0, **kw)  # type: ignore[arg-type]
    session.commit()
    return None if message is None else message.id


def _deliver(session: Session, message_id: int, worker: str = "w") -> None:
    revision = get_message(session, message_id=message_id).revision
    assert mark_delivered(
        session, message_id=message_id, worker=worker, revision=revision, now=utcnow(), ts="1.0"
    )
    session.commit()


def test_a_channel_goes_in_order_and_other_channels_do_not_wait(session: Session) -> None:
    a1, a2, b1 = _add(session, "CA", "a1"), _add(session, "CA", "a2"), _add(session, "CB", "b1")
    assert _claim(session) == a1
    assert _claim(session) == b1  # a2 waits for a1, b1 does not
    assert _claim(session) is None
    _deliver(session, a1)
    assert _claim(session) == a2


def test_a_channel_is_paced_across_workers(session: Session) -> None:
    a1, a2 = _add(session, "CA", "a1"), _add(session, "CA", "a2")
    now = utcnow()
    assert claim_next(session, worker="w1", now=now).id == a1  # type: ignore[union-attr]
    session.commit()
    _deliver(session, a1, "w1")
    assert claim_next(session, worker="w2", now=now + timedelta(seconds=0.5)) is None
    later = claim_next(session, worker="w2", now=now + timedelta(seconds=1.1))
    assert later is not None and later.id == a2


def test_one_claim_per_row_and_only_the_claimer_records(session: Session) -> None:
    a1 = _add(session, "CA", "a1")
    assert _claim(session, "w1") == a1
    assert _claim(session, "w2") is None
    assert not mark_delivered(
        session, message_id=a1, worker="w2", revision=1, now=utcnow(), ts="9.9"
    )
    assert mark_failed(session, message_id=a1, worker="w1", error="channel_not_found", now=utcnow())
    session.commit()
    failed = get_message(session, message_id=a1)
    assert (failed.status, failed.error) == ("failed", "channel_not_found")
    b = _add(session, "CA", "a2")
    assert _claim(session) == b  # a failed message does not hold its channel


def test_a_stale_sending_row_is_claimed_again_and_says_it_was_tried(session: Session) -> None:
    a1 = _add(session, "CA", "a1")
    assert _claim(session, "dead") == a1
    assert _claim(session, "w2", lease_s=60) is None
    again = claim_next(session, worker="w2", now=utcnow() + timedelta(seconds=61), lease_s=60)
    assert again is not None and again.id == a1 and again.attempts == 2 and again.ts is None


def test_a_retry_waits_and_holds_its_channel(session: Session) -> None:
    a1, a2 = _add(session, "CA", "a1"), _add(session, "CA", "a2")
    assert _claim(session) == a1
    soon = utcnow() + timedelta(seconds=30)
    assert mark_retry(
        session, message_id=a1, worker="w", error="HTTP 503", retry_at=soon, now=utcnow()
    )
    session.commit()
    assert _claim(session) is None
    due = claim_next(session, worker="w", now=soon, min_interval_s=0)
    assert due is not None and due.id == a1 and a2 > a1


def test_an_update_of_a_delivered_message_is_pending_again_with_its_ts(session: Session) -> None:
    a1 = _add(session, "CA", "v1")
    _claim(session)
    _deliver(session, a1)
    assert not update_message(session, message_id=a1, text="v1", blocks=[])
    assert update_message(session, message_id=a1, text="v2", blocks=[])
    session.commit()
    message = get_message(session, message_id=a1)
    assert (message.status, message.revision, message.delivered_revision, message.ts) == (
        "pending",
        2,
        1,
        "1.0",
    )


def test_an_update_during_sending_is_sent_after(session: Session) -> None:
    a1 = _add(session, "CA", "v1")
    _claim(session)
    update_message(session, message_id=a1, text="v2", blocks=[])
    mark_delivered(session, message_id=a1, worker="w", revision=1, now=utcnow(), ts="1.0")
    session.commit()
    assert get_message(session, message_id=a1).status == "pending"


def test_a_key_names_one_message_and_replies_stay_in_their_channel(session: Session) -> None:
    load(session)
    change = submit(session)
    parent = _add(session, "CA", "parent", key="review:1", change_id=change.id)
    assert _add(session, "CA", "again", key="review:1") == parent
    assert get_message(session, message_id=parent).text == "parent"
    with pytest.raises(InputError, match="no outbox message kind 'chat'"):
        enqueue(session, channel="CA", kind="chat", text="x", blocks=[])
    with pytest.raises(InputError, match="replies cannot go"):
        enqueue(session, channel="CB", kind="review_item", text="x", blocks=[], parent_id=parent)
