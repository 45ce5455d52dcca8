"""The sweep's verdict table (roles.sweep.record) on a real ledger: one alert per
regression, its recovery, an outage said once, and a fresh start when production moves."""

from __future__ import annotations

from typing import Any

from helpers import load
from sqlmodel import Session, select

from roles.data_scientist import default_suite
from roles.evaluation.records import start_run
from roles.ledger import Deployment, Member
from roles.outbox import enqueue, list_messages
from roles.sweep.baseline import Baseline
from roles.sweep.record import Announcement, Reading, record_sweep
from roles.sweep.targets import sweep_targets


def sweeper(session: Session) -> Any:
    """``sweep(reading)`` records a row like a sweep would; the announcements it made."""
    load(session)
    [target] = sweep_targets(session)
    said: list[Announcement] = []
    reference = Baseline(run_id=0, source="sweep", note="a reference")

    def announce(announcement: Announcement) -> int:
        said.append(announcement)
        kind, key = announcement.kind, announcement.key
        message = enqueue(session, channel="#alerts", kind="notice", text=kind, blocks=[], key=key)
        assert message.id is not None
        return message.id

    def sweep(reading: Reading, *, baseline: Baseline | None = reference) -> str:
        run = start_run(
            session,
            version_id=target.version_id,
            dataset_id=target.dataset_id,
            model=target.model,
            suite=default_suite(has_expected=True),
            settings={},
            purpose="sweep",
        )
        assert run.id is not None
        row = record_sweep(
            session,
            target=target,
            eval_run_id=run.id,
            baseline=baseline and Baseline(run.id, baseline.source, baseline.note),
            reading=reading,
            reasons=[reading],
            flow_run_id=None,
            announce=announce,
        )
        session.commit()
        return row.verdict

    return target, sweep, said


def test_a_regression_is_announced_once_and_its_recovery_once(session: Session) -> None:
    _, sweep, said = sweeper(session)
    assert sweep("clear", baseline=None) == "no_baseline"
    assert [sweep(r) for r in ("regression", "regression", "outage", "regression")] == [
        "regression", "regression", "outage", "regression",
    ]  # fmt: skip
    assert [a.kind for a in said] == ["regression", "outage"]
    assert [sweep(r) for r in ("clear", "clear", "regression")] == [
        "recovered", "ok", "regression",
    ]  # fmt: skip
    assert [a.kind for a in said] == ["regression", "outage", "recovered", "regression"]
    assert len(list_messages(session)) == 4  # a second regression is a second alert


def test_an_outage_is_said_once_per_streak(session: Session) -> None:
    _, sweep, said = sweeper(session)
    assert [sweep(r) for r in ("outage", "outage", "clear", "outage")] == [
        "outage", "outage", "ok", "outage",
    ]  # fmt: skip
    assert [a.kind for a in said] == ["outage", "outage"]


def test_production_moving_starts_afresh(session: Session) -> None:
    target, sweep, said = sweeper(session)
    assert sweep("regression") == "regression"
    actor = session.exec(select(Member)).first()
    assert actor is not None and actor.id is not None
    session.add(
        Deployment(
            prompt_id=target.prompt_id,
            kind="rollback",
            to_version_id=target.version_id,
            actor_id=actor.id,
        )
    )
    session.commit()
    assert sweep("regression") == "regression"  # still bad after the move: said again
    assert sweep("clear") == "recovered"
    assert [a.kind for a in said] == ["regression", "regression", "recovered"]
    assert len(list_messages(session)) == 3  # three messages, none taken for another
