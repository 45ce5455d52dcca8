"""``X-Promptloop-Ledger`` on every gateway response: which ledger answered.

Two homes on one machine each run a gateway; a request sent to the wrong port (Slack's
request URL, a client of ``GET /prompts/…``) would otherwise get a plausible answer from
the wrong ledger. Every response names the ledger (``integrations.db.ledger_tag``), and
``/healthz`` also shows its URL without the password, so a client can check it.
"""

from __future__ import annotations

from typing import Any

HEADER = b"x-promptloop-ledger"


class LedgerHeader:
    """Pure ASGI middleware: adds the header to each HTTP response's start."""

    def __init__(self, app: Any, tag: str | None = None) -> None:
        from integrations.db import ledger_tag

        self.app, self.tag = app, (tag or ledger_tag()).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def send_named(message: Any) -> None:
            if message.get("type") == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, self.tag)]}
            await send(message)

        await self.app(scope, receive, send_named)


def ledger_fields() -> dict[str, str]:
    """What ``/healthz`` says about the ledger it serves."""
    from integrations.db import ledger_tag, shown_url

    return {"ledger_tag": ledger_tag(), "ledger_url": shown_url()}
