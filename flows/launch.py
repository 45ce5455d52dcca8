"""Start promptloop's flows against the local Prefect server (started on demand).

    python -m flows.launch evaluate 12 --prompt support-triage

``change submit`` runs this detached, so the CLI returns at once; ``--wait`` runs it in
the foreground. The server's URL is set before Prefect is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from integrations.prefect_server import ensure_server, server_env
from integrations.settings import get_settings
from roles.errors import InputError, InternalError, OutageError, PromptloopError
from roles.processes import gone, this_process


def use_server() -> str:
    api_url = ensure_server()
    os.environ.update(server_env(api_url))
    return api_url


def running_evaluation(change_id: int) -> str | None:
    """The flow run already evaluating this change, if one is still live (not final).

    A run whose process died (kill -9, a crash) is marked Crashed in Prefect here, so the
    UI stops showing it Running.
    """
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        state, flow_run_id = change.state, change.flow_run_id
    if state != "evaluating" or not flow_run_id:
        return None
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
            if evaluator_gone(change_id):
                if run.state is not None and not run.state.is_final():
                    from prefect.states import Crashed

                    message = "its process is gone (killed or crashed); evaluated again"
                    client.set_flow_run_state(run.id, Crashed(message=message), force=True)
                return None  # nobody is working on it, whatever Prefect showed
    except Exception:  # unknown to this server (another server, or deleted): not live here
        return None
    if run.state is None or run.state.is_final():
        return None
    return f"flow run {run.name} ({flow_run_id}) is {run.state.name}"


def record_evaluator(change_id: int) -> None:
    """Note which process evaluates the change, so a dead one can be told from a busy one."""
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        pid, host = this_process()
        change.links = {**change.links, "evaluator": {"pid": pid, "host": host}}
        session.add(change)


def evaluator_gone(change_id: int) -> bool:
    """True when the change's recorded evaluator ran on this machine and is no longer alive."""
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        evaluator = get_change(session, change_id).links.get("evaluator") or {}
    return gone(evaluator.get("pid"), evaluator.get("host"))


def evaluate(
    change_id: int,
    *,
    prompt: str | None,
    concurrency: int | None = None,
    no_cache: bool = False,
    force: bool = False,
) -> str:
    """Run ``evaluate_change`` here, in the foreground; returns the change's state.

    Refuses while another live flow run evaluates the same change (``force`` overrides,
    e.g. for a run whose process was killed and that Prefect still shows as running).
    Raises ``OutageError`` (the endpoint failed), ``InputError`` or ``InternalError`` (a
    bug) when the flow run ends Failed; the change then stays evaluating, the error
    recorded on it.
    """
    try:
        use_server()
    except PromptloopError as exc:
        note_launch_failure(change_id, exc)
        raise type(exc)(
            f"{exc.message}; change {change_id} stays {change_state(change_id)}: retry with "
            f"`promptloop change evaluate {change_id} --wait`"
        ) from None
    if not force:
        busy = running_evaluation(change_id)
        if busy:
            from roles.errors import PolicyError

            raise PolicyError(
                f"change {change_id} is already being evaluated: {busy}; wait for it, or "
                f"use `promptloop change evaluate {change_id} --force` if that run is dead"
            )
    record_evaluator(change_id)
    from prefect import tags

    from flows.evaluate_change import evaluate_change
    from integrations.db import ledger_tag

    labels = [f"change:{change_id}", f"ledger:{ledger_tag()}", "promptloop", "evaluate"]
    if prompt:
        labels.insert(0, f"prompt:{prompt}")
    with tags(*labels):
        final: Any = asyncio.run(
            evaluate_change(  # type: ignore[arg-type]
                change_id,
                prompt=prompt,
                concurrency=concurrency,
                no_cache=no_cache,
                return_state=True,
            )
        )
    if not final.is_completed():
        raise evaluation_failure(change_id, final.message or final.name)
    return change_state(change_id)


def change_state(change_id: int) -> str:
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        return get_change(session, change_id).state


def evaluation_failure(change_id: int, fallback: str) -> PromptloopError:
    """The error to raise for an evaluation that ended without a verdict, in one sentence."""
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        links, state = dict(change.links), change.state
    kind = links.get("evaluation_error_kind", "bug")
    message = links.get("evaluation_error") or fallback
    again = f"`promptloop change evaluate {change_id} --wait`"
    if kind == "outage":
        return OutageError(
            f"change {change_id} stays {state}: {message}; once the endpoint answers, {again} "
            "runs it again (answers already received are reused)"
        )
    if kind == "input":
        return InputError(f"change {change_id} stays {state}: {message}; fix it, then {again}")
    log = links.get("evaluation_log")
    where = f"; the traceback is in {log}" if log else ""
    return InternalError(
        f"the evaluation of change {change_id} failed ({message}){where}; the change stays "
        f"{state}: {again} retries it (please report the bug)"
    )


def log_path(change_id: int) -> Path:
    logs = get_settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / f"change-{change_id}-evaluate.log"


def evaluate_in_background(change_id: int, *, prompt: str | None, force: bool = False) -> Path:
    """Start the evaluation in a detached process; returns its log file."""
    path = log_path(change_id)
    command = [sys.executable, "-m", "flows.launch", "evaluate", str(change_id)]
    if prompt:
        command += ["--prompt", prompt]
    if force:
        command.append("--force")
    with open(path, "ab") as log:
        subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=os.getcwd(),
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.launch")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("evaluate", help="evaluate a submitted change")
    run.add_argument("change_id", type=int)
    run.add_argument("--prompt")
    run.add_argument("--force", action="store_true")
    args = parser.parse_args()
    try:
        state = evaluate(args.change_id, prompt=args.prompt, force=args.force)
    except PromptloopError as exc:
        if not _error_recorded(args.change_id):
            note_launch_failure(args.change_id, exc)  # refused before the flow ran
        print(exc.message, file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:
        note_launch_failure(args.change_id, exc)
        raise
    print(f"change {args.change_id}: {state}")


def _error_recorded(change_id: int) -> bool:
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        return bool(get_change(session, change_id).links.get("evaluation_error"))


def note_launch_failure(change_id: int, exc: BaseException) -> None:
    """Leave why the evaluation could not run where `change show` looks, so a change never
    sits silently: an outage (Prefect or a model down), our own refusal, or a bug (whose
    traceback is in the evaluation's log)."""
    from integrations.db import session_scope
    from roles.evaluation.change import ErrorKind, note_evaluation_error

    kind: ErrorKind = "bug"
    if isinstance(exc, PromptloopError):
        kind = "outage" if isinstance(exc, OutageError) else "input"
    with session_scope() as session:
        note_evaluation_error(
            session,
            change_id=change_id,
            kind=kind,
            message=exc.message
            if isinstance(exc, PromptloopError)
            else f"{type(exc).__name__}: {exc}",
            log=str(log_path(change_id)) if kind == "bug" else None,
        )


if __name__ == "__main__":
    main()
