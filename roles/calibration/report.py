"""Read models of judge calibration: the list row, the full report, the exported pairs.

judge_rows(session)                      # every known judge, with its latest record
judge_report(session, judge="3f9c")      # metrics, confusion matrix, disagreements
export_pairs(session, judge="3f9c")      # one dict per labelled pair (JSONL), with its
                                         # weight; a pick's ``counted`` is False
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from roles.calibration.catalog import KnownJudge, find_judge, known_judges
from roles.calibration.records import latest_records
from roles.clock import iso
from roles.ledger.calibration import CalibrationRecord

if TYPE_CHECKING:  # the pairs need the statistics' imports: only report and export load them
    from roles.calibration.pairs import LabelledPair


def record_row(record: CalibrationRecord | None) -> dict[str, Any]:
    """The figures people scan: n, κ with its interval, trusted (None: never calibrated)."""
    if record is None:
        return {
            "n": 0,
            "kappa": None,
            "kappa_low": None,
            "kappa_high": None,
            "trusted": False,
            "calibrated_at": None,
            "reasons": ["never calibrated"],
            "n_effective": None,
            "picks_left_out": 0,
        }
    return {
        "judge_id": record.judge_id,
        "label": record.label,
        "n": record.n,
        "kappa": record.kappa,
        "kappa_low": record.kappa_low,
        "kappa_high": record.kappa_high,
        "trusted": record.trusted,
        "calibrated_at": iso(record.created_at),
        "reasons": list(record.reasons),
        # weighted pairs' effective number (None: unweighted, n counts); picks never counted
        "n_effective": (record.metrics or {}).get("n_effective"),
        "picks_left_out": (record.metrics or {}).get("picks_left_out", 0),
    }


def judge_rows(session: Session) -> list[dict[str, Any]]:
    records = latest_records(session)
    return [
        {"judge_id": judge_id, "label": known.judge.label, "prompts": known.prompts}
        | {
            k: v
            for k, v in record_row(records.get(judge_id)).items()
            if k not in ("judge_id", "label")
        }
        for judge_id, known in sorted(known_judges(session).items())
    ]


def pair_view(pair: LabelledPair) -> dict[str, Any]:
    view = asdict(pair)
    view["tags"] = list(pair.tags)
    view["judge"] = "fail" if pair.judge_fail else "pass"
    view["human"] = "fail" if pair.human_fail else "pass"
    return view


def judge_report(session: Session, *, judge: str) -> dict[str, Any]:
    """The judge's latest record in full, its history, and the pairs it got wrong."""
    from roles.calibration.pairs import JudgeLabels, collect_labels

    known = find_judge(session, judge)
    judge_id = known.judge.judge_id
    labels = collect_labels(session, judge_id=judge_id).get(judge_id) or JudgeLabels(known.judge)
    history = session.exec(
        select(CalibrationRecord)
        .where(CalibrationRecord.judge_id == judge_id)
        .order_by(col(CalibrationRecord.id))
    ).all()
    latest = history[-1] if history else None
    return {
        "judge_id": judge_id,
        "label": known.judge.label,
        "prompts": known.prompts,
        "spec": known.judge.spec,
        "calibration": _record_view(latest),
        "history": [
            {
                "at": iso(r.created_at),
                "trigger": r.trigger,
                "n": r.n,
                "kappa": r.kappa,
                "kappa_low": r.kappa_low,
                "trusted": r.trusted,
            }
            for r in history
        ],
        "labels_now": {
            "pairs": len(labels.pairs),
            "from_votes": labels.count("vote"),
            "from_dataset": labels.count("dataset"),
            "unscored": labels.unscored,
            "ties": labels.ties,
            "picks_left_out": labels.picks_left_out,
        },
        # the picks' too: they say where the judge goes wrong (``counted`` tells them apart)
        "disagreements": [
            pair_view(p) | {"counted": counted}
            for counted, group in ((True, labels.pairs), (False, labels.picks))
            for p in group
            if not p.agrees
        ],
    }


def _record_view(record: CalibrationRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return record_row(record) | {
        "trigger": record.trigger,
        "flow_run_id": record.flow_run_id,
        "confusion": {"tp": record.tp, "fp": record.fp, "fn": record.fn, "tn": record.tn},
        "unscored": record.unscored,
        "ties": record.ties,
        "from_votes": record.from_votes,
        "from_dataset": record.from_dataset,
        "metrics": record.metrics,
        "expert_agreement": record.expert_agreement,
        "slices": record.slices,
    }


def export_pairs(session: Session, *, judge: str) -> tuple[KnownJudge, list[dict[str, Any]]]:
    from roles.calibration.pairs import collect_labels

    known = find_judge(session, judge)
    labels = collect_labels(session, judge_id=known.judge.judge_id).get(known.judge.judge_id)
    if labels is None:
        return known, []
    return known, [pair_view(p) | {"counted": True} for p in labels.pairs] + [
        pair_view(p) | {"counted": False} for p in labels.picks
    ]
