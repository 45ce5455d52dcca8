"""`promptloop outbox list`: every message, with where it stands."""

from __future__ import annotations

import io


def test_outbox_list_shows_pending_and_delivered_messages(cli, session) -> None:  # type: ignore[no-untyped-def]
    from integrations.slack.outbox import deliver_pending
    from roles.outbox import enqueue

    assert cli("outbox", "list").stderr.strip() == "no messages match"
    for n in range(2):
        enqueue(session, channel="#review", kind="notice", text=f"message {n} <!channel>", blocks=[])
    session.commit()
    pending = cli("outbox", "list", "--pending", "--json").json()
    assert [m["status"] for m in pending] == ["pending", "pending"]
    deliver_pending(stream=io.StringIO())  # no Slack configured: shown as text, kept
    assert cli("outbox", "list", "--pending", "--json").json() == []
    rows = cli("outbox", "list", "--json").json()
    assert [(m["status"], m["delivered_locally"]) for m in rows] == [("delivered", True)] * 2
    assert rows[0]["text"] == "message 0 <!channel>"  # kept verbatim
    assert cli("outbox", "list").code == 0
