"""Calibrating a judge: its labelled pairs → metrics with intervals → trust → a stored record.

    outcomes = calibrate_judges(session, trigger="review:12", now=utcnow())
    [(o.record.judge_id, o.record.trusted, o.changed) for o in outcomes]
    latest_record(session, judge_id="3f9c2a71d0b4")   # what the gate asks

Each call stores one new record per judge (the history stays: trust over time is a query).
``changed`` says the judge's trust status differs from its previous record's (none before
counts as untrusted: a judge nobody checked is not trusted).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from roles.calibration.pairs import JudgeLabels, collect_labels
from roles.data_scientist.calibration import (
    JudgeAgreement,
    TrustPolicy,
    by_slice,
    expert_agreement,
    judge_agreement,
    trust,
)
from roles.ledger.calibration import CalibrationMetrics, CalibrationRecord, ExpertAgreementDoc


@dataclass(frozen=True)
class CalibrationOutcome:
    record: CalibrationRecord
    previous_trusted: bool | None  # None: the judge had no record before

    @property
    def changed(self) -> bool:
        return self.record.trusted != bool(self.previous_trusted)


def metrics_doc(agreement: JudgeAgreement) -> dict[str, Any]:
    """The metrics with their intervals, as the record's typed JSON document."""
    doc = CalibrationMetrics.model_validate(
        {
            name: asdict(getattr(agreement, name))
            for name in ("precision", "recall", "f1", "accuracy", "kappa")
        }
        | {
            "resamples": agreement.resamples,
            "seed": agreement.seed,
            "confidence": agreement.confidence,
        }
    )
    return doc.model_dump(mode="json")


def build_record(
    labels: JudgeLabels,
    *,
    policy: TrustPolicy,
    trigger: str,
    now: datetime,
    flow_run_id: str | None = None,
) -> CalibrationRecord:
    pairs = [(p.judge_fail, p.human_fail) for p in labels.pairs]
    agreement = judge_agreement(pairs)
    verdict = trust(agreement, policy)
    sliced = by_slice([(tag, p.judge_fail, p.human_fail) for p in labels.pairs for tag in p.tags])
    experts = expert_agreement(labels.expert_votes)
    return CalibrationRecord(
        judge_id=labels.judge.judge_id,
        label=labels.judge.label,
        spec=labels.judge.spec,
        trigger=trigger,
        flow_run_id=flow_run_id,
        created_at=now,
        n=agreement.n,
        tp=agreement.tp,
        fp=agreement.fp,
        fn=agreement.fn,
        tn=agreement.tn,
        unscored=labels.unscored,
        ties=labels.ties,
        from_votes=labels.count("vote"),
        from_dataset=labels.count("dataset"),
        kappa=agreement.kappa.value,
        kappa_low=agreement.kappa.low,
        kappa_high=agreement.kappa.high,
        recall_low=agreement.recall.low,
        trusted=verdict.trusted,
        reasons=list(verdict.reasons),
        metrics=metrics_doc(agreement),
        expert_agreement=ExpertAgreementDoc.model_validate(asdict(experts)).model_dump(),
        slices={tag: metrics_doc(a) | {"n": a.n} for tag, a in sliced.items()},
    )


def latest_record(session: Session, *, judge_id: str) -> CalibrationRecord | None:
    return session.exec(
        select(CalibrationRecord)
        .where(CalibrationRecord.judge_id == judge_id)
        .order_by(col(CalibrationRecord.id).desc())
    ).first()


def latest_records(session: Session) -> dict[str, CalibrationRecord]:
    """Every judge's newest record."""
    out: dict[str, CalibrationRecord] = {}
    for record in session.exec(select(CalibrationRecord).order_by(col(CalibrationRecord.id))):
        out[record.judge_id] = record
    return out


def calibrate_judges(
    session: Session,
    *,
    trigger: str,
    now: datetime,
    judge_id: str | None = None,
    policy: TrustPolicy | None = None,
    flow_run_id: str | None = None,
) -> list[CalibrationOutcome]:
    """A new record for every judge that has labels (or only ``judge_id``)."""
    from roles.calibration.catalog import known_judges

    policy = policy or TrustPolicy()
    labels = collect_labels(session, judge_id=judge_id)
    for ref in known_judges(session).values():  # judges with no label yet: a record of that
        if judge_id in (None, ref.judge.judge_id):
            labels.setdefault(ref.judge.judge_id, JudgeLabels(judge=ref.judge))
    outcomes = []
    for judge in sorted(labels):
        previous = latest_record(session, judge_id=judge)
        record = build_record(
            labels[judge], policy=policy, trigger=trigger, now=now, flow_run_id=flow_run_id
        )
        session.add(record)
        session.flush()
        outcomes.append(
            CalibrationOutcome(record, previous.trusted if previous is not None else None)
        )
    return outcomes


def calibrated_for(session: Session, *, trigger: str) -> bool:
    """Whether a calibration with this trigger ran already (a restarted flow skips it)."""
    found = session.exec(
        select(CalibrationRecord.id).where(CalibrationRecord.trigger == trigger).limit(1)
    ).first()
    return found is not None
