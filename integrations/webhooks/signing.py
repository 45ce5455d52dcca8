"""The deploy webhook's signature, as a receiver checks it.

``X-Promptloop-Signature: v1=<hex>`` where ``<hex>`` is HMAC-SHA256, keyed with
``PROMPTLOOP_DEPLOY_WEBHOOK_SECRET``, of ``f"{timestamp}.{body}"``: the value of
``X-Promptloop-Timestamp`` (Unix seconds, taken at each attempt), a dot, and the raw
request body, byte for byte. A receiver refuses a timestamp more than five minutes from
its clock (a replay), and dedupes on ``X-Promptloop-Delivery`` (the same on every retry).

    >>> signature(b'{"type":"deployed"}', secret="s3cret", timestamp=1700000000)[:3]
    'v1='
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
SIGNATURE_HEADER = "X-Promptloop-Signature"
TIMESTAMP_HEADER = "X-Promptloop-Timestamp"
DELIVERY_HEADER = "X-Promptloop-Delivery"
EVENT_HEADER = "X-Promptloop-Event"


def signature(body: bytes, *, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, *, secret: str, timestamp: int, delivery_id: str, event: str
) -> dict[str, str]:
    """What one POST of ``body`` carries: its type, signature, timestamp and delivery id."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "promptloop-webhook/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(body, secret=secret, timestamp=timestamp),
    }
