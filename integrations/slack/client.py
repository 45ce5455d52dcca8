"""The Slack Web API client, and what its errors mean for a message we are delivering.

    >>> from integrations.slack.client import make_client
    >>> client = make_client(token="xoxb-…", base_url="http://127.0.0.1:8000/api/")  # doctest: +SKIP

The client retries 429 (sleeping ``Retry-After``), 500/503 and connection errors itself,
a few times. What is still failing after that is classified: :class:`TransientSlackError`
(try again later) or :class:`PermanentSlackError` (retrying cannot help).

The bot token needs the scopes ``chat:write`` (posts and updates), ``channels:history``,
``groups:history`` and ``im:history`` (finding a post of unknown outcome), ``im:write``
(direct messages to a member), and the bot must be in the channels it posts to.
"""

from __future__ import annotations

import http.client
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter

from integrations.delivery_errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from integrations.settings import Settings

SLACK_API_URL = "https://slack.com/api/"
# Errors that say "not now" rather than "never": Slack's own trouble.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackDeliveryError(DeliveryError):
    """A Slack call that failed, with Slack's error name."""


class TransientSlackError(SlackDeliveryError, TransientDeliveryError):
    """Slack is down, slow or rate limiting: the same call can succeed later."""


class PermanentSlackError(SlackDeliveryError, PermanentDeliveryError):
    """``channel_not_found``, ``not_in_channel``, ``invalid_auth``…: retrying cannot help."""


class _ShareJitter(Jitter):
    """Sleep a random 50–100 % of the step, so a small base delay stays small."""

    def recalculate(self, duration: float) -> float:
        return duration * (0.5 + random.random() / 2)


def make_client(
    *,
    token: str,
    base_url: str = SLACK_API_URL,
    timeout_s: float = 10.0,
    max_retries: int = 2,
    base_delay_s: float = 0.5,
    retry_unsafe: bool = True,
) -> WebClient:
    """A ``WebClient`` that retries 429 (Retry-After) and, if ``retry_unsafe``, 5xx and
    connection errors. A post must not be retried blindly: a reset connection or a 500 may
    come after Slack stored the message, so the outbox retries posts itself, after a look-up.
    """
    interval = BackoffRetryIntervalCalculator(backoff_factor=base_delay_s, jitter=_ShareJitter())
    handlers: list[RetryHandler] = [RateLimitErrorRetryHandler(max_retry_count=max_retries)]
    if retry_unsafe:
        handlers += [
            ConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
            ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        ]
    return WebClient(
        token=token, base_url=base_url, timeout=int(max(timeout_s, 1)), retry_handlers=handlers
    )


def clients_from_settings(settings: Settings) -> tuple[WebClient, WebClient] | None:
    """(client for idempotent calls, client for posts), or ``None`` without a bot token."""
    if settings.slack_bot_token is None:
        return None
    options = {
        "token": settings.slack_bot_token.get_secret_value(),
        "base_url": settings.slack_api_url or SLACK_API_URL,
        "timeout_s": settings.slack_timeout_s,
        "max_retries": settings.slack_max_retries,
        "base_delay_s": settings.retry_base_delay_s,
    }
    return make_client(**options), make_client(**options, retry_unsafe=False)  # type: ignore[arg-type]


@contextmanager
def slack_errors() -> Iterator[None]:
    """Inside it, Slack's failures surface as Transient- or PermanentSlackError."""
    try:
        yield
    except Exception as exc:
        meaning = classify(exc)
        if meaning is None:
            raise
        raise meaning from exc


def classify(exc: Exception) -> SlackDeliveryError | None:
    """What a failed call means for the message, or ``None`` if it is not Slack's failure."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"HTTP {status}")
        if status == 429 or status >= 500 or error in TRANSIENT_ERRORS:
            return TransientSlackError(
                f"{error} (HTTP {status})", _retry_after(exc.response.headers)
            )
        return PermanentSlackError(error)
    if isinstance(exc, URLError | OSError | http.client.HTTPException):
        reason = getattr(exc, "reason", None) or exc
        return TransientSlackError(f"connection error: {reason}")
    return None


def _retry_after(headers: dict[str, Any]) -> float | None:
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError):
                return None
    return None
