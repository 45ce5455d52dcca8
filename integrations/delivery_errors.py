"""What a failed delivery of an outbox message means: try again later, or never.

Slack's errors (``integrations.slack.client``) and the deploy webhook's
(``integrations.webhooks.sender``) are both of these, so the outbox's delivery loop
backs off or stops a message the same way whatever carries it.
"""

from __future__ import annotations


class DeliveryError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class TransientDeliveryError(DeliveryError):
    """Down, slow or rate limiting: the same call can succeed later."""

    def __init__(self, error: str, retry_after_s: float | None = None) -> None:
        super().__init__(error)
        self.retry_after_s = retry_after_s  # what a 429's Retry-After asked for


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: the message stops with this error recorded."""
