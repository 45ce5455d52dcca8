"""Handoff metrics on a ledger with known handoff times (tests/metrics_support.py) give the
numbers worked out by hand from its timeline, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from metrics_support import NOW_H, OTHER_PROMPT, START, H, build_history, hours_after
from sqlmodel import Session

from roles.errors import InputError, NotFoundError
from roles.metrics import Durations, durations, handoff_metrics, parse_since

NOW = hours_after(START, NOW_H)


def spread(n: int, median_h: float | None, p90_h: float | None) -> Durations:
    return Durations(
        n=n,
        median_s=None if median_h is None else round(median_h * H, 3),
        p90_s=None if p90_h is None else round(p90_h * H, 3),
    )


def by(rows: list[Any], key: str) -> dict[Any, Any]:
    return {getattr(r, key): r for r in rows}


def test_the_whole_ledger(session: Session) -> None:
    build_history(session)
    report = handoff_metrics(session, now=NOW)

    assert report.changes.total == 5 and report.changes.active == 5
    now_in = {k: v for k, v in report.changes.by_state.items() if v}
    assert now_in == {
        "rolled_back": 1,
        "eval_failed": 1,
        "rejected": 1,
        "deployed": 1,
        "submitted": 1,
    }
    states = by(report.states, "state")
    # submitted: A 1h, B 0.5h and 1h (after the revision), C 2h, E 1h; D waits 2h now
    assert states["submitted"].time_in_state == spread(5, 1, 1.6)
    assert (states["submitted"].waiting_now, states["submitted"].oldest_wait_s) == (1, 2 * H)
    assert states["evaluating"].time_in_state == spread(5, 1, 1.3)
    assert states["in_review"].time_in_state == spread(4, 3, 5.4)  # 6, 4, 2, 2
    assert states["awaiting_approval"].time_in_state == spread(3, 2, 5.2)  # 2, 6, 2
    assert states["changes_requested"].time_in_state == spread(1, 4, 4)
    assert states["approved"].time_in_state == spread(2, 0, 0)  # deployed in the same move
    assert states["eval_failed"].time_in_state == spread(0, None, None)
    assert (states["eval_failed"].waiting_now, states["eval_failed"].oldest_wait_s) == (1, 30 * H)
    assert states["in_review"].holder == "expert" and states["eval_failed"].holder == "author"

    assert [
        (h.role, h.person, h.holding_now, h.longest_wait_s, h.held_s) for h in report.holders
    ] == [
        ("author", "maya", 1, 30 * H, 34 * H),  # B: changes_requested 4h + eval_failed 30h
        ("system", "promptloop", 1, 2 * H, 13 * H),
        ("expert", None, 0, None, 14 * H),
        ("engineer", None, 0, None, 10 * H),
    ]
    assert report.lead_time == spread(2, 8, 9.6)  # A 10h, E 6h
    assert report.approval_wait == spread(3, 2, 5.2)
    turnaround = {t.expert: t.turnaround for t in report.review_turnaround}
    assert turnaround == {"omar": spread(4, 1, 2.4), "ines": spread(4, 3, 5.4)}

    failure = report.change_failure
    assert (failure.deploys, failure.failed, failure.rate) == (2, 1, 0.5)
    assert [f.change_id for f in failure.failures] == [1]
    assert failure.failures[0].why == "rolled back at 2026-03-03 05:00 UTC: worse"  # its reason

    sent = report.sent_back
    assert (sent.changes, sent.sent_back, sent.share) == (5, 2, 0.4)
    assert sent.by_kind == {"changes_requested": 1, "eval_failed": 1, "rejected": 1}
    assert {(r.kind, r.category, r.count, tuple(r.examples)) for r in sent.reasons} == {
        ("changes_requested", "wrong", 1, ("a billing ticket",)),
        ("eval_failed", "target correct", 1, ("target correct must improve: no gain",)),
        ("rejected", "rejected by an engineer", 1, ("too risky for the holidays",)),
    }


def test_a_sweep_that_finds_a_deployed_version_regressing_counts_its_deploy_failed(
    session: Session,
) -> None:
    from sqlmodel import col, select

    from roles.ledger import Deployment, EvalRun, Sweep

    ids = build_history(session)
    deployed = session.exec(
        select(Deployment).where(Deployment.change_id == ids["E"])
    ).one()  # E is deployed and still production
    run = session.exec(select(EvalRun).order_by(col(EvalRun.id).desc())).first()
    assert run is not None and run.id is not None
    sweep = Sweep(
        prompt_id=deployed.prompt_id, version_id=deployed.to_version_id, eval_run_id=run.id,
        verdict="regression", reasons=["target correct regressed"],
        created_at=hours_after(START, 70),
    )  # fmt: skip
    session.add(sweep)
    session.commit()
    failure = handoff_metrics(session, now=NOW).change_failure
    assert (failure.deploys, failure.failed, failure.rate) == (2, 2, 1.0)
    why = {f.change_id: f.why for f in failure.failures}
    assert why[ids["E"]] == f"sweep {sweep.id} found a regression at 2026-03-05 07:00 UTC"


def test_since_counts_what_ended_after_it(session: Session) -> None:
    build_history(session)
    report = handoff_metrics(session, since=hours_after(START, 35), now=NOW)

    assert report.since == "2026-03-03T20:00:00Z" and report.changes.active == 4  # not A
    states = by(report.states, "state")
    assert states["submitted"].time_in_state == spread(3, 1, 1.8)  # B 1h, C 2h, E 1h
    assert states["in_review"].time_in_state == spread(3, 2, 3.6)  # B's (ended at 36), C, E
    assert states["awaiting_approval"].time_in_state == spread(2, 4, 5.6)
    assert states["submitted"].waiting_now == 1  # what waits now, whatever the window
    assert report.lead_time == spread(1, 6, 6)  # E only
    failure = report.change_failure
    assert (failure.deploys, failure.failed, failure.rate) == (1, 0, 0.0)
    turnaround = {t.expert: t.turnaround for t in report.review_turnaround}
    assert turnaround == {"omar": spread(2, 1, 1), "ines": spread(3, 2, 3.6)}
    held = {(h.role, h.person): h.held_s for h in report.holders}
    assert held == {
        ("author", "maya"): 34 * H,
        ("system", "promptloop"): 9 * H,
        ("expert", None): 5 * H,  # B's review clipped to its last hour
        ("engineer", None): 8 * H,
    }
    assert (report.sent_back.changes, report.sent_back.sent_back, report.sent_back.share) == (
        4, 2, 0.5
    )  # fmt: skip


def test_one_prompt(session: Session) -> None:
    build_history(session)
    report = handoff_metrics(session, prompt=OTHER_PROMPT, now=NOW)
    assert report.prompt == OTHER_PROMPT and report.changes.total == 1
    assert by(report.states, "state")["submitted"].waiting_now == 1
    assert [(h.role, h.person, h.holding_now, h.held_s) for h in report.holders] == [
        ("system", "promptloop", 1, 2 * H)
    ]
    assert report.lead_time.n == 0 and report.review_turnaround == []
    assert report.change_failure.deploys == 0 and report.change_failure.rate is None
    assert (report.sent_back.sent_back, report.sent_back.share) == (0, 0.0)
    with pytest.raises(NotFoundError, match="no prompt named 'nope'"):
        handoff_metrics(session, prompt="nope", now=NOW)


def test_an_empty_ledger(session: Session) -> None:
    report = handoff_metrics(session, now=NOW)
    assert report.changes.total == 0 and report.holders == [] and report.lead_time.n == 0
    assert all(s.waiting_now == 0 and s.time_in_state.n == 0 for s in report.states)
    assert report.sent_back.share is None and report.change_failure.rate is None


def test_durations_and_since() -> None:
    assert durations([]) == Durations(n=0, median_s=None, p90_s=None)
    assert durations([5.0]) == Durations(n=1, median_s=5.0, p90_s=5.0)
    assert durations([4, 1, 3, 2]) == Durations(n=4, median_s=2.5, p90_s=3.7)
    assert parse_since("2026-03-02", now=NOW) == START - timedelta(hours=9)
    assert parse_since("2026-03-02T10:00+01:00", now=NOW) == START
    assert parse_since("36h", now=NOW) == NOW - timedelta(hours=36)
    assert parse_since("1w", now=NOW) == NOW - timedelta(days=7)
    for bad in ("yesterday", "7x", ""):
        with pytest.raises(InputError, match="is not a date"):
            parse_since(bad, now=NOW)
    with pytest.raises(InputError, match="in the future"):
        parse_since("2030-01-01", now=NOW)
