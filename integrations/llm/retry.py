"""When to try a model call again, and how long to wait first.

Exponential backoff with full jitter (a uniform wait between 0 and ``base * 2**retry``,
capped), unless the server said how long to wait: ``Retry-After`` (seconds or an HTTP
date) or OpenAI's ``retry-after-ms``, itself capped so a confused server cannot park a run.

    >>> policy = RetryPolicy(max_retries=4, base_delay_s=0.5)
    >>> policy.attempts
    5
    >>> policy.delay(retry=0, retry_after=2.0)
    2.0
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from integrations.settings import Settings

# 408 request timeout, 409 lock contention (OpenAI asks to retry), 429 rate limit, 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or status >= 500


def is_outage_status(status: int) -> bool:
    """The endpoint's fault, whatever the item: down or overloaded (after the retries), a
    refused or missing key (401, 403), a wrong URL or model name (404). Other 4xx answers
    (400, 413, 422: a request the endpoint would not take) belong to the item."""
    return is_retryable_status(status) or status in (401, 403, 404)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_after_max_s: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_retries=settings.max_retries,
            base_delay_s=settings.retry_base_delay_s,
            max_delay_s=settings.retry_max_delay_s,
            retry_after_max_s=settings.retry_after_max_s,
        )

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def delay(self, *, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_max_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**retry)
        return random.uniform(0.0, ceiling)


def retry_after_s(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The wait a response asks for, in seconds, or None if it names none we can read."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
