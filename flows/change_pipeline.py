"""``change-pipeline``: one Prefect run per change, from submission to the people's verdict.

    evaluate (the evaluate-change subflow) → the experts' review (opened by the
    evaluation's verdict; the run suspends: no process is held while people take days)
    → the deploy request; suspended again until the engineers decide → ends named for
    the outcome (Deployed, Rejected, Eval failed, Changes requested, Withdrawn); stale
    evidence (production moved meanwhile) loops back to evaluate

A suspended run starts again from its top when it is resumed, so every stage first asks
the ledger where the change stands (``roles.pipeline.next_step``) and skips what is done:
no model call, Slack post or handoff happens twice. A resume is only a nudge; a run
woken while its wait is not over suspends again. ``promptloop serve`` runs it.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows.calibrate_judges import calibrate_after_review
from flows.evaluate_change import evaluate_change
from integrations.db import session_scope
from integrations.pipeline_runs import FLOW_NAME, Nudge, record_run, ui_link
from roles.pipeline import NextStep, next_step, still_waiting

MAX_WAKES = 1000  # a run woken this often for nothing is broken, not waiting


def _run_name() -> str:
    params = flow_run.parameters
    return f"{params.get('prompt') or 'prompt'}-change-{params['change_id']}"


@task(name="request-approval", cache_policy=NONE)
def request_approval(change_id: int) -> None:
    """The deploy request in the deploy channel (once per candidate: a restarted run finds
    the one it posted)."""
    from integrations.slack.deploys import post_deploy_request

    with session_scope() as session:
        post_deploy_request(session, change_id=change_id, run_url=ui_link(flow_run.id))


def _step(change_id: int) -> NextStep:
    with session_scope() as session:
        return next_step(session, change_id=change_id)


def _waiting(change_id: int, waits_for: str) -> bool:
    with session_scope() as session:
        return still_waiting(session, change_id=change_id, waits_for=waits_for)


async def wait_for_people(step: NextStep) -> None:
    """Suspend until what ``step`` waits for has happened (read from the ledger on waking).

    Each wait has its own pause key (``review-3-w0``, ``review-3-w1`` …): a key already
    resumed returns at once, so a run restarted from its top walks past the waits that are
    over and suspends at the first one that is not.
    """
    logger = get_run_logger()
    assert step.waits_for is not None
    for attempt in range(MAX_WAKES):
        if not _waiting(step.change_id, step.waits_for):
            return
        logger.info("%s; suspended until then", step.message)
        nudge: Any = await asuspend_flow_run(
            wait_for_input=Nudge, key=f"{step.waits_for}-w{attempt}", timeout=None
        )
        logger.info("woken: %s", getattr(nudge, "reason", nudge))
    raise RuntimeError(f"woken {MAX_WAKES} times while {step.message}")


@flow(name=FLOW_NAME, flow_run_name=_run_name, log_prints=True)
async def change_pipeline(change_id: int, prompt: str | None = None) -> State:
    """Take change ``change_id`` as far as the ledger lets it go now, then wait or end.

    Args:
        prompt: only names the run in the UI.
    Returns:
        Completed, named for the change's outcome; or Failed (an outage, bad input, a bug
        in the evaluation) with the change left in evaluating and the error on it.
    """
    logger = get_run_logger()
    if flow_run.id:
        record_run(change_id, str(flow_run.id))
    step = _step(change_id)
    while step.stage != "done":
        await calibrate_after_review(change_id)  # once per concluded review; never fatal
        if step.stage == "evaluate":  # first, or again: production moved since the last
            evaluated: Any = await evaluate_change(change_id, prompt=prompt, return_state=True)
            if evaluated.is_failed():
                return Failed(name=evaluated.name, message=evaluated.message)
        elif step.stage == "approval":
            request_approval(change_id)
            await wait_for_people(step)
        else:
            await wait_for_people(step)
        step = _step(change_id)
    await calibrate_after_review(change_id)
    logger.info("change %s: %s", change_id, step.message)
    return Completed(name=step.outcome, message=step.message, data=step.state)
