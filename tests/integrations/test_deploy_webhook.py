"""The deploy webhook, on SQLite and PostgreSQL: each deploy and each rollback queues one
event with its deployment (the CLI's paths), the outbox POSTs it to a real local HTTP
receiver that checks the signature as the README tells receivers to, retries what is
transient with the same delivery id, and stops on a 4xx, visible in `outbox list`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from deploy_support import Receiver, awaiting_approval, bound_socket, deploy, webhook_receiver
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack.outbox import DeliveryPolicy, deliver_pending
from roles.ledger import Deployment, OutboxMessage, PromptVersion

SECRET = "whsec-test-0123456789"
FAST = DeliveryPolicy(backoff_base_s=0.02, backoff_max_s=0.1, poll_s=0.01)


def readme_verify() -> Callable[[str, str, str, bytes], bool]:
    """The receiver's check exactly as the README gives it (its Python block)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "def verify(" in b]
    namespace: dict[str, object] = {}
    exec(block, namespace)
    return namespace["verify"]  # type: ignore[return-value]


verify = readme_verify()


def configure(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_URL", url)
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_TIMEOUT_S", "2")
    get_settings.cache_clear()


def webhook_rows() -> list[OutboxMessage]:
    with Session(get_engine()) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "webhook")))


def headers(received: object) -> dict[str, str]:
    return {k.lower(): v for k, v in received.headers.items()}  # type: ignore[attr-defined]


def assert_signed(receiver: Receiver) -> None:
    for got in receiver.received:
        h = headers(got)
        assert verify(SECRET, h["x-promptloop-timestamp"], h["x-promptloop-signature"], got.body)
        assert not verify(
            "another secret", h["x-promptloop-timestamp"], h["x-promptloop-signature"], got.body
        )
        assert h["x-promptloop-delivery"] == got.json()["delivery_id"]
        assert h["x-promptloop-event"] == got.json()["type"]
        assert h["content-type"] == "application/json"


def test_one_signed_event_per_deploy_and_per_rollback(
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    with webhook_receiver() as receiver:
        configure(monkeypatch, receiver.url)
        change_id = awaiting_approval()
        approved = cli("change", "approve", str(change_id), "--as", "sam")
        assert approved.code == 0, approved.stderr
        assert len(webhook_rows()) == 1  # queued with the deployment, before any delivery
        rolled = cli(
            "prompt", "rollback", "support-triage", "--as", "lee", "--reason", "tickets misrouted"
        )
        assert rolled.code == 0, rolled.stderr
        report = deliver_pending(policy=FAST, wait_s=5)
        assert report.failed == 0 and report.left == 0
        again = deliver_pending(policy=FAST)  # delivered once: nothing goes twice
        assert again.delivered == 0
    assert len(receiver.received) == 2
    assert_signed(receiver)
    deployed, rolled_back = (r.json() for r in receiver.received)
    with Session(get_engine()) as session:
        rows = session.exec(select(Deployment).order_by(Deployment.id)).all()  # type: ignore[arg-type]
        numbers = {v.id: v.number for v in session.exec(select(PromptVersion))}
    assert [r.kind for r in rows] == ["deploy", "rollback"]
    assert deployed["type"] == "deployed" and rolled_back["type"] == "rolled_back"
    assert deployed["deployment_id"] == rows[0].id and rolled_back["deployment_id"] == rows[1].id
    assert deployed["prompt"] == rolled_back["prompt"] == "support-triage"
    assert deployed["label"] == "production" and deployed["change_id"] == change_id
    assert deployed["from_version"] == {"id": rows[0].from_version_id, "number": 1}
    assert deployed["to_version"] == {"id": rows[0].to_version_id, "number": 2}
    assert rolled_back["from_version"] == deployed["to_version"]
    assert rolled_back["to_version"] == deployed["from_version"]
    assert numbers[rolled_back["to_version"]["id"]] == 1
    assert rolled_back["change_id"] == change_id and rolled_back["note"] == "tickets misrouted"
    assert deployed["actor"] == {"handle": "sam", "slack_user_id": "U04SAM"}
    assert rolled_back["actor"]["handle"] == "lee"
    assert deployed["at"].endswith("Z") and deployed["override"] is None
    assert deployed["ledger"] and deployed["delivery_id"] != rolled_back["delivery_id"]
    rows_now = webhook_rows()
    assert [r.status for r in rows_now] == ["delivered", "delivered"]
    assert not any(r.delivered_locally for r in rows_now)


def test_receiver_down_then_up_gets_the_event_after_retries_with_one_delivery_id(
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    sock = bound_socket()  # refused until the receiver listens on it; no one else takes it
    port = sock.getsockname()[1]
    configure(monkeypatch, f"http://127.0.0.1:{port}/hooks/promptloop")
    deploy(awaiting_approval())
    down = deliver_pending(policy=FAST, wait_s=0.3)  # nothing listens on the port
    assert down.retried >= 2 and down.left == 1
    (row,) = webhook_rows()
    assert row.status == "pending" and "ConnectError" in (row.error or "")
    with webhook_receiver(sock=sock) as receiver:
        up = deliver_pending(policy=FAST, wait_s=5)
    assert up.posted == 1 and up.left == 0
    assert len(receiver.received) == 1
    assert_signed(receiver)
    (row,) = webhook_rows()
    assert row.status == "delivered" and row.attempts >= 3 and row.error is None


def test_500_twice_then_429_then_200_is_one_logical_delivery(
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    with webhook_receiver(statuses=[500, 503, 429]) as receiver:
        configure(monkeypatch, receiver.url)
        deploy(awaiting_approval())
        report = deliver_pending(policy=FAST, wait_s=10)
    assert report.retried == 3 and report.posted == 1 and report.left == 0  # (Slack: local)
    assert len(receiver.received) == 4
    assert_signed(receiver)
    assert len({headers(r)["x-promptloop-delivery"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1  # the same body, signed afresh
    (row,) = webhook_rows()
    assert row.status == "delivered" and row.attempts == 4


def test_a_400_fails_the_event_and_outbox_list_shows_it(
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    with webhook_receiver(statuses=[400]) as receiver:
        configure(monkeypatch, receiver.url)
        change_id = awaiting_approval()
        deploy(change_id)
        report = deliver_pending(policy=FAST, wait_s=2)
    assert report.failed == 1 and len(receiver.received) == 1
    listed = cli("outbox", "list", "--failed", "--json")
    assert listed.code == 0, listed.stderr
    (failed,) = listed.json()
    assert failed["kind"] == "webhook" and failed["channel"] == "webhook:deploy"
    assert failed["change_id"] == change_id
    assert failed["error"].startswith("webhook answered HTTP 400")
    table = cli("outbox", "list", "--failed").stdout  # columns wrap: the pieces are there
    assert "webhook:deploy" in table and "│ failed │" in table and "400" in table


def test_no_url_no_event(cli) -> None:  # type: ignore[no-untyped-def]
    change_id = awaiting_approval()
    deploy(change_id)
    assert cli("prompt", "rollback", "support-triage", "--as", "lee").code == 0
    assert webhook_rows() == []


def test_a_url_without_its_secret_is_refused_at_start(
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    get_settings.cache_clear()
    result = cli("change", "list")
    assert result.code == 2
    assert "PROMPTLOOP_DEPLOY_WEBHOOK_SECRET" in result.stderr
    assert "required when PROMPTLOOP_DEPLOY_WEBHOOK_URL is set" in result.stderr
