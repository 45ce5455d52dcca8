"""Eval runs in the ledger: start, record results in batches, finish, read back.

A run's totals and ``finished`` status are written together at the end, in one
transaction; until then it reads as ``running`` and incomplete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from roles.clock import iso, utcnow
from roles.data_scientist import ItemResult, Sample, Score, Suite
from roles.errors import NotFoundError
from roles.ledger import DatasetItem, EvalResult, EvalRun, EvalScore
from roles.processes import gone
from roles.sweep.drift import answered_in_drift

if TYPE_CHECKING:  # the runner (and its template sandbox) only where items are run
    from roles.evaluation.runner import EvalItem, ItemOutcome


def suite_hash(suite: Suite) -> str:
    canonical = json.dumps(suite.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_outage(result: ItemResult) -> bool:
    """Whether the item failed through an endpoint (its answer's, or a judge's)."""
    return result.sample.outage or any(
        score.unscored and score.metadata.get("outage") for score in result.scores.values()
    )


def concluded_status(*, items: int, outage_items: int, max_outage_share: float) -> str:
    """``finished``, or ``outage`` when more items than the policy allows could not be
    answered because an endpoint failed: such a run is no evidence and is never reused."""
    if outage_items and outage_items > max_outage_share * items:
        return "outage"
    return "finished"


def eval_items(rows: Sequence[DatasetItem]) -> list[EvalItem]:
    from roles.evaluation.runner import EvalItem

    return [
        EvalItem(item_id=r.item_id, input=dict(r.input), expected=r.expected, tags=list(r.tags))
        for r in rows
    ]


def start_run(
    session: Session,
    *,
    version_id: int,
    dataset_id: int,
    model: str,
    suite: Suite,
    settings: dict[str, Any],
    purpose: str = "adhoc",
    change_id: int | None = None,
    flow_run_id: str | None = None,
    pid: int | None = None,
    host: str | None = None,
) -> EvalRun:
    run = EvalRun(
        pid=pid,
        host=host,
        updated_at=utcnow(),
        prompt_version_id=version_id,
        dataset_id=dataset_id,
        change_id=change_id,
        purpose=purpose,
        model=model,
        suite_hash=suite_hash(suite),
        suite=suite.to_dict(),
        settings=settings,
        flow_run_id=flow_run_id,
    )
    session.add(run)
    session.flush()
    return run


def record_outcomes(session: Session, *, run_id: int, outcomes: Sequence[ItemOutcome]) -> None:
    """Insert a batch of item results and their scores (bulk statements, not ORM objects:
    a thousand items must not cost the event loop its share of the interpreter)."""
    if not outcomes:
        return
    result_rows = []
    for outcome in outcomes:
        sample = outcome.result.sample
        result_rows.append(
            {
                "run_id": run_id,
                "item_id": sample.item_id,
                "output": sample.output,
                "error": sample.error,
                "outage": is_outage(outcome.result),
                "latency_s": sample.latency_s,
                "input_tokens": sample.input_tokens,
                "output_tokens": sample.output_tokens,
                "cost_usd": sample.cost_usd,
                "cached": outcome.cached,
            }
        )
    ids = (
        session.execute(
            insert(EvalResult).returning(col(EvalResult.id), sort_by_parameter_order=True),
            result_rows,
        )
        .scalars()
        .all()
    )
    score_rows = [
        {
            "result_id": result_id,
            "metric": metric,
            "value": score.value,
            "passed": score.passed,
            "unscored": score.unscored,
            "reason": score.reason,
            "explanation": score.explanation,
            "raw_answer": score.raw_answer,
            "details": score.metadata,
        }
        for result_id, outcome in zip(ids, outcomes, strict=True)
        for metric, score in outcome.result.scores.items()
    ]
    if score_rows:
        session.execute(insert(EvalScore), score_rows)


def note_progress(session: Session, *, run_id: int, spent: dict[str, Any]) -> None:
    """Bring a running run's counts up to what it has recorded and spent so far, so they
    are true at any moment (a run killed mid-way still says what it did)."""
    run = get_run(session, run_id)
    _count_recorded(session, run)
    for key, value in spent.items():
        setattr(run, key, value)
    run.updated_at = utcnow()
    session.add(run)
    session.flush()


def _count_recorded(session: Session, run: EvalRun) -> None:
    from sqlalchemy import case, func

    items, errors, outages = session.exec(
        select(
            func.count(),
            func.count(col(EvalResult.error)),
            func.coalesce(func.sum(case((col(EvalResult.outage), 1), else_=0)), 0),
        ).where(EvalResult.run_id == run.id)
    ).one()
    run.items, run.errors, run.outage_items = int(items), int(errors), int(outages)


def finish_run(
    session: Session,
    *,
    run_id: int,
    totals: dict[str, Any],
    summary: dict[str, Any],
    max_outage_share: float = 0.0,
    not_tried: int = 0,
) -> EvalRun:
    """Write the totals; the status is ``finished``, or ``outage`` (see ``concluded_status``;
    ``not_tried`` items were left out because the endpoint was down: always an outage)."""
    run = get_run(session, run_id)
    for key, value in totals.items():
        setattr(run, key, value)
    _count_recorded(session, run)
    run.summary = summary
    run.status = concluded_status(
        items=run.items + not_tried,
        outage_items=run.outage_items + not_tried,
        max_outage_share=max_outage_share,
    )
    if run.status == "outage":
        run.failure = outage_summary(session, run)
        if not_tried:
            run.failure += f"; {not_tried} more not tried: the endpoint failed every call in a row"
    run.finished_at = run.updated_at = utcnow()
    session.add(run)
    session.flush()
    return run


def outage_summary(session: Session, run: EvalRun) -> str:
    """``outage: 30/30 items could not be answered (connection error …)``."""
    first = session.exec(
        select(EvalResult.error)
        .where(EvalResult.run_id == run.id)
        .where(col(EvalResult.outage))
        .where(col(EvalResult.error).is_not(None))
        .limit(1)
    ).first()
    if first is None:  # the answers came, the judge's endpoint failed
        first = session.exec(
            select(EvalScore.reason)
            .join(EvalResult, col(EvalResult.id) == col(EvalScore.result_id))
            .where(EvalResult.run_id == run.id)
            .where(col(EvalResult.outage))
            .where(col(EvalScore.unscored))
            .limit(1)
        ).first()
    return f"outage: {run.outage_items}/{run.items} items could not be answered ({first})"


def fail_run(
    session: Session, *, run_id: int, reason: str, spent: dict[str, Any] | None = None
) -> None:
    """Mark a run failed, counting what it did record and spend (kept, visibly incomplete)."""
    run = get_run(session, run_id)
    _count_recorded(session, run)
    for key, value in (spent or {}).items():
        setattr(run, key, value)
    run.status = "failed"
    run.failure = reason
    run.finished_at = run.updated_at = utcnow()
    session.add(run)
    session.flush()


def get_run(session: Session, run_id: int) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFoundError(f"there is no eval run {run_id}")
    return run


def reusable_run(
    session: Session,
    *,
    version_id: int,
    dataset_id: int,
    model: str,
    suite_hash: str,
    endpoint: str | None = None,
) -> EvalRun | None:
    """The evidence a change may reuse instead of paying again: a finished run of the same
    version, dataset version, model and suite, answered by the same ``endpoint`` when one
    is named (the same model name elsewhere is another model). Never an ``outage`` run, never
    a sweep's (a sweep runs while the model may be drifting: that is what it
    looks for, so its run is evidence about the endpoint, not the prompt), and never one a
    later sweep found answered by a drifted model (``roles.sweep.drift``)."""
    runs = session.exec(
        select(EvalRun)
        .where(EvalRun.prompt_version_id == version_id)
        .where(EvalRun.dataset_id == dataset_id)
        .where(EvalRun.model == model)
        .where(EvalRun.suite_hash == suite_hash)
        .where(EvalRun.status == "finished")
        .where(EvalRun.purpose != "sweep")
        .order_by(col(EvalRun.id).desc())
    ).all()
    for run in runs:
        if endpoint is not None and run.settings.get("endpoint") != endpoint:
            continue  # another endpoint's answers: an older run of this one may do
        if not answered_in_drift(session, run):
            return run
    return None


def load_results(session: Session, *, run_id: int) -> list[ItemResult]:
    """The run's item results, rebuilt as the scorers returned them."""
    run = get_run(session, run_id)
    items = {
        i.item_id: i
        for i in session.exec(select(DatasetItem).where(DatasetItem.dataset_id == run.dataset_id))
    }
    results = list(
        session.exec(
            select(EvalResult).where(EvalResult.run_id == run_id).order_by(col(EvalResult.id))
        )
    )
    scores: dict[int, dict[str, Score]] = {}
    ids = [r.id for r in results]
    for s in (
        session.exec(select(EvalScore).where(col(EvalScore.result_id).in_(ids))) if ids else []
    ):
        scores.setdefault(s.result_id, {})[s.metric] = Score(
            value=s.value,
            passed=s.passed,
            unscored=s.unscored,
            reason=s.reason,
            explanation=s.explanation,
            raw_answer=s.raw_answer,
            metadata=s.details,
        )
    out = []
    for r in results:
        item = items.get(r.item_id)
        sample = Sample(
            item_id=r.item_id,
            input=dict(item.input) if item else {},
            expected=item.expected if item else None,
            output=r.output,
            error=r.error,
            latency_s=r.latency_s,
            cost_usd=r.cost_usd,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            tags=list(item.tags) if item else [],
        )
        out.append(ItemResult(sample=sample, scores=scores.get(r.id or 0, {})))
    return out


