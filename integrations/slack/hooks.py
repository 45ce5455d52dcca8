"""What the gateway calls when a vote concludes a review, kept off the request path.

``serve`` passes a function that resumes the change's suspended pipeline run; the CLI's
``promptloop gateway`` passes one that nudges a running serve. It runs on a thread of its
own, one call at a time, after the vote is committed; a failure is logged with its
traceback (the run is then woken by serve's reconciler, which reads the ledger).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

log = logging.getLogger("promptloop.gateway")

OnReviewConcluded = Callable[[int], None]


class ConclusionHook:
    def __init__(self, function: OnReviewConcluded | None = None) -> None:
        self._function = function
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-concluded")

    def __call__(self, change_id: int) -> None:
        if self._function is None:
            return
        future = self._executor.submit(self._function, change_id)
        future.add_done_callback(lambda done: _log_failure(change_id, done))

    def shutdown(self) -> None:
        """Wait for the calls already made, then stop."""
        self._executor.shutdown(wait=True)


def _log_failure(change_id: int, future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.error(
            "on_review_concluded(%d) failed; serve's reconciler wakes the run instead",
            change_id,
            exc_info=error,
        )
