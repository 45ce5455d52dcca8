"""Outbox delivery: claimed messages go out in order per channel, and nothing is lost or doubled.

    >>> from integrations.slack.outbox import deliver_pending
    >>> report = deliver_pending(wait_s=30)  # doctest: +SKIP
    >>> report.delivered, report.left  # doctest: +SKIP
    (12, 0)

Each message is claimed (committed) before the call and recorded after it. A message
claimed before whose ``ts`` was never recorded (a crash, a timeout, a 5xx after Slack
may have stored it) is looked up by its metadata before it is posted again. A 429, a
5xx or a connection error puts the message back with a backoff (its channel waits
behind it); a permanent error stops that message only. Delivered messages whose content
changed are sent as ``chat.update``.

A ``webhook`` row (the deploy webhook's event) goes out the same way, POSTed by
``integrations.webhooks.sender`` instead of Slack: in order, with the same backoff, at
least once (a retry carries the same delivery id), ``failed`` on a 4xx other than 429.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Engine
from sqlmodel import Session

from integrations.db import get_engine
from integrations.delivery_errors import PermanentDeliveryError, TransientDeliveryError
from integrations.settings import get_settings
from integrations.slack.senders import Sender, Sent, log, sender_from_settings
from roles.clock import utcnow
from roles.ledger import OutboxKind, OutboxMessage, OutboxStatus
from roles.outbox import (
    claim_next,
    get_message,
    mark_delivered,
    mark_failed,
    mark_retry,
    undelivered,
)

if TYPE_CHECKING:
    from integrations.webhooks.sender import WebhookSender

WEBHOOK = OutboxKind.WEBHOOK.value


@dataclass(frozen=True)
class DeliveryPolicy:
    lease_s: float = 120.0  # a claim older than this, still `sending`, belongs to a dead process
    backoff_base_s: float = 1.0  # after a transient error; doubles per attempt, with jitter
    backoff_max_s: float = 60.0
    poll_s: float = 0.05  # how often to look again while messages wait (pace, backoff)


@dataclass
class DeliveryReport:
    posted: int = 0
    updated: int = 0
    found: int = 0  # already in Slack from an attempt whose outcome was unknown
    local: int = 0  # shown without Slack
    retried: int = 0
    failed: int = 0
    left: int = 0  # still pending or sending when delivery stopped

    @property
    def delivered(self) -> int:
        return self.posted + self.updated + self.found + self.local


def worker_name() -> str:
    """Unique per call: two loops in one process are two workers."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def deliver_pending(
    *,
    sender: Sender | None = None,
    engine: Engine | None = None,
    worker: str | None = None,
    stream: TextIO | None = None,
    policy: DeliveryPolicy | None = None,
    wait_s: float = 0.0,
    stop: threading.Event | None = None,
    webhook: WebhookSender | None = None,
) -> DeliveryReport:
    """Deliver what may go; wait up to ``wait_s`` for messages held by pace or backoff.

    Args:
        sender: Slack or the terminal; by default from the settings (``SLACK_BOT_TOKEN``),
            writing to ``stream`` (or the log) when no Slack is configured.
        engine: the ledger; by default the configured one.
        worker: the name claims are made in; unique by default.
        wait_s: 0 returns when nothing can go right now; ``serve`` passes its loop's period.
        stop: set it to end the loop after the message in hand.
        webhook: where ``webhook`` rows go; by default ``PROMPTLOOP_DEPLOY_WEBHOOK_URL``
            (made when the first one is claimed: a run with none pays nothing for it).
    """
    engine = engine or get_engine()
    sender = sender or sender_from_settings(get_settings(), stream)
    worker = worker or worker_name()
    policy = policy or DeliveryPolicy()
    report = DeliveryReport()
    made: WebhookSender | None = None  # a webhook sender of our own, closed at the end
    deadline = time.monotonic() + wait_s
    while not (stop and stop.is_set()):
        with Session(engine, expire_on_commit=False) as session:
            message = claim_next(
                session,
                worker=worker,
                now=utcnow(),
                lease_s=policy.lease_s,
                min_interval_s=sender.min_interval_s,
            )
            parent = _parent(session, message)
            session.commit()
            waiting = undelivered(session) if message is None else 0
        if message is None:
            if waiting == 0 or time.monotonic() >= deadline:
                break
            time.sleep(policy.poll_s)
            continue
        if message.kind == WEBHOOK and webhook is None:
            webhook = made = _webhook_from_settings()
        _deliver(engine, sender, worker, message, parent, policy, report, webhook)
    if made is not None:
        made.close()
    with Session(engine) as session:
        report.left = undelivered(session)
    return report


