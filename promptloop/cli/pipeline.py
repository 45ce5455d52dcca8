"""Start a change's pipeline run through ``promptloop serve`` and, with --wait, follow it.

There is one way a flow runs: ``run_deployment`` creates the change's ``change-pipeline``
run and ``serve`` (started on demand) runs it. ``--wait`` follows that run, printing each
stage, until it waits for people or ends, then who acts next and how (``next: …``); an
evaluation that could not conclude is one sentence with its own exit code (4 an outage,
2 bad input, 3 a bug).
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from integrations.db import session_scope
from promptloop.cli.output import say
from promptloop.runtime import control
from roles.errors import InputError, InternalError, OutageError, PromptloopError
from roles.transitions import get_change

SCHEDULED_PATIENCE_S = 60.0  # a run not picked up by then: say so (serve may be down)


def start(change_id: int, prompt: str, *, force: bool = False) -> dict[str, Any]:
    """Create the change's pipeline run (serve started first if needed); its id and link."""
    try:
        running = control.ensure_serving(say)
    except PromptloopError as exc:
        from integrations.pipeline_runs import note_launch_failure

        note_launch_failure(change_id, exc)
        raise type(exc)(
            f"{exc.message}; change {change_id} stays {_state(change_id)}: retry with "
            f"`promptloop change evaluate {change_id}`"
        ) from None
    from integrations.pipeline_runs import attempt_key, refuse_if_running, start_pipeline

    if not force:
        refuse_if_running(change_id)
    run = start_pipeline(change_id, prompt=prompt, attempt=attempt_key(change_id, force=force))
    url = _url(running, str(run.id))
    say(f"pipeline run {run.name}: {url}")
    return {"evaluation": "started", "flow_run_id": str(run.id), "flow_run_url": url}


def resume(change_id: int, prompt: str) -> dict[str, Any]:
    """Wake the change's suspended run, or start a new one if it has none that lives."""
    running = control.ensure_serving(say)
    from integrations.pipeline_runs import live_run, wake

    with session_scope() as session:
        flow_run_id = get_change(session, change_id).flow_run_id
    if flow_run_id and wake(change_id, reason="promptloop change resume"):
        say(f"woke pipeline run {flow_run_id}")
        return {"flow_run_id": flow_run_id, "flow_run_url": _url(running, flow_run_id)}
    if flow_run_id and live_run(change_id):
        say(f"change {change_id}'s pipeline run {flow_run_id} is already working")
        return {"flow_run_id": flow_run_id, "flow_run_url": _url(running, flow_run_id)}
    from roles.pipeline import next_step

    with session_scope() as session:
        step = next_step(session, change_id=change_id)
    if step.stage == "done" and flow_run_id:  # nothing for a run to do: no new one
        return {"flow_run_id": flow_run_id, "flow_run_url": _url(running, flow_run_id)}
    return start(change_id, prompt, force=True)


def _url(running: dict[str, Any], flow_run_id: str) -> str:
    return f"{running['ui_url']}/runs/flow-run/{flow_run_id}"


def follow(change_id: int, flow_run_id: str, *, past: str | None = None) -> str:
    """Print the run's stages until it waits for people or ends; the change's state then.

    ``past`` (e.g. ``"review-"``): a wait whose pause key starts so is over already (the
    decision is in the ledger), so follow on until the run waits for something else.

    Raises the evaluation's error (outage, input, bug) if the run ended Failed.
    """
    try:
        return _follow(change_id, flow_run_id, past=past)
    except KeyboardInterrupt:
        say(
            f"stopped following; change {change_id}'s pipeline run goes on in `promptloop "
            f"serve` (`promptloop change show {change_id}`, or the Prefect UI)"
        )
        raise


def _follow(change_id: int, flow_run_id: str, *, past: str | None) -> str:
    from prefect.client.orchestration import get_client

    seen: tuple[str, str] | None = None
    progress: dict[int, tuple[str, int]] = {}
    print_progress(progress, change_id=change_id, quiet=True)  # an earlier attempt's runs
    started = time.monotonic()
    warned = False
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(UUID(flow_run_id))
            state = run.state
            change_state = _state(change_id)
            now = (str(state.name if state else "?"), change_state)
            if now != seen:
                say(f"  {now[0].lower()}: change {change_id} is {change_state}")
                seen = now
            print_progress(progress, change_id=change_id)
            if state is not None and (state.is_final() or _waits(state, past)):
                break
            warned = still_scheduled(state, started=started, warned=warned)
            time.sleep(1.0)
    verdict = _state(change_id) == "eval_failed"  # a run named Eval failed is a verdict
    if (state.is_failed() and not verdict) or state.is_crashed() or state.is_cancelled():
        raise evaluation_failure(change_id, str(state.message or state.name))
    if state.is_paused() and state.message:
        say(f"  {state.message}")
    say_next(change_id)
    return _state(change_id)


