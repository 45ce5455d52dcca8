"""The change pipeline's runs on the Prefect server: create one, wake one, keep it truthful.

    run = start_pipeline(7, prompt="support-triage", attempt="h3")  # returns at once
    wake(7, reason="review 3 concluded")  # the gateway, the CLI, the deadline check
    await reconcile(client)  # serve, every few seconds: wake what is due, say what waits

Each ledger serves its own deployment (``change-pipeline/ledger-<tag>``), so two ledgers
sharing one Prefect server never run each other's changes. The ledger is the truth: a
woken run reads what happened from it, and a run woken for nothing suspends again.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from prefect.input import RunInput

from integrations.db import ledger_tag, session_scope
from roles.errors import PolicyError

log = logging.getLogger("promptloop.pipeline")

FLOW_NAME = "change-pipeline"


class Nudge(RunInput):
    """What wakes a suspended pipeline run: only a nudge; the decision is in the ledger."""

    reason: str  # no default: an empty resume from the UI is refused by the server


def deployment_name() -> str:
    return f"ledger-{ledger_tag()}"


def full_deployment_name() -> str:
    """Where change pipelines run: serve's deployment for this ledger, or the one
    ``PROMPTLOOP_PIPELINE_DEPLOYMENT`` names (Prefect workers, from prefect.yaml)."""
    from integrations.settings import get_settings

    return get_settings().pipeline_deployment or f"{FLOW_NAME}/{deployment_name()}"


def ui_link(flow_run_id: object) -> str | None:
    """A flow run's page in the Prefect UI this process talks to, for messages to people."""
    from prefect.settings import PREFECT_API_URL

    from integrations.prefect_server import ui_url

    api = PREFECT_API_URL.value() or ""
    return f"{ui_url(api)}/runs/flow-run/{flow_run_id}" if api and flow_run_id else None


def run_tags(change_id: int, prompt: str | None) -> list[str]:
    tags = [f"change:{change_id}", f"ledger:{ledger_tag()}", "promptloop", "pipeline"]
    return [f"prompt:{prompt}", *tags] if prompt else tags


def start_pipeline(change_id: int, *, prompt: str, attempt: str) -> Any:
    """Create the change's pipeline run (``run_deployment(..., timeout=0)``) and record it
    on the change. ``attempt`` makes the idempotency key: the same attempt twice (a double
    click, a retried command) is one run."""
    from prefect.deployments import run_deployment

    run: Any = run_deployment(
        full_deployment_name(),
        parameters={"change_id": change_id, "prompt": prompt},
        flow_run_name=f"{prompt}-change-{change_id}",
        timeout=0,
        tags=run_tags(change_id, prompt),
        idempotency_key=f"{ledger_tag()}-change-{change_id}-{attempt}",
        as_subflow=False,
    )
    record_run(change_id, str(run.id))
    return run


def record_run(change_id: int, flow_run_id: str) -> None:
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        if change.flow_run_id != flow_run_id:
            change.flow_run_id = flow_run_id
            session.add(change)


def current_run(change_id: int) -> Any | None:
    """The change's pipeline run as this Prefect server knows it, or None (no run yet, or
    one another server or a deleted run holds: not this server's to wait for)."""
    from prefect.client.orchestration import get_client

    from roles.transitions import get_change

    with session_scope() as session:
        flow_run_id = get_change(session, change_id).flow_run_id
    if not flow_run_id:
        return None
    try:
        with get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(flow_run_id))
    except Exception:
        return None


def live_run(change_id: int) -> str | None:
    """A description of the change's pipeline run if it is still working (not final and
    not waiting for people), else ``None``."""
    run = current_run(change_id)
    if run is None or run.state is None or run.state.is_final() or run.state.is_paused():
        return None
    return f"flow run {run.name} ({run.id}) is {run.state.name}"


def refuse_if_running(change_id: int) -> None:
    busy = live_run(change_id)
    if busy:
        raise PolicyError(
            f"change {change_id} is already in its pipeline: {busy}; wait for it, or use "
            f"`promptloop change evaluate {change_id} --force` if that run is dead"
        )


