"""The change pipeline's runs on the Prefect server: create one, wake one, keep it truthful.

    run = start_pipeline(7, prompt="support-triage", attempt="h3")  # returns at once
    wake(7, reason="review 3 concluded")  # the gateway, the CLI, the deadline check
    await reconcile(client)  # serve, every few seconds: wake what is due, say what waits,
                             # re-run what died (integrations.pipeline_recovery)
    retell(7)  # after a rollback or a withdrawal: the run's name, state and artifact follow

Each ledger serves its own deployment (``change-pipeline/ledger-<tag>``), so two ledgers
sharing one Prefect server never run each other's changes. The ledger is the truth: a
woken run reads what happened from it, and a run woken for nothing suspends again.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def start_pipeline(change_id: int, *, prompt: str, attempt: str, recovery: int = 0) -> Any:
    """Create the change's pipeline run (``run_deployment(..., timeout=0)``) and record it
    on the change. ``attempt`` makes the idempotency key: the same attempt twice (a double
    click, a retried command) is one run. ``recovery``: the how-manieth re-run of a run
    whose process died this is (a tag, so that a run that always dies is not re-run forever)."""
    from prefect.deployments import run_deployment

    from integrations.pipeline_recovery import RECOVERY_TAG
    from integrations.pipeline_story import base_name

    tags = run_tags(change_id, prompt) + ([f"{RECOVERY_TAG}{recovery}"] if recovery else [])
    run: Any = run_deployment(
        full_deployment_name(),
        parameters={"change_id": change_id, "prompt": prompt},
        flow_run_name=base_name(prompt, change_id),
        timeout=0,
        tags=tags,
        idempotency_key=f"{ledger_tag()}-change-{change_id}-{attempt}",
        as_subflow=False,
    )
    record_run(change_id, str(run.id))
    return run


def record_run(change_id: int, flow_run_id: str) -> None:
    """The one writer of ``ChangeRequest.flow_run_id``: the change's pipeline run."""
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        if change.flow_run_id != flow_run_id:
            change.flow_run_id = flow_run_id
            session.add(change)


def current_run(change_id: int) -> Any | None:
    """The change's pipeline run as this home's Prefect server knows it, or None (no run
    yet, no server answering, or one another server or a deleted run holds: not this
    server's to wait for)."""
    from prefect.client.orchestration import get_client

    from roles.transitions import get_change

    with session_scope() as session:
        flow_run_id = get_change(session, change_id).flow_run_id
    if not flow_run_id:
        return None
    with prefect_here() as here:
        if not here:
            return None
        try:
            with get_client(sync_client=True) as client:
                return client.read_flow_run(UUID(flow_run_id))
        except Exception:
            return None


@contextmanager
def prefect_here(**settings: Any) -> Iterator[bool]:
    """Prefect's clients, inside, talk to this home's server (PREFECT_API_URL, Prefect's
    profile, or the server recorded here) if it answers within a second, with ``settings``
    (Prefect settings by name) too; yields False when none answers. Never a temporary
    server of the client's own: one took a CLI approval 15 s and found no run to wake."""
    from integrations.prefect_server import healthy

    url = _api_url()
    protected = os.environ.get("PREFECT_API_KEY") or os.environ.get("PREFECT_API_AUTH_STRING")
    # a protected server (Prefect Cloud, an auth string) answers no unauthenticated probe:
    # there the client's own calls say whether it answers
    if not url or (not protected and not healthy(url, timeout=1.0)):
        yield False
        return
    import prefect.settings
    from prefect.settings import temporary_settings

    given = {getattr(prefect.settings, name): value for name, value in settings.items()}
    with temporary_settings({prefect.settings.PREFECT_API_URL: url, **given}):
        yield True


