"""Every answer of the gateway names the ledger it serves (``X-Promptloop-Ledger``), and
``/healthz`` shows that ledger's URL without its password: a client sent to another
home's gateway can tell."""

from __future__ import annotations

from gateway_support import RunningGateway

from integrations.db import ledger_tag, shown_url


def test_healthz_and_every_answer_name_the_ledger(gateway: RunningGateway) -> None:
    health = gateway.http.get("/healthz")
    assert health.status_code == 200
    assert health.headers["x-promptloop-ledger"] == ledger_tag()
    assert health.json()["ledger_tag"] == ledger_tag()
    assert health.json()["ledger_url"] == shown_url()
    assert "password" not in health.text

    served = gateway.http.get("/prompts/support-triage", params={"label": "production"})
    assert served.headers["x-promptloop-ledger"] == ledger_tag()
    missing = gateway.http.get("/prompts/no-such-prompt")
    assert missing.status_code == 404
    assert missing.headers["x-promptloop-ledger"] == ledger_tag()
    unsigned = gateway.http.post("/slack/events", content=b"payload=%7B%7D")
    assert unsigned.status_code == 401
    assert unsigned.headers["x-promptloop-ledger"] == ledger_tag()
