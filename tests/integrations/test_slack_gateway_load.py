"""Fifty experts click at once, on two reviews: every click acked, every vote counted exactly
once, and each review concluded once (SQLite and PostgreSQL). How fast the acks come, next to
`GET /healthz` at the same concurrency, is `benchmarks/gateway_ack.py`'s to measure: a timed
assertion here fails on a busy machine, not on slow code."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway, review_in_slack, votes
from sqlmodel import Session

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.signing import click, signed
from roles.roster import Person, sync_team
from roles.who import Who

CLICKS = 50
BURNERS = 4  # busy processes on a 2-core machine: the load at which a click was once lost


@pytest.fixture(params=["idle", pytest.param("loaded", marks=pytest.mark.slow)])
def cpu(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine as it is, or with every core kept busy by other processes (a click once
    failed with "database is locked" at load 9 while the ledger's writers waited)."""
    burners = []
    if request.param == "loaded":
        burners = [
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)
        ]
    try:
        yield request.param
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def test_fifty_concurrent_clicks_are_all_acked_and_counted_once(
    cpu: str, gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        first_change, first_items = review_in_slack(session, items=CLICKS // 2)
        second_change, second_items = review_in_slack(session, items=CLICKS // 2, variant="b")
        items = first_items + second_items
        assert len(items) == CLICKS
        experts = [f"U9{n:04d}" for n in range(CLICKS)]
        people = [
            Person(handle=f"expert{n}", name=f"Expert {n}", roles=["expert"], slack_user_id=user)
            for n, user in enumerate(experts)
        ]
        sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
        session.commit()
        requests = [
            signed(click(user=user, action_id=ids.REVIEW_PASS, value=item), secret=SECRET)
            for user, item in zip(experts, items, strict=True)
        ]

        def send(request: tuple[str, dict[str, str]]) -> int:
            body, headers = request
            with httpx.Client(base_url=gateway.url, timeout=30) as client:
                return client.post("/slack/events", content=body, headers=headers).status_code

        with ThreadPoolExecutor(CLICKS) as pool:
            acks = list(pool.map(send, requests))
        assert acks == [200] * CLICKS

        deadline = time.monotonic() + 120
        while len(votes(session)) < CLICKS or len(gateway.concluded) < 2:
            assert time.monotonic() < deadline, f"{len(votes(session))} votes so far"
            time.sleep(0.1)
        counted = {(v.review_item_id, v.member_id) for v in votes(session)}
        assert len(votes(session)) == CLICKS and len(counted) == CLICKS
        assert sorted(gateway.concluded) == sorted([first_change, second_change])
