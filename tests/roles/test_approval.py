"""The engineers' gate, on SQLite and PostgreSQL: separation of duties (refusals recorded),
N-of-M approvals, exactly-once promotion under concurrent approvals, stale evidence sent
back, rejection, and rollback (once, also when two roll back at the same moment)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import all_at_once, load, submit, walk
from sqlmodel import Session, select

from roles.engineer import Who, approval_progress, approve, reject, rollback
from roles.errors import ConflictError, InputError, PolicyError
from roles.ledger import Approval, Deployment, LabelMove, Member, PromptVersion
from roles.registry import find_prompt, label_target
from roles.roster import Person, sync_team
from roles.states import State
from roles.team_policy import mark_slack_serve
from roles.transitions import get_change

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def awaiting(session: Session, *, author: str = "maya") -> int:
    load(session)
    change = submit(session, author=author)
    assert change.id is not None
    walk(session, change.id, State.AWAITING_APPROVAL)
    return change.id


def engineers(session: Session, *handles: str) -> None:
    people = [Person(handle=h, name=h.title(), roles=["engineer"]) for h in handles]
    sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
    session.commit()


def production(session: Session) -> int:
    version = label_target(session, prompt=find_prompt(session, name="support-triage"), label="production")
    assert version is not None
    return version.number


def refusals(session: Session) -> list[str]:
    rows = session.exec(select(Approval).where(Approval.decision == "refused")).all()
    return [r.reason or "" for r in rows]


def test_one_approval_deploys_once_with_its_rows_and_handoffs(session: Session) -> None:
    change_id = awaiting(session)
    outcome = approve(session, change_id=change_id, who=Who(handle="sam"), now=NOW)
    session.commit()
    assert outcome.decision == "deployed" and outcome.approvals == outcome.needed == 1
    assert production(session) == 2
    change = get_change(session, change_id)
    assert change.state == "deployed"
    deployment = session.get(Deployment, outcome.deployment_id)
    assert deployment is not None and deployment.kind == "deploy"
    assert session.get(PromptVersion, deployment.to_version_id).number == 2  # type: ignore[union-attr]
    moves = session.exec(select(LabelMove).where(LabelMove.change_id == change_id)).all()
    assert len(moves) == 1
    with pytest.raises(PolicyError, match=r"deployed \(approved by sam"):
        approve(session, change_id=change_id, who=Who(handle="lee"), now=NOW)


@pytest.mark.parametrize(
    ("who", "why"),
    [
        (Who(handle="dana"), "needs the engineer role"),  # a data scientist
        (Who(handle="omar"), "needs the engineer role"),
        (Who(slack_user_id="U999NOBODY", source="slack"), "is not on the team"),
    ],
)
def test_refused_attempts_are_recorded_and_change_nothing(
    session: Session, who: Who, why: str
) -> None:
    change_id = awaiting(session)
    outcome = approve(session, change_id=change_id, who=who, now=NOW)
    session.commit()
    assert outcome.decision == "refused" and why in outcome.message
    assert get_change(session, change_id).state == "awaiting_approval"
    assert production(session) == 1
    assert [r for r in refusals(session) if why in r]


def test_the_author_who_is_an_engineer_cannot_approve_their_own_change(session: Session) -> None:
    load(session)
    sync_team(
        session,
        people=[Person(handle="maya", name="Maya Chen", roles=["pm", "engineer"])],
        deactivate_missing=False,
        who=Who(handle="lee"),
    )
    session.commit()
    change = submit(session)
    walk(session, change.id or 0, State.AWAITING_APPROVAL)
    outcome = approve(session, change_id=change.id or 0, who=Who(handle="maya"), now=NOW)
    session.commit()
    assert outcome.decision == "refused" and "separation of duties" in outcome.message
    rejected = reject(session, change_id=change.id or 0, who=Who(handle="maya"), reason="no", now=NOW)
    assert rejected.decision == "refused"


def test_a_deactivated_engineer_and_the_cli_under_slack_only_are_refused(session: Session) -> None:
    change_id = awaiting(session)
    sam = session.exec(select(Member).where(Member.handle == "sam")).one()
    sam.active = False  # as `team sync` leaves someone who left the team
    session.add(sam)
    session.commit()
    gone = approve(session, change_id=change_id, who=Who(handle="sam"), now=NOW)
    assert gone.decision == "refused" and "deactivated" in gone.message
    mark_slack_serve(session, host="box", now=NOW)  # a serve with Slack ran on this ledger
    cli = approve(session, change_id=change_id, who=Who(handle="lee"), now=NOW)
    assert cli.decision == "refused" and "identity policy is slack" in cli.message
    slack = approve(
        session, change_id=change_id, who=Who(slack_user_id="U05LEE", source="slack"), now=NOW
    )
    assert slack.decision == "deployed"


def test_two_of_three_approvals_deploy_and_one_engineer_counts_once(session: Session) -> None:
    change_id = awaiting(session)
    prompt_version = session.get(PromptVersion, get_change(session, change_id).base_version_id)
    assert prompt_version is not None
    prompt_version.suite = {**(prompt_version.suite or {}), "approval": {"approvals": 2}}
    session.add(prompt_version)  # production's policy decides, not the candidate's
    session.commit()
    first = approve(session, change_id=change_id, who=Who(handle="sam"), now=NOW)
    again = approve(session, change_id=change_id, who=Who(handle="sam"), now=NOW)
    session.commit()
    assert (first.decision, first.approvals, first.needed) == ("approve", 1, 2)
    assert again.decision == "approve" and "already" in again.message
    assert approval_progress(session, change_id=change_id) == (1, 2)
    assert production(session) == 1
    second = approve(session, change_id=change_id, who=Who(handle="lee"), now=NOW)
    session.commit()
    assert second.decision == "deployed" and production(session) == 2


def test_twenty_engineers_at_once_make_one_deployment(session: Session) -> None:
    change_id = awaiting(session)
    handles = [f"eng{i:02d}" for i in range(20)]
    engineers(session, *handles)
    results = all_at_once(
        *(
            (lambda s, h=h: approve(s, change_id=change_id, who=Who(handle=h), now=NOW))
            for h in handles
        )
    )
    deployed = [r for r in results if not isinstance(r, Exception) and r.decision == "deployed"]
    told = [r for r in results if isinstance(r, PolicyError)]
    assert len(deployed) == 1 and len(told) == 19
    assert all("approved by eng" in str(r) for r in told), [str(r) for r in told if "approved by eng" not in str(r)]
    session.expire_all()
    assert len(session.exec(select(Deployment)).all()) == 1
    assert len(session.exec(select(LabelMove).where(LabelMove.change_id == change_id)).all()) == 1
    assert production(session) == 2


def test_evidence_against_an_old_production_is_sent_back(session: Session) -> None:
    change_id = awaiting(session)
    other = submit_variant(session)
    walk(session, other, State.AWAITING_APPROVAL)
    assert approve(session, change_id=other, who=Who(handle="sam"), now=NOW).decision == "deployed"
    session.commit()
    late = approve(session, change_id=change_id, who=Who(handle="lee"), now=NOW)
    session.commit()
    assert late.decision == "sent_back" and "production moved from v1 to v3" in late.message
    change = get_change(session, change_id)
    assert change.state == "submitted" and change.base_version_id is not None
    assert session.get(PromptVersion, change.base_version_id).number == 3  # type: ignore[union-attr]


def submit_variant(session: Session) -> int:
    from roles.pm import submit_change
    from roles.prompt_file import parse_prompt_file
    from roles.sample import sample_path

    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    spec = spec.model_copy(update={"description": f"{spec.description} (other)"})
    change = submit_change(session, spec=spec, author="maya", note="another")
    session.commit()
    return change.id or 0


def test_a_rejection_needs_a_reason_and_closes_the_change(session: Session) -> None:
    change_id = awaiting(session)
    with pytest.raises(InputError, match="needs a reason"):
        reject(session, change_id=change_id, who=Who(handle="sam"), reason=" ", now=NOW)
    outcome = reject(session, change_id=change_id, who=Who(handle="sam"), reason="too risky", now=NOW)
    session.commit()
    assert outcome.decision == "reject"
    change = get_change(session, change_id)
    assert change.state == "rejected" and production(session) == 1


def test_rollback_moves_production_back_once_even_when_two_at_once(session: Session) -> None:
    change_id = awaiting(session)
    approve(session, change_id=change_id, who=Who(handle="sam"), now=NOW)
    session.commit()
    results = all_at_once(
        lambda s: rollback(s, prompt="support-triage", actor="sam", now=NOW),
        lambda s: rollback(s, prompt="support-triage", actor="lee", now=NOW),
    )
    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ConflictError)]
    assert len(done) == 1 and len(refused) == 1, results
    session.expire_all()
    assert production(session) == 1
    assert get_change(session, change_id).state == "rolled_back"
    kinds = [d.kind for d in session.exec(select(Deployment)).all()]
    assert kinds == ["deploy", "rollback"]
    with pytest.raises(ConflictError, match="was rolled back to v1 by"):
        rollback(session, prompt="support-triage", actor="sam", now=NOW)
