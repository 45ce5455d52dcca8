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

What a person sees in the Prefect UI: the run named for the change (and, once it ended,
for how: ``support-triage-change-7: eval failed``), its state message (the gate's verdict
and what it waits for), and its pinned artifact ``<ledger>-change-<id>-pipeline`` (the
change, the gate's reasons, the history), all told from the ledger by
``integrations.pipeline_story``. A gate that failed ends the run Failed, named
``Eval failed`` (see ``final_state``); a suspension is logged as INFO, not ERROR.
"""

from __future__ import annotations

import asyncio
import logging
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
from integrations.pipeline_runs import FLOW_NAME, Nudge, record_run, retell, ui_link
from roles.pipeline import NextStep, next_step, still_waiting

MAX_WAKES = 1000  # a run woken this often for nothing is broken, not waiting


def _run_name() -> str:
    from integrations.pipeline_story import base_name

    params = flow_run.parameters
    return base_name(params.get("prompt"), params["change_id"])


class SuspensionIsNoError(logging.Filter):
    """Prefect's engine logs an async flow's end in any state but Completed at ERROR, so a
    run that suspends to wait for people showed a red ``ERROR … Finished in state
    Suspended`` in the UI: logged at INFO instead (the record is rewritten, not dropped)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith(
            ("Finished in state Suspended", "Finished in state Paused")
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_suspensions() -> None:
    """Install ``SuspensionIsNoError`` on the engine's flow-run logger (once)."""
    engine_log = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, SuspensionIsNoError) for f in engine_log.filters):
        engine_log.addFilter(SuspensionIsNoError())


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


async def _label(*, suspending: bool = False) -> None:
    """Label this run with its process (or with none, while suspended)."""
    if not flow_run.id:
        return
    from prefect.client.orchestration import get_client

    from integrations.pipeline_recovery import label_process

    async with get_client() as client:
        await label_process(client, flow_run.id, suspending=suspending)


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
        await asyncio.to_thread(retell, step.change_id)  # the artifact says what it waits for
        await _label(suspending=True)
        nudge: Any = await asuspend_flow_run(
            wait_for_input=Nudge, key=f"{step.waits_for}-w{attempt}", timeout=None
        )
        await _label()  # a wait over already returns at once, in this process
        logger.info("woken: %s", getattr(nudge, "reason", nudge))
    raise RuntimeError(f"woken {MAX_WAKES} times while {step.message}")


@flow(name=FLOW_NAME, flow_run_name=_run_name, log_prints=True, retries=0)
async def change_pipeline(change_id: int, prompt: str | None = None) -> State:
    """Take change ``change_id`` as far as the ledger lets it go now, then wait or end.

    Args:
        prompt: only names the run in the UI.
    Returns:
        The change's outcome (``final_state``); or Failed (an outage, bad input, a bug in
        the evaluation, the ledger not answering) with the change left in evaluating and
        the error on it (serve's reconciler writes it there when the ledger could not).
    """
    from sqlalchemy.exc import InterfaceError, OperationalError

    quiet_suspensions()
    try:
        return await _pipeline(change_id, prompt)
    except (OperationalError, InterfaceError) as exc:
        message = f"the ledger did not answer: {type(exc).__name__}: {exc.orig or exc}"
        get_run_logger().error("change %s: %s", change_id, message.splitlines()[0])
        return Failed(name="Ledger unreachable", message=message.splitlines()[0][:500])


async def _pipeline(change_id: int, prompt: str | None) -> State:
    logger = get_run_logger()
    if flow_run.id:
        record_run(change_id, str(flow_run.id))
        await _label()  # serve finds this run if it dies
        await asyncio.to_thread(retell, change_id)
    step = _step(change_id)
    while step.stage != "done":
        await calibrate_after_review(change_id)  # once per concluded review; never fatal
        if step.stage == "evaluate":  # first, or again: production moved since the last
            evaluated: Any = await evaluate_change(change_id, prompt=prompt, return_state=True)
            if evaluated.is_failed() and _step(change_id).stage == "evaluate":  # no verdict
                await asyncio.to_thread(retell, change_id)
                return Failed(name=evaluated.name, message=evaluated.message)
        elif step.stage == "approval":
            request_approval(change_id)
            await wait_for_people(step)
        else:
            await wait_for_people(step)
        step = _step(change_id)
    await calibrate_after_review(change_id)
    logger.info("change %s: %s", change_id, step.message)
    return await final_state(change_id, step)


async def final_state(change_id: int, step: NextStep) -> State:
    """The run's end, named for the change's outcome, its message the story's headline.

    A failed gate ends the run Failed, named ``Eval failed``: red on the board, as the
    change did not make it. Prefect would retry a Failed flow run with retries, so this
    flow pins ``retries=0`` (a retry would only find the verdict in the ledger and end
    again); its event is ``prefect.flow-run.Eval failed`` (the event carries the state's
    name), so an automation on ``prefect.flow-run.Failed`` (an outage, a bug) is not
    fired by a verdict, while one on the FAILED state type (the UI's "enters Failed") is.
    Every other outcome is Completed (a person decided it).
    """
    from integrations.pipeline_story import story_of

    with session_scope() as session:
        story = story_of(session, change_id=change_id)
    if flow_run.id:
        await asyncio.to_thread(retell, change_id, flow_run_id=str(flow_run.id))
    message = story.headline or step.message
    if step.state == "eval_failed":
        return Failed(name=step.outcome, message=message, data=step.state)
    return Completed(name=step.outcome, message=message, data=step.state)
