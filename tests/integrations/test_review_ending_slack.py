"""A change withdrawn while its review is open: the review closes, its Slack messages lose
their Pass/Fail buttons and say why, the thread is told, and nobody's queue keeps its
items (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from review_support import change_in_review, exact, open_census_review
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.slack.review import close_ended_review, post_opened_review
from roles.clock import utcnow
from roles.ledger import OutboxMessage, Review
from roles.pm import withdraw_change


def _review_in_slack() -> tuple[int, int, list[int]]:
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session)
        review = open_census_review(session, change_id, exact(2))  # two items, no more
        post_opened_review(session, review=review, reasons=["ok: target correct improved"])
        session.commit()
        from roles.review.tally import review_items

        items = [i.id for i in review_items(session, review_id=review.id or 0) if i.id]
        return change_id, review.id or 0, items


def _outbox() -> dict[str, dict[str, Any]]:
    with Session(get_engine()) as session:
        rows = session.exec(select(OutboxMessage)).all()
        return {r.key or str(r.id): r.model_dump() for r in rows}


def _says_it_was_cancelled(change_id: int, review_id: int, items: list[int], why: str) -> None:
    rows = _outbox()
    parent = f"review:{change_id}:{review_id}"
    for item in items:
        blocks = json.dumps(rows[f"{parent}:item:{item}"]["blocks"])
        assert "review_pass" not in blocks and "review_fail" not in blocks  # no buttons
        assert f"no votes (0 pass, 0 fail); review cancelled: {why}" in blocks
        assert rows[f"{parent}:item:{item}"]["status"] == "pending"  # sent as chat.update
    notice = rows[f"notice:{change_id}:review:{review_id}:closed"]
    assert notice["parent_id"] == rows[parent]["id"]  # in the review's thread
    text = json.dumps(notice["blocks"])
    assert f"Review cancelled: change #{change_id} is withdrawn" in text and why in text
    assert f"notice:{change_id}:author:review:{review_id}" not in rows  # the author did it


def test_the_door_closes_the_review_of_a_withdrawn_change(cli) -> None:  # type: ignore[no-untyped-def]
    change_id, review_id, items = _review_in_slack()
    assert len(cli("review", "list", "--as", "omar", "--json").json()) == 2
    with Session(get_engine(), expire_on_commit=False) as session:
        # what the withdraw door does: the roles' withdrawal, then the review's end
        withdraw_change(session, change_id=change_id, author="maya", note="wrong dataset")
        [closed] = close_ended_review(session, change_id=change_id, now=utcnow())
        session.commit()
        assert close_ended_review(session, change_id=change_id, now=utcnow()) == []
    assert closed.outcome == "cancelled" and closed.state == "withdrawn"
    _says_it_was_cancelled(
        change_id, review_id, items, f"change {change_id} was withdrawn by maya: wrong dataset"
    )
    for expert in ("omar", "ines"):
        listed = cli("review", "list", "--as", expert, "--json")
        assert listed.code == 0 and listed.json() == []
    refused = cli("review", "vote", str(items[0]), "pass", "--as", "omar")
    assert refused.code == 1 and "cancelled" in refused.stderr


def test_a_withdrawal_that_left_its_review_open_is_closed_by_the_next_review_command(  # type: ignore[no-untyped-def]
    cli,
) -> None:
    """`change withdraw` from a door that does not close the review (or a ledger from
    before): `review list` runs the deadline check first, which closes it and updates its
    messages; the expert's queue is empty."""
    change_id, review_id, items = _review_in_slack()
    withdrawn = cli("change", "withdraw", str(change_id), "--as", "maya", "--reason", "oops")
    assert withdrawn.code == 0, withdrawn.stderr
    listed = cli("review", "list", "--as", "ines", "--json")
    assert listed.code == 0 and listed.json() == [], listed.stderr
    with Session(get_engine()) as session:
        review = session.get(Review, review_id)
        assert review is not None and review.status == "cancelled"
    _says_it_was_cancelled(
        change_id, review_id, items, f"change {change_id} was withdrawn by maya: oops"
    )