def _webhook_from_settings() -> WebhookSender | None:
    from integrations.webhooks.sender import webhook_sender_from_settings

    return webhook_sender_from_settings(get_settings())


def _parent(session: Session, message: OutboxMessage | None) -> OutboxMessage | None:
    if message is None or message.parent_id is None:
        return None
    return get_message(session, message_id=message.parent_id)


def delivery_loop(
    *,
    stop: threading.Event,
    period_s: float = 1.0,
    stream: TextIO | None = None,
    engine: Engine | None = None,
    sender: Sender | None = None,
) -> None:
    """What ``serve`` runs in a thread until ``stop`` is set: deliver, wait a little, again.

    One sender for the whole loop, so its pace per channel holds from one round to the next.
    A failure of the ledger or a bug is logged with its traceback, and the loop goes on.
    """
    sender = sender or sender_from_settings(get_settings(), stream)
    webhook = _webhook_from_settings()
    while not stop.is_set():
        try:
            deliver_pending(
                sender=sender, engine=engine, stop=stop, wait_s=period_s, webhook=webhook
            )
        except Exception:
            log.exception("outbox delivery failed; trying again in %.1f s", period_s)
        stop.wait(period_s)


def _deliver(
    engine: Engine,
    sender: Sender,
    worker: str,
    message: OutboxMessage,
    parent: OutboxMessage | None,
    policy: DeliveryPolicy,
    report: DeliveryReport,
    webhook: WebhookSender | None = None,
) -> None:
    assert message.id is not None

    def record(mark: Callable[..., bool], **values: Any) -> None:
        with Session(engine) as session:
            mark(session, message_id=message.id, worker=worker, now=utcnow(), **values)
            session.commit()

    try:
        if message.kind == WEBHOOK:
            sent, counter = _post_webhook(webhook, message), "posted"
        elif parent is not None and parent.status == OutboxStatus.FAILED.value:
            raise PermanentDeliveryError(f"its thread's first message ({parent.id}) failed")
        else:
            sent, counter = _send(sender, message, parent.ts if parent else None)
    except PermanentDeliveryError as exc:
        record(mark_failed, error=exc.error)
        report.failed += 1
        return
    except TransientDeliveryError as exc:
        step = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** (message.attempts - 1))
        wait = max(step * (0.5 + random.random() / 2), exc.retry_after_s or 0.0)
        retry_at = utcnow() + timedelta(seconds=wait)
        record(mark_retry, error=exc.error, retry_at=retry_at)
        report.retried += 1
        return
    record(
        mark_delivered,
        revision=sent.revision,
        ts=sent.ts,
        posted_channel=sent.channel,
        locally=counter == "local",
    )
    setattr(report, counter, getattr(report, counter) + 1)


def _send(sender: Sender, message: OutboxMessage, thread_ts: str | None) -> tuple[Sent, str]:
    """The call this message needs now, and the report's counter for it."""
    if message.ts is not None:
        return sender.update(message, ts=message.ts), "updated"
    if message.attempts > 1:
        found = sender.find(message, thread_ts=thread_ts)
        if found is not None and found.ts is not None:
            if found.revision == message.revision:
                return found, "found"
            return sender.update(message, ts=found.ts), "updated"
    sent = sender.post(message, thread_ts=thread_ts)
    return sent, "local" if sent.ts is None else "posted"


def _post_webhook(webhook: WebhookSender | None, message: OutboxMessage) -> Sent:
    if webhook is None:
        raise PermanentDeliveryError(
            "PROMPTLOOP_DEPLOY_WEBHOOK_URL was set when this event was queued and is not now: "
            "the event was not sent"
        )
    webhook.post(message)
    return Sent(ts=None, channel=None, revision=message.revision)
