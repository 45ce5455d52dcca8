"""Calibrating a judge: its labelled pairs → metrics with intervals → trust → a stored record.

    outcomes = calibrate_judges(session, trigger="review:12", now=utcnow())
    [(o.record.judge_id, o.record.trusted, o.changed) for o in outcomes]
    latest_record(session, judge_id="3f9c2a71d0b4")   # what the gate asks

The pairs are the reviews' probability samples, weighted by their inverse inclusion
probabilities, and the labelled datasets (weight 1); purposeful picks are counted in the
metrics document's ``picks_left_out``, never in the metrics (``roles.calibration.weights``).
Each call stores one new record per judge (the history stays: trust over time is a query).
``changed`` says the judge's trust status differs from its previous record's (none before
counts as untrusted: a judge nobody checked is not trusted).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from roles.ledger.calibration import CalibrationMetrics, CalibrationRecord, ExpertAgreementDoc

if TYPE_CHECKING:  # the statistics (numpy, scipy) load when a judge is calibrated
    from roles.calibration.pairs import JudgeLabels
    from roles.data_scientist.calibration import JudgeAgreement
    from roles.data_scientist.trust import CalibrationPolicy


@dataclass(frozen=True)
class CalibrationOutcome:
    record: CalibrationRecord
    previous_trusted: bool | None  # None: the judge had no record before

    @property
    def changed(self) -> bool:
        return self.record.trusted != bool(self.previous_trusted)


def metrics_doc(agreement: JudgeAgreement, *, picks_left_out: int = 0) -> dict[str, Any]:
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
            "interval": agreement.interval,
            "n_effective": agreement.n_effective,
            "weighted_counts": agreement.weighted_counts,
            "picks_left_out": picks_left_out,
        }
    )
    return doc.model_dump(mode="json")


def build_record(
    labels: JudgeLabels,
    *,
    policy: CalibrationPolicy,
    trigger: str,
    now: datetime,
    flow_run_id: str | None = None,
) -> CalibrationRecord:
    """The record of ``labels`` under ``policy`` (its intervals' settings and trust rule)."""
    from roles.data_scientist.agreement import expert_agreement
    from roles.data_scientist.calibration import by_slice, judge_agreement
    from roles.data_scientist.trust import trust

    pairs = [(p.judge_fail, p.human_fail) for p in labels.pairs]
    settings: dict[str, Any] = {
        "resamples": policy.resamples,
        "seed": policy.seed,
        "confidence": policy.confidence,
    }
    agreement = judge_agreement(pairs, weights=labels.weights, **settings)
    verdict = trust(agreement, policy.trust)
    tagged = [(tag, p) for p in labels.pairs for tag in p.tags]
    sliced = by_slice(
        [(tag, p.judge_fail, p.human_fail) for tag, p in tagged],
        min_n=policy.min_slice_pairs,
        weights=[p.weight for _, p in tagged],
        **settings,
    )
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
        metrics=metrics_doc(agreement, picks_left_out=labels.picks_left_out),
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
    policy: CalibrationPolicy | None = None,
    flow_run_id: str | None = None,
) -> list[CalibrationOutcome]:
    """A new record for every judge that has labels (or only ``judge_id``), each under
    ``policy`` or else the ``suite.calibration`` of the newest prompt version holding it."""
    from roles.calibration.catalog import known_judges
    from roles.calibration.pairs import JudgeLabels, collect_labels
    from roles.data_scientist.trust import calibration_policy_from_suite

    known = known_judges(session)
    labels = collect_labels(session, judge_id=judge_id)
    for ref in known.values():  # judges with no label yet: a record of that
        if judge_id in (None, ref.judge.judge_id):
            labels.setdefault(ref.judge.judge_id, JudgeLabels(judge=ref.judge))
    outcomes = []
    for judge in sorted(labels):
        previous = latest_record(session, judge_id=judge)
        suite = known[judge].suite if judge in known else None
        record = build_record(
            labels[judge],
            policy=policy or calibration_policy_from_suite(suite),
            trigger=trigger,
            now=now,
            flow_run_id=flow_run_id,
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
