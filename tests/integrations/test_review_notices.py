"""Slack follows the review: every vote updates its messages (how many voted, never the
split), the vote that closes it shows each item's outcome, announces the close in the
thread and tells the author why the change came back (the CLI, on both ledgers)."""

from __future__ import annotations

import json

from review_support import change_in_review, exact, open_census_review
from sqlmodel import Session

from integrations.db import get_engine
from integrations.slack.review import post_opened_review


def _outbox(cli) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Every outbox row by its key, as the delivery loop will read it."""
    from sqlmodel import select

    from roles.ledger import OutboxMessage

    with Session(get_engine()) as session:
        rows = session.exec(select(OutboxMessage)).all()
        return {r.key or str(r.id): r.model_dump() for r in rows}


def test_votes_update_the_messages_and_a_closed_review_tells_the_author(cli) -> None:  # type: ignore[no-untyped-def]
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, wrong={"t01", "t02", "t03"})
        # a census of two wrong answers: the second vote decides it (fails: 2/2)
        review = open_census_review(session, change_id, exact(2), items=("t01", "t02"))
        post_opened_review(session, review=review, reasons=["ok: target correct improved"])
        session.commit()
        review_id = review.id
    first, second = (i["review_item_id"] for i in cli("review", "list", "--json").json())
    parent_key = f"review:{change_id}:{review_id}"

    voted = cli(
        "review", "vote", str(first), "fail", "--category", "wrong",
        "--reason", "it is a <!channel> billing ticket", "--as", "omar",
    )  # fmt: skip
    assert voted.code == 0, voted.stderr
    rows = _outbox(cli)
    item = json.dumps(rows[f"{parent_key}:item:{first}"]["blocks"])
    assert "1 expert voted" in item  # blind: neither the verdict nor its reason shows
    assert "billing ticket" not in item and "wrong" not in item and "0 pass" not in item
    assert rows[f"{parent_key}:item:{first}"]["revision"] == 2  # written, then updated once
    assert "1/2 voted" in json.dumps(rows[parent_key]["blocks"])

    closing = cli("review", "vote", str(second), "fail", "--category", "tone", "--as", "ines")
    assert closing.code == 0, closing.stderr
    rows = _outbox(cli)
    for sample in (first, second):
        blocks = json.dumps(rows[f"{parent_key}:item:{sample}"]["blocks"])
        assert (
            "Closed: failed (0 pass, 1 fail); review failed" in blocks
            and "review_pass" not in blocks
        )
    closed = rows[f"notice:{change_id}:review:{review_id}:closed"]
    assert closed["parent_id"] == rows[parent_key]["id"]  # in the review's thread
    to_author = rows[f"notice:{change_id}:author:review:{review_id}"]
    assert to_author["channel"] == "U01MAYA"  # maya's Slack user: a direct message
    text = json.dumps(to_author["blocks"])
    assert "needs changes" in text and "wrong" in text and "tone" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert f"promptloop change revise {change_id}" in text