def common_errors(session: Session, *, run_id: int, limit: int = 3) -> list[dict[str, Any]]:
    """The most frequent item errors of a run, with their counts."""
    from sqlalchemy import func

    rows = session.exec(
        select(EvalResult.error, func.count())
        .where(EvalResult.run_id == run_id)
        .where(col(EvalResult.error).is_not(None))
        .group_by(EvalResult.error)
        .order_by(func.count().desc())
        .limit(limit)
    ).all()
    return [{"error": error, "items": count} for error, count in rows]


def run_view(session: Session, run: EvalRun) -> dict[str, Any]:
    from roles.ledger import Dataset, Prompt, PromptVersion

    version = session.get(PromptVersion, run.prompt_version_id)
    prompt = session.get(Prompt, version.prompt_id) if version else None
    dataset = session.get(Dataset, run.dataset_id)
    return {
        "id": run.id,
        "prompt": prompt.name if prompt else None,
        "version": version.number if version else None,
        "dataset": dataset.name if dataset else None,
        "dataset_version": dataset.version if dataset else None,
        "model": run.model,
        "purpose": run.purpose,
        "change_id": run.change_id,
        "status": "abandoned"
        if run.status == "running" and gone(run.pid, run.host)
        else run.status,
        "items": run.items,
        "errors": run.errors,
        "outage_items": run.outage_items,
        "model_calls": run.model_calls,
        "cache_hits": run.cache_hits,
        "tokens": run.input_tokens + run.output_tokens,
        "input_tokens": run.input_tokens,
        "output_tokens": run.output_tokens,
        "cost": run.cost_usd,
        "wall_s": run.wall_s,
        "scores": run.summary.get("scores", {}),
        "summary": run.summary,
        "settings": run.settings,
        "flow_run_id": run.flow_run_id,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at) if run.finished_at else None,
        "failure": run.failure,
        "common_errors": common_errors(session, run_id=run.id or 0) if run.errors else [],
    }


