"""POSTing a queued webhook event: signed afresh at each attempt, the same body and
delivery id every time, its outcome classified for the outbox.

- 2xx: delivered.
- a connection error or timeout, 5xx, 429 (its ``Retry-After``): transient, tried again
  with backoff (the outbox's); the receiver may see the event again, with the same
  ``X-Promptloop-Delivery``, if an earlier attempt reached it.
- any other status: permanent; the row is ``failed`` with it (``promptloop outbox list``).
"""

from __future__ import annotations

import json
import time

import httpx

from integrations.delivery_errors import PermanentDeliveryError, TransientDeliveryError
from integrations.settings import Settings
from integrations.webhooks.signing import signed_headers
from roles.ledger import OutboxMessage


class WebhookSender:
    def __init__(self, *, url: str, secret: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(self, message: OutboxMessage) -> None:
        body = message.text.encode()
        event = json.loads(message.text)
        headers = signed_headers(
            body,
            secret=self._secret,
            timestamp=int(time.time()),
            delivery_id=str(event["delivery_id"]),
            event=str(event["type"]),
        )
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"webhook: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        said = f"webhook answered HTTP {status}"
        if status == 429 or status >= 500:
            raise TransientDeliveryError(said, _retry_after(response))
        detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise PermanentDeliveryError(said + (f": {detail}" if detail else ""))

    def close(self) -> None:
        self._client.close()


def webhook_sender_from_settings(settings: Settings) -> WebhookSender | None:
    """The sender for ``PROMPTLOOP_DEPLOY_WEBHOOK_URL``, or ``None`` when it is unset."""
    if not settings.deploy_webhook_url or settings.deploy_webhook_secret is None:
        return None
    return WebhookSender(
        url=settings.deploy_webhook_url,
        secret=settings.deploy_webhook_secret.get_secret_value(),
        timeout_s=settings.deploy_webhook_timeout_s,
    )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:  # absent, or an HTTP date: the outbox's own backoff
        return None
