"""Beyond one machine: two gateways behind one URL (on one ledger) get the same signed
click at the same moment; it counts once, and the review it completes concludes (wakes its
pipeline) once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway, review_in_slack, running_gateway, votes
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.signing import click, signed
from roles.ledger import SlackRequest

OMAR = "U02OMAR"


@pytest.fixture
def gateways(gateway_env: FakeSlackServer) -> Iterator[list[RunningGateway]]:
    with running_gateway() as first, running_gateway() as second:
        yield [first, second]


def _to_both(gateways: list[RunningGateway], body: str, headers: dict[str, str]) -> list[int]:
    """The same request to every gateway at once (as a retry through a balancer would)."""
    barrier = threading.Barrier(len(gateways))
    statuses: list[int] = []

    def send(gateway: RunningGateway) -> None:
        barrier.wait()
        statuses.append(gateway.send(body, headers).status_code)

    threads = [threading.Thread(target=send, args=(g,)) for g in gateways]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return statuses


def test_one_click_through_two_gateways_counts_once_and_concludes_once(
    gateways: list[RunningGateway], gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, items = review_in_slack(session)  # two items, one expert's votes complete it
        for item in items:
            payload = click(user=OMAR, action_id=ids.REVIEW_PASS, value=item)
            body, headers = signed(payload, secret=SECRET)
            assert _to_both(gateways, body, headers) == [200, 200]
        for gateway in gateways:
            gateway.stop()  # the work of every click either took is done, the loser's too
        assert sorted(v.review_item_id for v in votes(session)) == sorted(items)
        assert len(session.exec(select(SlackRequest)).all()) == len(items)
    concluded = [review for g in gateways for review in g.concluded]
    assert len(concluded) == 1, concluded
    assert len([e for e in gateway_env.ephemerals if e["user"] == OMAR]) == len(items)
