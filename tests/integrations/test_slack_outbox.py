"""Outbox delivery through the real slack_sdk client to a fake Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.slack_server import FakeSlackServer
from sqlmodel import Session

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack.client import clients_from_settings
from integrations.slack.outbox import DeliveryPolicy, deliver_pending, delivery_loop
from integrations.slack.senders import EVENT_TYPE, SlackSender, outbox_metadata
from roles.clock import utcnow
from roles.ledger import OutboxMessage
from roles.outbox import (
    claim_next,
    enqueue,
    get_message,
    list_messages,
    requeue,
    update_message,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = DeliveryPolicy(backoff_base_s=0.02, backoff_max_s=0.1, poll_s=0.01)
STALE = DeliveryPolicy(lease_s=0.0, backoff_base_s=0.02, poll_s=0.01)  # every claim is stale


def _sender(min_interval_s: float = 0.0) -> SlackSender:
    clients = clients_from_settings(get_settings())
    assert clients is not None
    return SlackSender(*clients, min_interval_s=min_interval_s)


def _add(session: Session, channel: str, text: str, parent: int | None = None) -> int:
    message = enqueue(
        session,
        channel=channel,
        kind="review_item" if parent else "notice",
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        parent_id=parent,
    )
    session.commit()
    assert message.id is not None
    return message.id


def _claimed_by_a_dead_process(session: Session, count: int = 1) -> None:
    for _ in range(count):
        assert claim_next(session, worker="dead", now=utcnow(), min_interval_s=0)
        session.commit()


def _interleaved(session: Session, *, per_channel: int) -> dict[str, list[str]]:
    """Messages to three channels, written in turns; what each channel should show."""
    expected = {c: [f"{c}-{i}" for i in range(per_channel)] for c in ("C1", "C2", "C3")}
    for i in range(per_channel):
        for channel, texts in expected.items():
            _add(session, channel, texts[i])
    return expected


def _texts(slack: FakeSlackServer, channel: str) -> list[str]:
    return [m.text for m in slack.in_channel(channel)]


def _row(session: Session, message_id: int) -> OutboxMessage:
    return get_message(session, message_id=message_id)


def test_each_channel_in_order_with_replies_in_their_thread(
    slack: FakeSlackServer, session: Session
) -> None:
    parent = _add(session, "CREV", "review")
    alert = _add(session, "CALERT", "alert 1")
    replies = [_add(session, "CREV", f"item {i}", parent) for i in range(3)]
    _add(session, "CALERT", "alert 2")
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=5)
    assert (report.posted, report.left) == (6, 0)
    assert _texts(slack, "CREV") == ["review", "item 0", "item 1", "item 2"]
    assert _texts(slack, "CALERT") == ["alert 1", "alert 2"]
    parent_ts = _row(session, parent).ts
    assert parent_ts and [m.thread_ts for m in slack.in_channel("CREV")[1:]] == [parent_ts] * 3
    for message_id in [parent, alert, *replies]:
        row = _row(session, message_id)
        assert (row.status, row.attempts, row.delivered_locally) == ("delivered", 1, False)
    post = slack.calls_to("chat.postMessage")[0].params
    assert post["metadata"]["event_type"] == EVENT_TYPE and post["unfurl_links"] is False


def test_at_most_one_post_per_second_per_channel(slack: FakeSlackServer, session: Session) -> None:
    for i in range(3):
        _add(session, "CA", f"a{i}")
    _add(session, "CB", "b0")
    _add(session, "CB", "b1")
    report = deliver_pending(sender=_sender(1.0), policy=FAST, wait_s=10)
    assert report.posted == 5
    calls = slack.calls_to("chat.postMessage")
    for channel in ("CA", "CB"):
        times = [c.at for c in calls if c.params["channel"] == channel]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 0.98, gaps
    assert calls[-1].at - calls[0].at < 2.6  # the channels did not wait for each other


def test_a_429_with_retry_after_is_retried_and_delivered_once(
    slack: FakeSlackServer, session: Session
) -> None:
    message_id = _add(session, "CA", "hello")
    slack.fail(429, retry_after="0", method="chat.postMessage")
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=5)
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert _texts(slack, "CA") == ["hello"] and report.posted == 1
    assert _row(session, message_id).status == "delivered"


def test_retry_after_is_honoured_when_the_client_has_given_up(
    slack: FakeSlackServer, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SLACK_MAX_RETRIES", "0")  # the outbox's own retry, then
    get_settings.cache_clear()
    _add(session, "CA", "hello")
    slack.fail(429, retry_after="1", method="chat.postMessage")
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=5)
    refused, posted = slack.calls_to("chat.postMessage")
    assert (refused.status, posted.status, report.retried) == (429, 200, 1)
    assert posted.at - refused.at >= 1.0


def test_an_outage_delays_and_then_every_message_arrives_once_in_order(
    slack: FakeSlackServer, session: Session
) -> None:
    parent = _add(session, "CREV", "review")
    for i in range(3):
        _add(session, "CREV", f"item {i}", parent)
    _add(session, "CALERT", "alert")
    slack.fail(503, times=12)  # every method, posts and look-ups alike
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=15)
    assert report.left == 0 and report.retried > 0
    assert _texts(slack, "CREV") == ["review", "item 0", "item 1", "item 2"]
    assert _texts(slack, "CALERT") == ["alert"]
    assert all(r.status == "delivered" and r.error is None for r in list_messages(session))


def test_a_post_that_reached_slack_but_timed_out_is_found_not_doubled(
    slack: FakeSlackServer, session: Session
) -> None:
    message_id = _add(session, "CA", "once")
    _add(session, "CA", "after")
    slack.hang(1.6, process=True, method="chat.postMessage")  # stored, answered too late
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=10)
    assert _texts(slack, "CA") == ["once", "after"]
    assert (report.found, report.posted, report.retried) == (1, 1, 1)
    row = _row(session, message_id)
    assert row.ts == slack.in_channel("CA")[0].ts and row.attempts == 2


def test_a_crash_between_post_and_record_leaves_no_duplicate(
    slack: FakeSlackServer, session: Session
) -> None:
    posted = _add(session, "CA", "posted before the crash")
    _add(session, "CB", "claimed, never sent")
    _claimed_by_a_dead_process(session, 2)
    metadata = outbox_metadata(_row(session, posted))
    ts = slack.post_directly("CA", "posted before the crash", metadata=metadata)
    report = deliver_pending(sender=_sender(), policy=STALE, wait_s=5)
    assert (report.found, report.posted) == (1, 1)
    assert _texts(slack, "CA") == ["posted before the crash"]
    assert _texts(slack, "CB") == ["claimed, never sent"]
    assert _row(session, posted).ts == ts
    assert len(slack.calls_to("conversations.history")) == 2  # each looked up first


def test_a_twin_from_another_ledger_is_not_taken_for_ours(
    slack: FakeSlackServer, session: Session
) -> None:
    message_id = _add(session, "CA", "ours")
    _claimed_by_a_dead_process(session)
    twin = outbox_metadata(_row(session, message_id))
    twin["event_payload"]["created"] = "2020-01-01T00:00:00+00:00"
    slack.post_directly("CA", "same id, other ledger", metadata=twin)
    deliver_pending(sender=_sender(), policy=STALE)
    assert _texts(slack, "CA") == ["same id, other ledger", "ours"]


def test_a_direct_message_is_updated_and_found_in_its_dm(
    slack: FakeSlackServer, session: Session
) -> None:
    message_id = _add(session, "U01MAYA", "your change failed its evals")
    _claimed_by_a_dead_process(session)
    slack.hang(1.6, process=True, method="chat.postMessage")
    deliver_pending(sender=_sender(), policy=STALE, wait_s=5)
    update_message(session, message_id=message_id, text="fixed", blocks=[])
    session.commit()
    deliver_pending(sender=_sender(), policy=FAST)
    [dm] = slack.in_channel("D01MAYA")
    assert dm.text == "fixed" and _row(session, message_id).posted_channel == "D01MAYA"
    assert slack.calls_to("conversations.open")


def test_two_workers_on_one_ledger_deliver_each_message_once(
    slack: FakeSlackServer, session: Session
) -> None:
    expected = _interleaved(session, per_channel=4)
    engine = get_engine()
    reports = []

    def work(name: str) -> None:
        reports.append(
            deliver_pending(
                sender=_sender(0.05), engine=engine, worker=name, policy=FAST, wait_s=10
            )
        )

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert sum(r.posted for r in reports) == 12
    assert {c: _texts(slack, c) for c in expected} == expected
    claimers = {r.claimed_by for r in list_messages(session)}
    assert claimers == {"w0", "w1"}  # both took part


_WORKER = """
import os, sys, time
from integrations.slack.outbox import deliver_pending
print("ready", flush=True)  # imports done: wait for the other process, then both go at once
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
print(deliver_pending(worker=sys.argv[2], wait_s=15).posted)
"""


def test_two_delivery_processes_on_one_ledger_deliver_each_message_once(
    slack: FakeSlackServer, session: Session, tmp_path: Path
) -> None:
    expected = _interleaved(session, per_channel=3)
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(go), f"p{n}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for worker in workers:  # however slow the machine, neither starts before both are ready
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    go.touch()
    posted = [int(w.communicate(timeout=60)[0].strip() or 0) for w in workers]
    assert sum(posted) == 9 and all(w.returncode == 0 for w in workers)
    assert {c: _texts(slack, c) for c in expected} == expected
    assert {r.claimed_by for r in list_messages(session)} == {"p0", "p1"}
    for channel in expected:  # the pace holds across processes (through the ledger)
        times = [c.at for c in slack.calls_to("chat.postMessage") if c.params["channel"] == channel]
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.98


def test_a_changed_delivered_message_is_updated_not_posted_again(
    slack: FakeSlackServer, session: Session
) -> None:
    message_id = _add(session, "CA", "2 of 5 voted")
    deliver_pending(sender=_sender(), policy=FAST)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "3 of 5 voted"}}]
    assert update_message(session, message_id=message_id, text="3 of 5 voted", blocks=blocks)
    session.commit()
    report = deliver_pending(sender=_sender(), policy=FAST)
    assert report.updated == 1 and len(slack.calls_to("chat.postMessage")) == 1
    [shown] = slack.in_channel("CA")
    assert (shown.text, len(shown.edits)) == ("3 of 5 voted", 1)
    row = _row(session, message_id)
    assert (row.status, row.revision, row.delivered_revision) == ("delivered", 2, 2)
    assert slack.calls_to("chat.update")[0].params["ts"] == row.ts


def test_a_permanent_error_stops_that_message_only(
    slack: FakeSlackServer, session: Session
) -> None:
    slack.fail_channel("CGONE", "channel_not_found")
    gone = _add(session, "CGONE", "lost channel")
    reply = _add(session, "CGONE", "its reply", gone)
    fine = _add(session, "COK", "fine")
    report = deliver_pending(sender=_sender(), policy=FAST, wait_s=5)
    assert (report.failed, report.posted) == (2, 1)
    assert (_row(session, gone).status, _row(session, gone).error) == (
        "failed",
        "channel_not_found",
    )
    assert "failed" in (_row(session, reply).error or "")
    assert _row(session, fine).status == "delivered" and _texts(slack, "COK") == ["fine"]
    assert len(slack.calls_to("chat.postMessage")) == 2  # the reply was never tried


def test_a_failed_message_is_sent_once_its_channel_is_fixed(
    slack: FakeSlackServer, session: Session
) -> None:
    slack.fail_channel("CA", "not_in_channel")
    message_id = _add(session, "CA", "hello")
    deliver_pending(sender=_sender(), policy=FAST)
    assert _row(session, message_id).error == "not_in_channel"
    slack.recover()  # someone invited the bot
    assert requeue(session, message_id=message_id, now=utcnow())
    assert not requeue(session, message_id=message_id, now=utcnow())
    session.commit()
    assert deliver_pending(sender=_sender(), policy=FAST).posted == 1
    assert _texts(slack, "CA") == ["hello"] and _row(session, message_id).error is None


def test_without_slack_each_message_is_shown_as_text_and_kept(session: Session) -> None:
    message_id = _add(session, "CREV", "review &lt;!channel&gt; &amp; <!here>")
    stream = io.StringIO()
    report = deliver_pending(stream=stream, policy=FAST)
    assert report.local == 1
    row = _row(session, message_id)
    assert (row.status, row.ts, row.delivered_locally) == ("delivered", None, True)
    assert "CREV" in stream.getvalue() and "review <!channel> & @here" in stream.getvalue()
    update_message(session, message_id=message_id, text="v2", blocks=[])
    session.commit()
    assert deliver_pending(stream=stream, policy=FAST).local == 1
    assert "(updated)" in stream.getvalue().split("\n\n")[-2] and stream.getvalue().endswith(
        "v2\n\n"
    )


def test_the_serve_loop_delivers_what_is_written_while_it_runs(session: Session) -> None:
    stream, stop = io.StringIO(), threading.Event()
    loop = threading.Thread(
        target=delivery_loop, kwargs={"stop": stop, "period_s": 0.05, "stream": stream}
    )
    loop.start()
    try:
        message_id = _add(session, "CA", "while serving")
        for _ in range(200):
            if _row(session, message_id).status == "delivered":
                break
            time.sleep(0.02)
    finally:
        stop.set()
        loop.join(5)
    assert not loop.is_alive() and "while serving" in stream.getvalue()


def test_a_claim_older_than_the_lease_is_stale_only_after_it(session: Session) -> None:
    _add(session, "CA", "x")
    now = utcnow()
    assert claim_next(session, worker="a", now=now, min_interval_s=0)
    session.commit()
    assert claim_next(session, worker="b", now=now + timedelta(seconds=5), lease_s=10) is None
