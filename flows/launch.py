"""Start promptloop's flows against the local Prefect server (started on demand).

    python -m flows.launch evaluate 12 --prompt support-triage

``change submit`` runs this detached, so the CLI returns at once; ``--wait`` runs it in
the foreground. The server's URL is set before Prefect is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from integrations.prefect_server import ensure_server, server_env
from integrations.settings import get_settings


def use_server() -> str:
    api_url = ensure_server()
    os.environ.update(server_env(api_url))
    return api_url


def running_evaluation(change_id: int) -> str | None:
    """The flow run already evaluating this change, if one is still live (not final)."""
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        state, flow_run_id = change.state, change.flow_run_id
    if state != "evaluating" or not flow_run_id:
        return None
    if evaluator_gone(change_id):
        return None  # its process died; whatever Prefect still shows, nobody is working on it
    from uuid import UUID

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
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
        change.links = {
            **change.links,
            "evaluator": {"pid": os.getpid(), "host": socket.gethostname()},
        }
        session.add(change)


def evaluator_gone(change_id: int) -> bool:
    """True when the change's recorded evaluator ran on this machine and is no longer alive."""
    from integrations.db import session_scope
    from roles.transitions import get_change

    with session_scope() as session:
        evaluator = get_change(session, change_id).links.get("evaluator") or {}
    if evaluator.get("host") != socket.gethostname() or not evaluator.get("pid"):
        return False
    try:
        os.kill(int(evaluator["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
    """
    use_server()
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

    labels = [f"change:{change_id}", "promptloop", "evaluate"]
    if prompt:
        labels.insert(0, f"prompt:{prompt}")
    with tags(*labels):
        return asyncio.run(
            evaluate_change(change_id, prompt=prompt, concurrency=concurrency, no_cache=no_cache)
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
    except Exception as exc:
        note_launch_failure(args.change_id, exc)
        raise
    print(f"change {args.change_id}: {state}")


def note_launch_failure(change_id: int, exc: BaseException) -> None:
    """Leave the failure where `change show` looks, so a change never sits silently."""
    from integrations.db import session_scope
    from roles.clock import iso, utcnow
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        change.links = {
            **change.links,
            "evaluation_error": f"{type(exc).__name__}: {exc}",
            "evaluation_error_at": iso(utcnow()),
            "evaluation_log": str(log_path(change_id)),
        }
        session.add(change)


if __name__ == "__main__":
    main()
