"""The Slack gateway running for a test: real Bolt under real uvicorn on a free port, on
an event loop of its own thread, against the test's ledger and fake Slack; signed
requests sent to it over HTTP as Slack sends them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import httpx
from review_support import change_in_review, exact, open_census_review
from sqlmodel import Session, col, select

from integrations.slack.review import post_opened_review
from integrations.slack.signing import signed
from roles.ledger import ReviewItem, Vote

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class RunningGateway:
    def __init__(self, url: str) -> None:
        self.url = url
        self.concluded: list[int] = []
        self.http = httpx.Client(base_url=url, timeout=10)
        self._stop: Callable[[], None] = lambda: None

    def stop(self) -> None:
        """Stop the gateway as serve does, once the work of every request it acknowledged is
        done: what a test then finds is all those requests did (no sleep-and-hope)."""
        self._stop()

    def post(
        self, payload: dict[str, Any], *, timestamp: int | None = None, secret: str = SECRET
    ) -> httpx.Response:
        body, headers = signed(payload, secret=secret, timestamp=timestamp)
        return self.http.post("/slack/events", content=body, headers=headers)

    def send(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return self.http.post("/slack/events", content=body, headers=headers)


@contextmanager
def in_own_loop(main: Coroutine[Any, Any, None]) -> Iterator[Future[None]]:
    """Run ``main`` on an event loop of its own thread; at the end, cancel it as serve
    does and wait until it has stopped (what it raised, other than that, fails the test)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    stop = asyncio.Event()

    async def until_stopped() -> None:
        serving = asyncio.ensure_future(main)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([serving, stopping], return_when="FIRST_COMPLETED")
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    future = asyncio.run_coroutine_threadsafe(until_stopped(), loop)
    try:
        yield future
    finally:
        loop.call_soon_threadsafe(stop.set)
        future.result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def running_gateway(**kwargs: Any) -> Iterator[RunningGateway]:
    """``serve_gateway`` on 127.0.0.1:0 until the block ends."""
    from integrations.slack.gateway_server import serve_gateway

    urls: list[str] = []
    listening = threading.Event()
    concluded: list[int] = []

    def announce(line: str) -> None:
        urls.append(line.split()[4])
        listening.set()

    main = serve_gateway(
        "127.0.0.1", 0, on_review_concluded=concluded.append, announce=announce, **kwargs
    )
    with contextlib.ExitStack() as running:
        future = running.enter_context(in_own_loop(main))
        while not listening.wait(0.05):
            if future.done():
                future.result()  # raises what stopped it
        gateway = RunningGateway(urls[0])
        gateway.concluded = concluded
        running.enter_context(gateway.http)
        gateway._stop = running.close  # at most once: a closed stack is empty
        yield gateway


def review_in_slack(
    session: Session, *, items: int = 2, variant: str = "", wrong: tuple[str, ...] = ()
) -> tuple[int, list[int]]:
    """A change in review with its messages in the outbox: (change id, review item ids)."""
    change_id = change_in_review(session, variant=variant, wrong=set(wrong))
    # A census of ``items``: its last vote decides it (a stratified sample of so few labels
    # would ask for more), which the gateway's tests of a concluding vote need.
    review = open_census_review(session, change_id, exact(items, min_experts=1))
    post_opened_review(session, review=review, reasons=["ok: target correct improved"])
    session.commit()
    rows = session.exec(
        select(ReviewItem.id)
        .where(ReviewItem.review_id == review.id)
        .order_by(col(ReviewItem.position))
    ).all()
    return change_id, [r for r in rows if r is not None]


def votes(session: Session) -> list[Vote]:
    session.expire_all()
    return list(session.exec(select(Vote).order_by(col(Vote.id))).all())