def item_views(
    session: Session, *, run_id: int, failed_only: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """Per-item outputs, errors and every score (with unscored reasons and raw judge answers)."""
    query = select(EvalResult).where(EvalResult.run_id == run_id).order_by(col(EvalResult.id))
    if failed_only:
        failing = select(EvalScore.result_id).where(
            (col(EvalScore.passed).is_(False)) | col(EvalScore.unscored)
        )
        query = query.where(col(EvalResult.error).is_not(None) | col(EvalResult.id).in_(failing))
    if limit:
        query = query.limit(limit)
    results = list(session.exec(query))
    ids = [r.id for r in results]
    scores: dict[int, dict[str, Any]] = {}
    for s in (
        session.exec(select(EvalScore).where(col(EvalScore.result_id).in_(ids))) if ids else []
    ):
        scores.setdefault(s.result_id, {})[s.metric] = {
            "value": s.value,
            "passed": s.passed,
            "unscored": s.unscored,
            "reason": s.reason,
            "explanation": s.explanation,
            "raw_answer": s.raw_answer,
        }
    return [
        {
            "item_id": r.item_id,
            "output": r.output,
            "error": r.error,
            "latency_s": r.latency_s,
            "cached": r.cached,
            "cost_usd": r.cost_usd,
            "scores": scores.get(r.id or 0, {}),
        }
        for r in results
    ]
