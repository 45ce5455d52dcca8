"""What the judges' calibration means for a change: which judge metrics may decide the gate,
and the one line people read about each judge.

    untrusted_metrics(session, suite=run.suite)
    # {"judge_correct": "judge 3f9c2a71d0b4 (judge_correct) not trusted (12 labelled pairs
    #   < 30): its metric is shown, not gated"}

A judge decides only when its latest calibration record says trusted; with no record it
is untrusted (nobody checked it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from roles.calibration.identity import JudgeRef, judges_in_suite
from roles.calibration.records import latest_record
from roles.ledger.calibration import CalibrationRecord

MAX_GAP_LINES = 3


def status_line(judge: JudgeRef, record: CalibrationRecord | None) -> str:
    """``judge 3f9c… (judge_correct): trusted (κ 0.81 [0.66, 0.92], 40 pairs)`` or why not."""
    name = f"judge {judge.judge_id} ({judge.label})"
    if record is None:
        return f"{name}: not trusted (never calibrated)"
    if record.trusted:
        return (
            f"{name}: trusted (κ {_f(record.kappa)} [{_f(record.kappa_low)}, "
            f"{_f(record.kappa_high)}], {record.n} labelled pairs)"
        )
    return f"{name}: not trusted ({'; '.join(record.reasons) or 'no reason recorded'})"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def judge_statuses(
    session: Session, *, suite: Mapping[str, Any] | None
) -> list[tuple[JudgeRef, CalibrationRecord | None]]:
    return [(j, latest_record(session, judge_id=j.judge_id)) for j in judges_in_suite(suite)]


def untrusted_metrics(session: Session, *, suite: Mapping[str, Any] | None) -> dict[str, str]:
    """Judge metric → the gate's reason line, for every judge of ``suite`` not trusted."""
    out = {}
    for judge, record in judge_statuses(session, suite=suite):
        if record is not None and record.trusted:
            continue
        why = "never calibrated" if record is None else "; ".join(record.reasons)
        out[judge.label] = (
            f"judge {judge.judge_id} ({judge.label}) not trusted ({why}): its metric is "
            "shown, not gated"
        )
    return out


def statuses_text(session: Session, *, suite: Mapping[str, Any] | None) -> str:
    """Every judge's status on one line each (the deploy request's "LLM judge" field)."""
    lines = [status_line(j, r) for j, r in judge_statuses(session, suite=suite)]
    return "\n".join(lines) or "no LLM judge in the suite"


def judge_needs(
    session: Session, *, suite: Mapping[str, Any] | None
) -> tuple[dict[str, str], dict[str, str]]:
    """For a review sample: the suite's untrusted judges (metric → reason), and the items
    where people contradicted one of them before (item id → why)."""
    from roles.calibration.pairs import collect_labels

    untrusted = untrusted_metrics(session, suite=suite)
    wrong: dict[str, str] = {}
    for judge in judges_in_suite(suite):
        if judge.label not in untrusted:
            continue
        labels = collect_labels(session, judge_id=judge.judge_id).get(judge.judge_id)
        # the picks too: where the judge went wrong teaches, however the item was chosen
        for pair in [*labels.pairs, *labels.picks] if labels is not None else []:
            if not pair.agrees:
                said = "fail" if pair.judge_fail else "pass"
                wrong.setdefault(pair.item_id, f"{judge.label} said {said}; people did not")
    return untrusted, wrong


def change_note(session: Session, *, change_id: int) -> str:
    """For the deploy request: each judge of the suite that judged the change, and the
    prompt's flagged coverage gaps."""
    from roles.calibration.coverage import flagged_gap_notes
    from roles.changes import verdict_of
    from roles.ledger import EvalRun

    payload = (verdict_of(session, change_id=change_id) or {}).get("payload") or {}
    run = session.get(EvalRun, payload["candidate_run"]) if payload.get("candidate_run") else None
    lines = [statuses_text(session, suite=run.suite if run is not None else None)]
    notes = flagged_gap_notes(session, change_id=change_id)
    return "\n".join(lines + [n.removeprefix("note: ") for n in notes[:MAX_GAP_LINES]])


def plain_status(judge: JudgeRef, record: CalibrationRecord | None) -> str:
    """``judge 3f9c… (judge_correct): not trusted — 10 labelled pairs, fewer than the 30
    required`` (the demo's last word: said plainly)."""
    name = f"judge {judge.judge_id} ({judge.label})"
    if record is None:
        return f"{name}: not trusted — never calibrated (no labelled pairs yet)"
    verdict = "trusted" if record.trusted else "not trusted"
    return f"{name}: {verdict} — {'; '.join(record.reasons)}"