def wake(change_id: int, *, reason: str) -> bool:
    """Resume the change's pipeline run if it is suspended; True if it was. A Prefect that
    does not answer is logged, not raised: the decision is in the ledger already, and
    ``serve`` wakes the run on its next round."""
    from prefect.exceptions import NotPausedError
    from prefect.flow_runs import resume_flow_run

    run = current_run(change_id)
    if run is None or run.state is None or not run.state.is_paused():
        return False
    try:
        resume_flow_run(run.id, run_input={"reason": reason[:500]})
        return True
    except NotPausedError:
        return False  # woken by someone else meanwhile
    except Exception as exc:
        log.warning("could not wake the pipeline of change %s (%s); serve will", change_id, exc)
        return False


def waits_for(pause_key: str | None) -> str | None:
    """``review-3`` from the pause key ``review-3-w2`` a waiting run suspended with."""
    if not pause_key or "-w" not in pause_key:
        return None
    return pause_key.rsplit("-w", 1)[0]


async def reconcile(client: Any) -> dict[str, int]:
    """Wake every suspended run of this ledger whose wait is over, and set each waiting
    run's state message to what it waits for now ("awaiting expert review: 4/10 …")."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from roles.pipeline import next_step

    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
        ),
        deployment_filter=DeploymentFilter(
            name=DeploymentFilterName(
                any_=list({deployment_name(), full_deployment_name().split("/", 1)[1]})
            )
        ),
        limit=200,
    )
    counts = {"woken": 0, "described": 0}
    for run in runs:
        change_id = run.parameters.get("change_id")
        if not isinstance(change_id, int) or run.state is None:
            continue
        waiting = waits_for(run.state.state_details.pause_key)
        try:
            with session_scope() as session:
                step = next_step(session, change_id=change_id)
        except Exception as exc:  # a change deleted, a ledger down: the next round retries
            log.warning("change %s: %s", change_id, exc)
            continue
        if step.waits_for != waiting:
            await _resume(client, run.id, f"the change is {step.state}")
            counts["woken"] += 1
        elif step.message and run.state.message != step.message:
            await _describe(client, run, step.message)
            counts["described"] += 1
    return counts


async def _resume(client: Any, flow_run_id: UUID, reason: str) -> None:
    from prefect.flow_runs import aresume_flow_run

    try:
        await aresume_flow_run(flow_run_id, run_input={"reason": reason})
    except Exception as exc:  # resumed by another process meanwhile, or a server hiccup
        log.info("flow run %s not resumed: %s", flow_run_id, exc)


async def _describe(client: Any, run: Any, message: str) -> None:
    """Rewrite the suspended state with ``message``: the Prefect UI shows what it waits for."""
    from prefect.client.schemas.objects import State

    state = State(
        type=run.state.type,
        name=run.state.name,
        message=message,
        state_details=run.state.state_details,
    )
    try:
        await client.set_flow_run_state(run.id, state=state, force=True)
    except Exception as exc:
        log.info("flow run %s not described: %s", run.id, exc)


def attempt_key(change_id: int, *, force: bool = False) -> str:
    """One run per attempt: a new revision, or a retry after a recorded error, is a new one
    (``force``: a new one now, e.g. after a run that died)."""
    import time

    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        error_at = change.evaluation_error_at.isoformat() if change.evaluation_error_at else ""
    retry = f"-{time.time_ns()}" if force else ""
    return f"r{change.revision}-{error_at}{retry}"


def note_launch_failure(change_id: int, exc: BaseException) -> None:
    """Leave why the pipeline could not start where `change show` looks, so a change never
    sits silently: an outage (Prefect down), our own refusal, or a bug."""
    from roles.errors import OutageError, PromptloopError
    from roles.evaluation.change import ErrorKind, note_evaluation_error

    kind: ErrorKind = "bug"
    if isinstance(exc, PromptloopError):
        kind = "outage" if isinstance(exc, OutageError) else "input"
    message = exc.message if isinstance(exc, PromptloopError) else f"{type(exc).__name__}: {exc}"
    with session_scope() as session:
        note_evaluation_error(session, change_id=change_id, kind=kind, message=message)
