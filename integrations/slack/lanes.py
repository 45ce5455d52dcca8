"""Where the gateway's vote work runs once a click is acked: a lane that writes the votes
and another that answers the voters.

A vote is about 15 ms of ledger work (the vote, its review's count, the voted item's
message); telling the voter what was recorded is a Slack call (100-300 ms). Both used to
share 8 threads, each writing a vote and then waiting for Slack, and on SQLite the 8
writers queued for its one write lock by polling it (its busy handler sleeps up to 100 ms
between tries): at load 12, the last of 200 clicks was counted 20 s after its ack. Now:

- ``votes``: on SQLite **one** writer thread (SQLite writes one transaction at a time;
  more threads would only poll its lock), on PostgreSQL ``PG_VOTE_WORKERS`` (each review
  is taken row by row, other reviews' votes go on in parallel);
- ``answers``: the Slack calls, so that a vote never waits behind the previous voter's
  answer.

    lanes = VoteLanes.for_ledger(settings.resolved_database_url)
    lanes.vote(write_and_answer)      # in the click's lazy listener
    lanes.answer(post_ephemeral, ...) # after the vote's commit
    lanes.close()                     # the work in hand finishes first
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("promptloop.gateway")

PG_VOTE_WORKERS = 8
ANSWER_WORKERS = 16


@dataclass
class VoteLanes:
    votes: ThreadPoolExecutor
    answers: ThreadPoolExecutor

    @classmethod
    def for_ledger(cls, database_url: str) -> VoteLanes:
        sqlite = make_url(database_url).get_backend_name() == "sqlite"
        return cls(
            votes=ThreadPoolExecutor(
                max_workers=1 if sqlite else PG_VOTE_WORKERS, thread_name_prefix="gateway-vote"
            ),
            answers=ThreadPoolExecutor(
                max_workers=ANSWER_WORKERS, thread_name_prefix="gateway-answer"
            ),
        )

    def vote(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        _logged(self.votes.submit(work, *args, **kwargs))

    def answer(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        _logged(self.answers.submit(work, *args, **kwargs))

    def close(self) -> None:
        """The votes in hand are written, then their answers sent."""
        self.votes.shutdown(wait=True)
        self.answers.shutdown(wait=True)


def _logged(future: Future[Any]) -> None:
    """What a lane's work raised goes to the log with its traceback, not nowhere."""

    def done(f: Future[Any]) -> None:
        if not f.cancelled() and f.exception() is not None:
            log.error("gateway work failed", exc_info=f.exception())

    future.add_done_callback(done)