def live_run(change_id: int) -> str | None:
    """A description of the change's pipeline run if it is still working (not final and
    not waiting for people), else ``None``."""
    from integrations.pipeline_recovery import PROCESS_LABEL, process_gone

    run = current_run(change_id)
    if run is None or run.state is None or run.state.is_final() or run.state.is_paused():
        return None
    if run.state.is_running() and process_gone((run.labels or {}).get(PROCESS_LABEL)):
        return None  # says Running, but its process died: serve's reconciler re-runs it
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

    with prefect_here() as here:
        if not here:
            log.info("change %s: no Prefect server answers here; serve wakes its run", change_id)
            return False
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
    """Wake every suspended run of this ledger whose wait is over; set each waiting run's
    state message to what the gate said and what it waits for now ("gate passed; awaiting
    expert review: 4/10 …"), its pinned artifact with it; and recover the runs whose
    process died (``integrations.pipeline_recovery.recover``)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from integrations.pipeline_recovery import recover
    from integrations.pipeline_story import story_of
    from roles.pipeline import next_step

    deployments = DeploymentFilter(
        name=DeploymentFilterName(
            any_=list({deployment_name(), full_deployment_name().split("/", 1)[1]})
        )
    )
    flows = FlowFilter(name=FlowFilterName(any_=[FLOW_NAME]))
    runs = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
        ),
        flow_filter=flows,
        deployment_filter=deployments,
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
                story = story_of(session, change_id=change_id) if step.message else None
        except Exception as exc:  # a change deleted, a ledger down: the next round retries
            log.warning("change %s: %s", change_id, exc)
            continue
        if step.waits_for != waiting:
            await _resume(client, run.id, f"the change is {step.state}")
            counts["woken"] += 1
        elif story is not None and run.state.message != story.headline:
            await _describe(client, run, story.headline)
            await _apublish(client, story, run.id)
            counts["described"] += 1
    counts.update(await recover(client, flows=flows, deployments=deployments))
    return counts


def artifact_key(change_id: int) -> str:
    """The change's pinned artifact (``<ledger>-change-<id>-pipeline``): one key per change,
    a new version each time it is told again; the latest is what the UI shows."""
    return f"{ledger_tag()}-change-{change_id}-pipeline"


def _artifact(story: Any, flow_run_id: object) -> Any:
    from prefect.client.schemas.actions import ArtifactCreate

    return ArtifactCreate(
        key=artifact_key(story.change_id),
        type="markdown",
        data=story.markdown,
        description=f"change {story.change_id}: {story.headline}"[:500],
        flow_run_id=UUID(str(flow_run_id)),
    )


async def _apublish(client: Any, story: Any, flow_run_id: object) -> None:
    try:
        await client.create_artifact(_artifact(story, flow_run_id))
    except Exception as exc:
        log.info("change %s: artifact not updated: %s", story.change_id, exc)


def _api_url() -> str | None:
    """The Prefect server this process would use, without starting one: PREFECT_API_URL
    (the environment or Prefect's profile), else this home's recorded server."""
    from integrations.prefect_server import recorded_url

    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        return explicit
    if "prefect" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return str(PREFECT_API_URL.value())
    return recorded_url()


def retell(change_id: int, *, flow_run_id: str | None = None) -> bool:
    """Make the change's pipeline run tell the change's outcome as the ledger has it now:
    its name ("support-triage-change-7: rolled back"), its pinned artifact and, once the
    run has ended, its final state's name and message ("Rolled back"). True if told.

    Cheap and safe after any action (a rollback, a withdrawal): no run recorded, or a
    Prefect server that does not answer within a second, is a logged warning, never an
    error; the ledger is the truth either way.
    """
    try:
        return _retell(change_id, flow_run_id)
    except Exception as exc:
        log.warning("could not retell change %s's pipeline run: %s", change_id, exc)
        return False


def _retell(change_id: int, flow_run_id: str | None) -> bool:
    from integrations.pipeline_story import story_of

    with session_scope() as session:
        story = story_of(session, change_id=change_id)
    run_id = flow_run_id or story.flow_run_id
    if not run_id:
        return False
    from prefect.client.orchestration import get_client

    with prefect_here(PREFECT_CLIENT_MAX_RETRIES=0) as here:
        if not here:
            log.warning(
                "change %s: the Prefect server (%s) does not answer; its pipeline run still "
                "tells its earlier outcome", change_id, _api_url() or "none recorded",
            )  # fmt: skip
            return False
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(run_id))
            if run.name != story.run_name:
                client.update_flow_run(run.id, name=story.run_name)
            client.create_artifact(_artifact(story, run.id))
            _restate(client, run, story)
    return True


def _restate(client: Any, run: Any, story: Any) -> None:
    """A run that ended with an outcome the change has since left (Deployed, then rolled
    back) gets a final state named for the new one; a run still going ends itself."""
    from prefect.client.schemas.objects import State, StateType

    from roles.pipeline import OUTCOMES

    told = {*OUTCOMES.values(), "Rolled back"}
    if run.state is None or not run.state.is_final() or story.outcome is None:
        return
    if run.state.name not in told or run.state.name == story.outcome:
        return
    failed = story.state == "eval_failed"
    state = State(
        type=StateType.FAILED if failed else StateType.COMPLETED,
        name=story.outcome,
        message=story.headline,
    )
    client.set_flow_run_state(run.id, state=state, force=True)


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
