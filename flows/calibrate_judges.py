"""``calibrate-judges``: every LLM judge (or one) measured against people's labels.

    pairs (votes, labelled datasets) → metrics with intervals → trust → a record per judge
    → a table artifact in the Prefect UI → a Slack notice when a judge's trust changes

Runs after each concluded review (the change pipeline, with ``trigger="review:<id>"``:
a restarted pipeline finds that calibration done and skips it), daily from ``serve``, and
now with ``promptloop judge calibrate``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from integrations.db import ledger_tag, session_scope

FLOW_NAME = "calibrate-judges"


def artifact_key() -> str:
    """``<ledger>-judge-calibration``: one per ledger on a shared Prefect server."""
    return f"{ledger_tag()}-judge-calibration"


@task(name="calibrate", cache_policy=NONE)
def calibrate(judge: str | None, trigger: str) -> list[dict[str, Any]]:
    """New records (and the trust notices) in one transaction; their rows for the table."""
    from integrations.pipeline_runs import ui_link
    from integrations.slack.judges import judge_trust_changed
    from roles.calibration.catalog import find_judge
    from roles.calibration.records import calibrate_judges, calibrated_for
    from roles.calibration.report import record_row
    from roles.clock import utcnow

    with session_scope() as session:
        if trigger.startswith("review:") and calibrated_for(session, trigger=trigger):
            return []
        judge_id = find_judge(session, judge).judge.judge_id if judge else None
        run_id = str(flow_run.id or "") or None
        outcomes = calibrate_judges(
            session, trigger=trigger, now=utcnow(), judge_id=judge_id, flow_run_id=run_id
        )
        for outcome in outcomes:
            judge_trust_changed(session, outcome, run_url=ui_link(flow_run.id))
        return [record_row(o.record) | {"changed": o.changed} for o in outcomes]


def _run_name() -> str:
    """``calibrate-judges-review-3``, ``calibrate-judges-daily-2026-12-07``,
    ``calibrate-judges-manual-<judge>``: what started it, readable on the board."""
    from roles.clock import utcnow

    params = flow_run.parameters
    trigger = str(params.get("trigger") or "manual").replace(":", "-")
    if trigger in ("daily", "manual"):
        trigger = f"{trigger}-{params['judge']}" if params.get("judge") else trigger
        trigger = f"{trigger}-{utcnow():%Y-%m-%d}" if trigger == "daily" else trigger
    return f"{FLOW_NAME}-{trigger}"


@flow(name=FLOW_NAME, flow_run_name=_run_name, log_prints=True)
def calibrate_judges(judge: str | None = None, trigger: str = "manual") -> list[dict[str, Any]]:
    """Calibrate every judge (or ``judge``: an id, id prefix or metric label).

    Returns:
        One row per judge: id, label, n, κ with its interval, trusted, changed.
    """
    logger = get_run_logger()
    rows = calibrate(judge, trigger)
    if rows:
        create_table_artifact(
            key=artifact_key(),
            table=rows,
            description=f"LLM judges against people's labels ({trigger})",
        )
    for row in rows:
        logger.info(
            "judge %s (%s): n=%s κ=%s trusted=%s%s",
            row["judge_id"],
            row["label"],
            row["n"],
            row["kappa"],
            row["trusted"],
            " (changed)" if row["changed"] else "",
        )
    return rows


def _concluded_review(change_id: int) -> int | None:
    """The change's latest review if it concluded (passed, failed or expired) and its
    calibration has not run yet."""
    from roles.calibration.records import calibrated_for
    from roles.review.current import current_review

    with session_scope() as session:
        review = current_review(session, change_id=change_id)
        if review is None or review.status in ("open", "cancelled") or review.id is None:
            return None
        return None if calibrated_for(session, trigger=f"review:{review.id}") else review.id


async def calibrate_after_review(change_id: int) -> None:
    """The calibration subflow once per concluded review; its failure is logged, never
    the pipeline's (a change's loop does not stop for the judges' bookkeeping)."""
    logger = get_run_logger()
    try:
        review_id = _concluded_review(change_id)
        if review_id is None:
            return
        state: Any = calibrate_judges(trigger=f"review:{review_id}", return_state=True)
        if state.is_failed():
            logger.warning("judge calibration after review %s failed: %s", review_id, state.message)
    except Exception:
        logger.exception("judge calibration after change %s's review failed", change_id)