def say_next(change_id: int) -> None:
    """``next: …``: who acts on the change now and how (who votes and with which command,
    how to revise), for a change that waits for people or came back to its author."""
    from roles.next_hint import next_hints

    with session_scope() as session:
        hints = next_hints(session, change_id=change_id)
    for hint in hints:
        say(f"next: {hint}")


def still_scheduled(state: Any, *, started: float, warned: bool) -> bool:
    """Say once that a run waits unpicked past ``SCHEDULED_PATIENCE_S``; True once said."""
    if warned or state is None or not state.is_scheduled():
        return warned
    if time.monotonic() - started <= SCHEDULED_PATIENCE_S:
        return False
    say("  the run is still scheduled: is `promptloop serve` running? (serve status)")
    return True


def _waits(state: Any, past: str | None) -> bool:
    if not state.is_paused():
        return False
    key = state.state_details.pause_key or ""
    return past is None or not key.startswith(past)


def print_progress(
    printed: dict[int, tuple[str, int]],
    *,
    change_id: int | None = None,
    flow_run_id: str | None = None,
    quiet: bool = False,
) -> None:
    """A line per eval run (of a change, or of a flow run) when its status changes or every
    10 items, from the ledger; ``printed`` remembers what was said. ``quiet`` only notes the
    runs that are over already (an earlier attempt's), so that they are not said again."""
    from sqlmodel import col, select

    from roles.ledger import EvalRun, Prompt, PromptVersion

    query = (
        select(EvalRun, Prompt.name)
        .join(PromptVersion, col(PromptVersion.id) == EvalRun.prompt_version_id)
        .join(Prompt, col(Prompt.id) == PromptVersion.prompt_id)
        .order_by(col(EvalRun.id))
    )
    if change_id is not None:
        query = query.where(EvalRun.change_id == change_id)
    if flow_run_id is not None:
        query = query.where(EvalRun.flow_run_id == flow_run_id)
    with session_scope() as session:
        for run, prompt in session.exec(query).all():
            if run.id is None:
                continue
            last = printed.get(run.id)
            if quiet:
                if run.status != "running":
                    printed[run.id] = (run.status, run.items)
                continue
            if last is None or last[0] != run.status or run.items - last[1] >= 10:
                printed[run.id] = (run.status, run.items)
                errors = f", {run.errors} errors" if run.errors else ""
                say(
                    f"    eval run {run.id} ({prompt}, {run.purpose}): {run.status}, "
                    f"{run.items} items{errors}"
                )


def _state(change_id: int) -> str:
    with session_scope() as session:
        return get_change(session, change_id).state


def evaluation_failure(change_id: int, fallback: str) -> PromptloopError:
    """The error to raise for an evaluation that ended without a verdict, in one sentence."""
    with session_scope() as session:
        change = get_change(session, change_id)
        state = change.state
        kind = change.evaluation_error_kind or "bug"
        message = change.evaluation_error or fallback
        log = change.evaluation_log
    if state not in ("submitted", "evaluating"):
        return InternalError(
            f"the pipeline run of change {change_id} failed ({fallback}); the change is "
            f"{state}: `promptloop change resume {change_id}` runs it again (please report "
            "the bug)"
        )
    again = f"`promptloop change evaluate {change_id} --wait`"
    if kind == "outage":
        return OutageError(
            f"change {change_id} stays {state}: {message}; once the endpoint answers, {again} "
            "runs it again (answers already received are reused; the pipeline uses "
            "`promptloop serve`'s environment: after changing it, `promptloop serve stop`)"
        )
    if kind == "input":
        return InputError(f"change {change_id} stays {state}: {message}; fix it, then {again}")
    where = f"; the traceback is in {log}" if log else ""
    return InternalError(
        f"the evaluation of change {change_id} failed ({message}){where}; the change stays "
        f"{state}: {again} retries it (please report the bug)"
    )
