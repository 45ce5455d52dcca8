"""A vote's cost does not grow with its review, and a slow Slack answer to one voter does
not hold up the next votes (SQLite and PostgreSQL). How long a burst of 200 clicks takes
to be counted is `benchmarks/vote_latency.py`'s to measure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, review_in_slack, running_gateway, votes
from sqlalchemy import event
from sqlmodel import Session

from integrations.actions.door import Door
from integrations.actions.reviews import vote
from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.signing import click, signed
from roles.roster import Person, sync_team
from roles.who import Who

HANG_S = 4.0  # how long fake Slack takes to answer each voter


def _experts(session: Session, count: int) -> list[str]:
    users = [f"U7{n:04d}" for n in range(count)]
    people = [
        Person(handle=f"lane{n}", name=f"Lane {n}", roles=["expert"], slack_user_id=user)
        for n, user in enumerate(users)
    ]
    sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
    session.commit()
    return users


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL statements run on the ledger while the block runs."""
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(get_engine(), "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(get_engine(), "before_cursor_execute", count)


def test_a_votes_work_does_not_grow_with_its_review(gateway_env: FakeSlackServer) -> None:
    """Each vote re-rendered every item of its review (O(items) in the write lock); now
    the voted item's message and the parent's count only, the same for 2 items or 20."""
    with Session(get_engine(), expire_on_commit=False) as session:
        _, small = review_in_slack(session, items=2)
        _, large = review_in_slack(session, items=20, variant="b")
        first, second = _experts(session, 2)
    cost = []
    for items in (small, large):
        for user in (first, second):  # the second vote on an item leaves the parent as it is
            with _statements() as seen:
                door = Door.slack(user, waker=lambda _: None)
                vote(door, review_item_id=items[0], verdict="pass")
            cost.append(len(seen))
    assert cost[0] == cost[2] and cost[1] == cost[3], cost
    assert cost[1] < cost[0]


def test_a_slow_answer_to_one_voter_does_not_hold_up_the_next_votes(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve clicks while Slack takes 4 s to answer each voter: every vote is counted
    before the first answer has come back (8 threads that each waited for their voter's
    answer counted the 9th vote 4 s later)."""
    monkeypatch.setenv("PROMPTLOOP_SLACK_TIMEOUT_S", "30")  # slow, not failing
    get_settings.cache_clear()
    with Session(get_engine(), expire_on_commit=False) as session, running_gateway() as gateway:
        _, items = review_in_slack(session, items=12)
        users = _experts(session, 12)
        gateway_env.hang(HANG_S, times=12, process=True, method="chat.postEphemeral")
        sent = time.monotonic()
        for user, item in zip(users, items, strict=True):
            body, headers = signed(
                click(user=user, action_id=ids.REVIEW_PASS, value=item), secret=SECRET
            )
            assert gateway.send(body, headers).status_code == 200
        while len(votes(session)) < 12:
            assert time.monotonic() - sent < 60, f"{len(votes(session))} votes so far"
            time.sleep(0.05)
        answers = gateway_env.calls_to("chat.postEphemeral")
        assert answers, "no voter was answered yet"
        # every vote is in while the first answer is still on its way
        assert time.monotonic() - answers[0].at < HANG_S
