"""`promptloop outbox list`: every message, with where it stands."""

from __future__ import annotations

import io


def test_outbox_list_shows_pending_and_delivered_messages(cli, session) -> None:  # type: ignore[no-untyped-def]
    from integrations.slack.outbox import deliver_pending
    from roles.outbox import enqueue

    assert cli("outbox", "list").stderr.strip() == "no messages match"
    for n in range(2):
        enqueue(
            session, channel="#review", kind="notice", text=f"message {n} <!channel>", blocks=[]
        )
    session.commit()
    pending = cli("outbox", "list", "--pending", "--json").json()
    assert [m["status"] for m in pending] == ["pending", "pending"]
    deliver_pending(stream=io.StringIO())  # no Slack configured: shown as text, kept
    assert cli("outbox", "list", "--pending", "--json").json() == []
    rows = cli("outbox", "list", "--json").json()
    assert [(m["status"], m["delivered_locally"]) for m in rows] == [("delivered", True)] * 2
    assert rows[0]["text"] == "message 0 <!channel>"  # kept verbatim
    assert cli("outbox", "list").code == 0


def test_outbox_retry_sends_failed_messages_again(cli, session, slack) -> None:  # type: ignore[no-untyped-def]
    """A message stopped by a permanent error (the bot not in the channel) is pending again
    after `outbox retry`, and delivered; bad ids and delivered messages are refused, and
    nothing is requeued when one id of several is wrong."""
    from integrations.settings import get_settings
    from integrations.slack.client import clients_from_settings
    from integrations.slack.outbox import DeliveryPolicy, deliver_pending
    from integrations.slack.senders import SlackSender
    from roles.outbox import enqueue

    def deliver(wait_s: float = 0.0) -> None:  # wait_s: through the channels' pace
        clients = clients_from_settings(get_settings())
        assert clients is not None
        deliver_pending(
            sender=SlackSender(*clients), policy=DeliveryPolicy(poll_s=0.01), wait_s=wait_s
        )

    slack.fail_channel("CLOST", "not_in_channel")
    slack.fail_channel("CGONE", "channel_not_found")
    ids = []
    for channel in ("CLOST", "CGONE", "COK", "CLOST"):
        ids.append(enqueue(session, channel=channel, kind="notice", text="hi", blocks=[]).id)
    session.commit()
    deliver()
    failed = [m["id"] for m in cli("outbox", "list", "--failed", "--json").json()]
    assert failed == ids[:2]
    # the last one waits behind the first: a channel's messages go in order
    waiting = cli("outbox", "list", "--pending").stdout
    assert f"waits behind failed message {ids[0]} (`promptloop outbox retry {ids[0]}`)" in waiting

    both = cli("outbox", "retry", str(ids[0]), str(ids[2]))  # the third was delivered
    assert both.code == 2 and f"outbox message {ids[2]} is delivered, not failed" in both.stderr
    assert cli("outbox", "retry", "999").code == 2
    assert cli("outbox", "retry").code == 2  # neither ids nor --all-failed
    assert [m["id"] for m in cli("outbox", "list", "--failed", "--json").json()] == failed

    slack.recover()  # someone invited the bot
    retried = cli("outbox", "retry", "--all-failed", "--json")
    assert retried.code == 0 and retried.json() == {"requeued": ids[:2]}
    deliver(wait_s=5)
    still = cli("outbox", "list", "--failed", "--json").json()
    assert still == [], [(m["id"], m["error"]) for m in still]
    left = cli("outbox", "list", "--pending", "--json").json()
    assert left == [], [
        (m["id"], m["status"], m["channel"]) for m in left
    ]  # the one behind went too
    assert "no failed messages" in cli("outbox", "retry", "--all-failed").stderr


def test_a_piped_table_keeps_every_character(cli, session) -> None:  # type: ignore[no-untyped-def]
    """Not on a terminal (a pipe, a file), a table is as wide as its cells: a long value is
    printed whole, not cut at 80 columns."""
    from roles.outbox import enqueue

    text = "a notice whose first line is long enough to need more than eighty columns " * 2
    enqueue(session, channel="C0LONGCHANNEL", kind="notice", text=text.strip(), blocks=[])
    session.commit()
    listed = cli("outbox", "list").stdout
    assert "C0LONGCHANNEL" in listed and max(len(line) for line in listed.splitlines()) > 80
