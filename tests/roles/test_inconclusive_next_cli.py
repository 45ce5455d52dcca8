"""An inconclusive gate that no approval may override: `change show` never tells an engineer
to approve it, and says who can end it (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from deploy_support import awaiting_approval
from review_support import change_in_review
from sqlmodel import Session

from integrations.db import get_engine


def test_awaiting_approval_over_a_forbidden_override_says_reject_or_withdraw(cli: Any) -> None:
    change_id = awaiting_approval(gate_outcome="inconclusive")
    shown = cli("change", "show", str(change_id))
    assert shown.code == 0, shown.stderr
    text = " ".join((shown.stdout + shown.stderr).split())
    assert f"change approve {change_id}" not in text
    assert "no engineer can approve it: the gate was inconclusive" in text
    assert "allow_override: false" in text
    assert f"`promptloop change reject {change_id} --as lee --reason …`" in text
    assert f"`promptloop change withdraw {change_id} --as maya`" in text
    # and it is true: the approval the hint no longer offers is refused
    refused = cli("change", "approve", str(change_id), "--as", "lee")
    assert refused.code != 0 and "does not allow approving over it" in refused.stderr


def test_an_override_the_policy_allows_is_offered_with_its_reason(cli: Any) -> None:
    change_id = awaiting_approval(gate_outcome="inconclusive", allow_override=True)
    text = " ".join(cli("change", "show", str(change_id)).stdout.split())
    assert f"`promptloop change approve {change_id} --as lee --override-reason …`" in text


def test_in_review_says_no_approval_can_follow_and_the_author_may_withdraw(cli: Any) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, gate_outcome="inconclusive")
        session.commit()
    text = " ".join(cli("change", "show", str(change_id)).stdout.split())
    assert "the experts vote on" in text
    assert "whatever the review says, no engineer can approve it after" in text
    assert f"`promptloop change withdraw {change_id} --as maya`" in text
