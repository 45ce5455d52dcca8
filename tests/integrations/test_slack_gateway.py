"""The Slack gateway as Slack meets it: signed requests over HTTP to real Bolt under real
uvicorn, the ledger real, Slack's Web API the fake at its protocol."""

from __future__ import annotations

import time

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import RunningGateway, review_in_slack, votes
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.signing import click, signed
from roles.ledger import Review, SlackRequest

SQLITE = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)
OMAR, INES, SAM = "U02OMAR", "U03INES", "U04SAM"  # two experts and an engineer


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def ephemerals_to(slack: FakeSlackServer, user: str) -> list[str]:
    return [e["text"] for e in slack.ephemerals if e["user"] == user]


def test_a_pass_click_is_acked_then_recorded_with_its_messages(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id, (first, second) = review_in_slack(session)
        answered = gateway.post(click(user=OMAR, action_id=ids.REVIEW_PASS, value=first))
        assert answered.status_code == 200 and answered.text == ""
        wait_for(lambda: ephemerals_to(gateway_env, OMAR))
        (vote,) = votes(session)
        assert (vote.review_item_id, vote.verdict, vote.source) == (first, "pass", "slack")
        assert "Recorded: pass" in ephemerals_to(gateway_env, OMAR)[0]
        assert gateway.concluded == []

        gateway.post(click(user=INES, action_id=ids.REVIEW_PASS, value=second))
        wait_for(lambda: gateway.concluded)
        assert gateway.concluded == [change_id]
        review = session.exec(select(Review)).one()
        assert (review.status, review.outcome) == ("complete", "passed")
        gateway.stop()  # every click's work is done
        assert gateway.concluded == [change_id]  # once


@SQLITE
def test_forged_and_stale_requests_are_refused_and_write_nothing(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        payload = click(user=OMAR, action_id=ids.REVIEW_PASS, value=first)
        forged = gateway.post(payload, secret="not-the-secret")
        stale = gateway.post(payload, timestamp=int(time.time()) - 301)
        body, headers = signed(payload, secret="x")
        unsigned = gateway.send(body, {"Content-Type": headers["Content-Type"]})
        assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
        gateway.stop()  # had it taken any of them, that work would be done now
        assert votes(session) == [] and session.exec(select(SlackRequest)).all() == []
        assert gateway_env.ephemerals == []


@SQLITE
def test_the_same_signed_request_twice_counts_once(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        body, headers = signed(
            click(user=OMAR, action_id=ids.REVIEW_PASS, value=first), secret=gateway_secret()
        )
        assert gateway.send(body, headers).status_code == 200
        wait_for(lambda: votes(session))
        assert gateway.send(body, headers).status_code == 200  # acked: it is Slack's format
        gateway.stop()  # the replay's work, if any, is done
        assert len(votes(session)) == 1
        assert len(session.exec(select(SlackRequest)).all()) == 1
        assert len(ephemerals_to(gateway_env, OMAR)) == 1


def gateway_secret() -> str:
    from gateway_support import SECRET

    return SECRET
