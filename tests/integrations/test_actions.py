"""The one door of each human act, on SQLite and PostgreSQL: the same act from the CLI and
from Slack leaves the same rows and outbox messages; a hand move of production (an admin's)
is a deployment of kind manual with the deploy webhook's event; who may move a label is a
rule of roles, said the same way whichever door asks."""

from __future__ import annotations

import json

import pytest
from deploy_support import awaiting_approval
from sqlmodel import Session, col, select

from integrations.actions.deploys import approve
from integrations.actions.door import Door
from integrations.db import get_engine
from integrations.settings import get_settings
from roles.ledger import Approval, Deployment, Handoff, OutboxMessage


def webhook_events() -> list[dict[str, object]]:
    with Session(get_engine()) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(
                col(OutboxMessage.id)
            )
        ).all()
        return [json.loads(r.text) for r in rows]


def with_webhook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("PROMPTLOOP_DEPLOY_WEBHOOK_SECRET", "whsec-test-0123456789")
    get_settings.cache_clear()


def test_an_admin_moving_production_by_hand_is_a_manual_deployment_with_its_event(
    cli, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    with_webhook(monkeypatch)
    awaiting_approval()  # the sample, and a candidate v2
    refused = cli("prompt", "label", "support-triage", "production", "--version", "2", "--as", "sam")
    assert refused.code == 1 and "only an admin moves production by hand" in refused.stderr
    assert webhook_events() == []
    moved = cli(
        "prompt", "label", "support-triage", "production", "--version", "2", "--as", "lee",
        "--note", "hotfix", "--json",
    )  # fmt: skip
    assert moved.code == 0, moved.stderr
    assert moved.json()["from_version"] == 1 and moved.json()["deployment_id"]
    with Session(get_engine()) as session:
        (deployment,) = session.exec(select(Deployment)).all()
    assert (deployment.kind, deployment.note, deployment.change_id) == ("manual", "hotfix", None)
    (event,) = webhook_events()
    assert event["type"] == "deployed" and event["manual"] is True
    assert event["prompt"] == "support-triage"
    assert event["to_version"]["number"] == 2 and event["from_version"]["number"] == 1  # type: ignore[index]
    notices = [m["text"] for m in cli("outbox", "list", "--json").json() if m["kind"] == "notice"]
    assert any("Production moved by hand" in t for t in notices)
    again = cli("prompt", "label", "support-triage", "production", "--version", "2", "--as", "lee")
    assert again.code == 2 and "already points at version 2" in again.stderr
    back = cli("prompt", "label", "support-triage", "production", "--version", "1", "--as", "lee")
    assert back.code == 0, back.stderr
    moves = cli("prompt", "log", "support-triage", "--json").json()["label_moves"]
    notes = {(m["to_version"], m["note"]) for m in moves if m["label"] == "production"}
    assert {(2, "hotfix"), (1, "by hand (a manual deployment)")} <= notes  # not "-"


def test_a_working_label_is_anyones_but_writes_no_deployment(cli) -> None:  # type: ignore[no-untyped-def]
    awaiting_approval()
    moved = cli("prompt", "label", "support-triage", "staging", "--version", "2", "--as", "omar")
    assert moved.code == 0, moved.stderr
    with Session(get_engine()) as session:
        assert session.exec(select(Deployment)).all() == []
    unknown = cli("prompt", "label", "support-triage", "staging", "--version", "1", "--as", "nobody")
    assert unknown.code == 1 and "not on the team" in unknown.stderr


def test_a_rollback_after_a_hand_move_returns_to_what_the_move_replaced(cli) -> None:  # type: ignore[no-untyped-def]
    awaiting_approval()
    assert cli("prompt", "label", "support-triage", "production", "-v", "2", "--as", "lee").code == 0
    rolled = cli("prompt", "rollback", "support-triage", "--as", "sam", "--json")
    assert rolled.code == 0, rolled.stderr
    assert (rolled.json()["from_version"], rolled.json()["to_version"]) == (2, 1)


def _decision_rows(change_id: int) -> list[tuple[object, ...]]:
    with Session(get_engine()) as session:
        approvals = session.exec(select(Approval).where(Approval.change_id == change_id)).all()
        handoffs = session.exec(select(Handoff).where(Handoff.change_id == change_id)).all()
        messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.change_id == change_id)
        ).all()
        deployments = session.exec(
            select(Deployment).where(Deployment.change_id == change_id)
        ).all()
    return [
        tuple(sorted((a.decision, a.member_id or 0) for a in approvals)),
        tuple((h.from_state, h.to_state) for h in handoffs),
        tuple(sorted((m.kind, m.channel) for m in messages)),
        tuple((d.kind, d.to_version_id) for d in deployments),
    ]


