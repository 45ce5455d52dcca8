"""The deployed change's Rollback button and Approve over a flagged gate, through the
gateway over HTTP with signed clicks (SQLite, PostgreSQL): production moves back once
even when two engineers click at the same moment, the second told who did it; someone
who is not an engineer is refused and it is recorded; an inconclusive gate's Approve asks
for the override's reason in a modal, and the override is shown where engineers look."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from deploy_support import awaiting_approval, deploy
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway
from sqlmodel import Session, col, select
from test_slack_gateway_deploys import rows, until

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.deploys import deploy_key
from integrations.slack.signing import click, override_submission, signed
from roles.ledger import Approval, Deployment, Handoff, OutboxMessage
from roles.outbox import find_message
from roles.registry import find_prompt, label_target
from roles.transitions import get_change


def press(action_id: str, user: str, change_id: int) -> tuple[str, dict[str, str]]:
    return signed(
        click(user=user, action_id=action_id, value=change_id, channel="C0DEPLOY"), secret=SECRET
    )


def deploy_request(change_id: int) -> list[dict[str, Any]]:
    with Session(get_engine()) as session:
        change = get_change(session, change_id)
        found = find_message(session, key=deploy_key(change_id, change.candidate_version_id))
        assert found is not None
        return list(found.blocks)


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def production() -> int:
    with Session(get_engine()) as session:
        version = label_target(
            session, prompt=find_prompt(session, name="support-triage"), label="production"
        )
        assert version is not None
        return version.number


def rollbacks() -> list[Deployment]:
    return [d for d in rows(Deployment) if d.kind == "rollback"]


def answers(slack: FakeSlackServer, user: str) -> list[str]:
    return [
        c.params["text"] for c in slack.calls_to("chat.postEphemeral") if c.params["user"] == user
    ]


def test_rollback_moves_production_back_and_slack_shows_it(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    deploy(change_id)
    assert production() == 2
    assert ids.DEPLOY_ROLLBACK in buttons(deploy_request(change_id))
    assert gateway.send(*press(ids.DEPLOY_ROLLBACK, "U05LEE", change_id)).status_code == 200
    until(lambda: answers(gateway_env, "U05LEE"))
    (said,) = answers(gateway_env, "U05LEE")
    assert said.startswith("lee rolled back change") and "is v1 again (was v2)" in said
    assert production() == 1 and len(rollbacks()) == 1
    with Session(get_engine()) as session:
        assert get_change(session, change_id).state == "rolled_back"
        handoff = session.exec(
            select(Handoff).where(Handoff.change_id == change_id).order_by(col(Handoff.id).desc())
        ).first()
        assert handoff is not None and (handoff.from_state, handoff.to_state) == (
            "deployed",
            "rolled_back",
        )
        notices = [m.text for m in session.exec(select(OutboxMessage))]
    assert "Rolled back: support-triage v2 → v1 by lee" in notices
    after = deploy_request(change_id)
    assert ids.DEPLOY_ROLLBACK not in buttons(after)
    assert "rolled back to v1 by lee" in text_of(after)


def test_two_rollback_clicks_at_once_roll_back_once(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    deploy(change_id)
    requests = [press(ids.DEPLOY_ROLLBACK, user, change_id) for user in ("U05LEE", "U04SAM")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(lambda r: gateway.send(*r).status_code, requests)) == [200, 200]
    until(lambda: answers(gateway_env, "U05LEE") and answers(gateway_env, "U04SAM"))
    assert len(rollbacks()) == 1 and production() == 1
    said = answers(gateway_env, "U05LEE") + answers(gateway_env, "U04SAM")
    first = [s for s in said if " rolled back change " in s]
    second = [s for s in said if "already" in s]
    assert len(first) == 1 and len(second) == 1, said
    winner = first[0].split()[0]
    assert f"rolled back to v1 by {winner} at " in second[0] and "nothing was written" in second[0]


def test_a_later_deploy_takes_the_rollback_button_off_the_earlier_request(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    first = awaiting_approval()
    deploy(first)
    second = awaiting_approval(variant="second")
    deploy(second, by="lee")
    assert production() == 3
    assert ids.DEPLOY_ROLLBACK not in buttons(deploy_request(first))
    assert ids.DEPLOY_ROLLBACK in buttons(deploy_request(second))
    stale = press(ids.DEPLOY_ROLLBACK, "U04SAM", first)  # an old message's button, still shown
    assert gateway.send(*stale).status_code == 200
    until(lambda: answers(gateway_env, "U04SAM"))
    assert "has moved since change" in answers(gateway_env, "U04SAM")[0]
    assert rollbacks() == [] and production() == 3


def test_someone_not_an_engineer_is_refused_and_it_is_recorded(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    deploy(change_id)
    for user in ("U02OMAR", "U0NOBODY"):  # an expert; someone not on the team
        assert gateway.send(*press(ids.DEPLOY_ROLLBACK, user, change_id)).status_code == 200
    until(lambda: answers(gateway_env, "U02OMAR") and answers(gateway_env, "U0NOBODY"))
    (omar,) = answers(gateway_env, "U02OMAR")
    assert omar == (
        "Not allowed: 'omar' needs the engineer role to roll production back (the attempt is recorded)"
    )
    assert "U0NOBODY is not on the team" in answers(gateway_env, "U0NOBODY")[0]
    refused = [a for a in rows(Approval) if a.decision == "refused"]
    assert sorted(a.slack_user_id or "" for a in refused) == ["U02OMAR", "U0NOBODY"]
    assert all((a.reason or "").startswith("rollback: ") and a.source == "slack" for a in refused)
    assert rollbacks() == [] and production() == 2


def test_approve_over_an_inconclusive_gate_asks_for_the_reason_and_shows_the_override(
    gateway: RunningGateway, gateway_env: FakeSlackServer, cli
) -> None:  # type: ignore[no-untyped-def]
    change_id = awaiting_approval(gate_outcome="inconclusive", allow_override=True)
    request = text_of(deploy_request(change_id))
    assert "inconclusive (flagged) — approval needs an override reason" in request
    assert "Approve with override…" in request
    assert gateway.send(*press(ids.DEPLOY_APPROVE, "U04SAM", change_id)).status_code == 200
    until(lambda: gateway_env.calls_to("views.open"))
    view = gateway_env.calls_to("views.open")[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ids.OVERRIDE_REASON_VIEW and view["private_metadata"] == str(
        change_id
    )
    assert rows(Approval) == [] and rows(Deployment) == []  # the modal first, nothing decided
    reason = "the flagged slice is three items, all reviewed by hand"
    submitted = override_submission(user="U04SAM", change_id=change_id, reason=reason)
    assert gateway.post(submitted).status_code == 200
    until(lambda: len(rows(Deployment)) == 1)
    (approval,) = rows(Approval)
    assert approval.override and approval.reason == reason and approval.source == "slack"
    line = f"sam approved over the gate's flag: {reason}"
    assert line in text_of(deploy_request(change_id))
    with Session(get_engine()) as session:
        texts = [
            text_of(m.blocks)
            for m in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notice"))
        ]
    assert any("Deployed: change" in t and f"OVERRIDE: {line}" in t for t in texts)
    shown = cli("change", "show", str(change_id))
    assert "(OVERRIDE of an inconclusive gate): sam" in shown.stdout and reason in shown.stdout
    late = press(ids.DEPLOY_APPROVE, "U05LEE", change_id)  # decided: told, no modal
    assert gateway.send(*late).status_code == 200
    until(lambda: answers(gateway_env, "U05LEE"))
    assert f"change {change_id} is deployed (approved by sam" in answers(gateway_env, "U05LEE")[0]
    assert len(gateway_env.calls_to("views.open")) == 1


def test_a_policy_without_overrides_refuses_approve_over_the_gate(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval(gate_outcome="inconclusive")
    assert "this prompt's policy allows no override" in text_of(deploy_request(change_id))
    assert gateway.send(*press(ids.DEPLOY_APPROVE, "U04SAM", change_id)).status_code == 200
    until(lambda: answers(gateway_env, "U04SAM"))
    assert "does not allow approving over it" in answers(gateway_env, "U04SAM")[0]
    assert [a.decision for a in rows(Approval)] == ["refused"] and rows(Deployment) == []
    assert gateway_env.calls_to("views.open") == []