def test_the_same_approval_from_the_cli_and_from_slack_leaves_the_same_rows(
    ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_webhook(monkeypatch)
    woken: list[int] = []
    by_cli = awaiting_approval()
    cli_outcome = approve(Door(Door.cli("sam").who, waker=woken.append), change_id=by_cli)
    cli_rows = _decision_rows(by_cli)
    # the same act again from Slack, on a second candidate, after the first is rolled back
    from integrations.actions.deploys import roll_back

    roll_back(Door.cli("sam"), prompt="support-triage")
    by_slack = awaiting_approval(variant="b")
    slack_outcome = approve(Door.slack("U04SAM", waker=woken.append), change_id=by_slack)
    slack_rows = _decision_rows(by_slack)
    assert cli_outcome.decision == slack_outcome.decision == "deployed"
    assert woken == [by_cli, by_slack]  # each door woke its run once, after the commit
    assert cli_rows[0] == slack_rows[0] and cli_rows[1] == slack_rows[1]
    assert cli_rows[2] == slack_rows[2] and len(cli_rows[3]) == len(slack_rows[3]) == 1
    events = [e for e in webhook_events() if e["type"] == "deployed"]
    assert [e["change_id"] for e in events] == [by_cli, by_slack]
    with Session(get_engine()) as session:
        sources = [
            a.source for a in session.exec(select(Approval).order_by(col(Approval.id))).all()
        ]
    assert sources == ["cli", "slack"]


def test_a_withdrawal_through_the_cli_closes_the_review_and_its_slack_messages(cli) -> None:  # type: ignore[no-untyped-def]
    from gateway_support import review_in_slack

    from roles.ledger import Review

    with Session(get_engine(), expire_on_commit=False) as session:
        change_id, items = review_in_slack(session, items=2)
    assert len(cli("review", "list", "--as", "omar", "--json").json()) == 2
    done = cli("change", "withdraw", str(change_id), "--as", "maya", "--reason", "wrong dataset")
    assert done.code == 0, done.stderr
    with Session(get_engine()) as session:
        (review,) = session.exec(select(Review)).all()
        assert review.status == "cancelled"
        item_messages = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "review_item")
        ).all()
        replies = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.parent_id).is_not(None))
        ).all()
    assert cli("review", "list", "--as", "omar", "--json").json() == []
    assert len(item_messages) == 2
    for message in item_messages:  # the Pass/Fail buttons are gone from every item
        assert "actions" not in {b.get("type") for b in message.blocks}, message.blocks
    assert any("cancelled" in r.text for r in replies)
    vote = cli("review", "vote", str(items[0]), "pass", "--as", "omar")
    assert vote.code == 1 and "cancelled" in vote.stderr


def test_under_the_slack_identity_policy_the_cli_cannot_move_production_by_hand(cli) -> None:  # type: ignore[no-untyped-def]
    awaiting_approval()
    assert cli("team", "policy", "--identity", "slack", "--as", "lee").code == 0
    refused = cli("prompt", "label", "support-triage", "production", "-v", "2", "--as", "lee")
    assert refused.code == 1 and "verified Slack user" in refused.stderr
    with Session(get_engine()) as session:
        assert session.exec(select(Deployment)).all() == []
    assert cli("prompt", "show", "support-triage", "--json").json()["version"] == 1


def test_a_roster_change_from_the_cli_is_announced_in_the_engineers_channel(
    cli, tmp_path  # type: ignore[no-untyped-def]
) -> None:
    from support import SAMPLES

    assert cli("init", "--sample").code == 0
    team = (SAMPLES / "team.yaml").read_text().replace("roles: [expert]\n    slack_user_id: U02OMAR",
                                                      "roles: [expert, engineer]\n    slack_user_id: U02OMAR")
    path = tmp_path / "team.yaml"
    path.write_text(team)
    synced = cli("team", "sync", str(path), "--as", "lee")
    assert synced.code == 0, synced.stderr
    notices = [m for m in cli("outbox", "list", "--json").json() if "Roster changed" in m["text"]]
    assert len(notices) == 1
    assert "by lee from cli" in notices[0]["text"]
    with Session(get_engine()) as session:
        message = session.get(OutboxMessage, notices[0]["id"])
        assert message is not None and "omar: role_added" in json.dumps(message.blocks)
    again = cli("team", "sync", str(path), "--as", "lee")  # nothing changes: nothing announced
    assert again.code == 0
    assert len([m for m in cli("outbox", "list", "--json").json() if "Roster" in m["text"]]) == 1
