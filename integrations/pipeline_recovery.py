"""Pipeline runs whose process died: found, marked Crashed, re-run; and failed runs explained.

A pipeline run labels itself with the process that runs it (``host:pid:start``, see
``this_process``). Prefect's runner marks a run Crashed when its flow process dies while
serve lives; when serve's whole process group dies (kill -9, an OOM kill, a reboot)
nothing does, and the run and its evaluation subflow stay Running forever. serve's
reconciler calls ``recover`` every few seconds:

- a Running pipeline run of this ledger whose process on this host is gone is marked
  Crashed, with its Running subflows;
- a Crashed run that is still its change's run, of a change not done, is re-run (a new
  run of the deployment, at most ``MAX_RECOVERIES`` times in a row): every stage reads the
  ledger first, and model answers are cached, so nothing is paid or posted twice;
- a Failed run of a change still evaluating with no error on it (the ledger did not
  answer while the run ended, so the run could not say why there) gets its error written
  on the change: ``change show`` says why, ``change evaluate ID`` runs it again.

Each of these is a line in serve's log and in ``PROMPTLOOP_HOME/logs/recoveries.jsonl``,
which ``serve status`` shows. Runs of other hosts are not judged here (Prefect's
heartbeats and its zombie automation are the tool there).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

log = logging.getLogger("promptloop.pipeline")

PROCESS_LABEL = "promptloop.process"
SUSPENDED = "suspended"  # the label while no process runs it (not host:pid:start)
RECOVERY_TAG = "recovery:"  # the tag a re-run carries: "recovery:2" is the second in a row
MAX_RECOVERIES = 3
RECOVER_S = 3.0  # how often serve looks for dead runs (its reconciler ticks every second)
_last_look = 0.0


def this_process() -> str:
    """``host:pid:start`` of this process (start in clock ticks since boot: a pid the OS
    gives to another process later is not taken for this one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_ticks(os.getpid())}"


def _start_ticks(pid: int) -> str | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def process_gone(ident: str | None) -> bool | None:
    """True when the process ``ident`` names is gone; None when this host cannot tell (no
    label, or another host's process)."""
    if not ident or ident.count(":") < 2:
        return None
    host, pid, start = ident.rsplit(":", 2)
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if start == "None":  # no /proc where it ran: only whether the pid lives
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return _start_ticks(int(pid)) != start


async def label_process(client: Any, flow_run_id: UUID, *, suspending: bool = False) -> None:
    """Label the run with the process running it (from the flow, at its start and after
    each wait), or, ``suspending``, with none: a suspended run is resumed by a new
    process, and until that one labels the run, its Running state names no dead process
    (the reconciler once marked a run just resumed Crashed for its old process)."""
    label = SUSPENDED if suspending else this_process()
    try:
        await client.update_flow_run_labels(flow_run_id, {PROCESS_LABEL: label})
    except Exception as exc:  # a run that cannot label itself is only harder to recover
        log.warning("flow run %s: could not record its process: %s", flow_run_id, exc)


def recoveries_path() -> Path:
    from integrations.settings import get_settings

    logs = get_settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / "recoveries.jsonl"


def note(change_id: int, flow_run_id: object, what: str) -> None:
    """One recovery in serve's log and in the file ``serve status`` reads."""
    from integrations.db import ledger_tag

    log.warning("change %s: %s", change_id, what)
    line = {
        "ledger_tag": ledger_tag(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "change_id": change_id,
        "flow_run_id": str(flow_run_id),
        "what": what,
    }
    with recoveries_path().open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def recent_recoveries(hours: float = 24.0) -> list[dict[str, Any]]:
    """What serve recovered of this ledger in the last ``hours``, oldest first (for
    ``serve status``; another ledger of the same home has its own change numbers)."""
    from integrations.db import ledger_tag

    ours = ledger_tag()
    since = datetime.now(UTC) - timedelta(hours=hours)
    try:
        lines = recoveries_path().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines[-200:]:
        try:
            entry = json.loads(line)
            if entry.get("ledger_tag", ours) != ours:
                continue
            if datetime.fromisoformat(entry["at"]) >= since:
                found.append(entry)
        except (ValueError, KeyError, TypeError):
            continue
    return found


async def recover(client: Any, *, flows: Any, deployments: Any) -> dict[str, int]:
    """Crash, re-run or explain the dead and failed pipeline runs (see the module's doc);
    at most every ``RECOVER_S``. ``flows``/``deployments`` filter this ledger's runs."""
    global _last_look
    counts = {"crashed": 0, "rerun": 0, "explained": 0}
    if time.monotonic() - _last_look < RECOVER_S:
        return counts
    _last_look = time.monotonic()
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    def of_type(*types: StateType, ended_after: datetime | None = None) -> FlowRunFilter:
        state = FlowRunFilterState(type=FlowRunFilterStateType(any_=list(types)))
        if ended_after is None:
            return FlowRunFilter(state=state)
        return FlowRunFilter(state=state, end_time=FlowRunFilterEndTime(after_=ended_after))

    running = await client.read_flow_runs(
        flow_run_filter=of_type(StateType.RUNNING),
        flow_filter=flows, deployment_filter=deployments, limit=200,
    )  # fmt: skip
    for run in running:
        if process_gone((run.labels or {}).get(PROCESS_LABEL)) and await _crash(client, run):
            counts["crashed"] += 1
    ended = await client.read_flow_runs(
        flow_run_filter=of_type(
            StateType.CRASHED, StateType.FAILED, ended_after=datetime.now(UTC) - timedelta(days=1)
        ),
        flow_filter=flows, deployment_filter=deployments, limit=200,
    )  # fmt: skip
    for run in ended:
        change_id = (run.parameters or {}).get("change_id")
        if not isinstance(change_id, int) or run.state is None:
            continue
        try:
            done = await _after(run, change_id)
        except Exception as exc:  # the ledger down still: the next look tries again
            log.info("change %s: not recovered yet: %s", change_id, exc)
            continue
        if done:
            counts[done] += 1
    return counts


async def _crash(client: Any, run: Any) -> bool:
    """Mark a run whose process is gone Crashed (and its subflows still Running)."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    ident = (run.labels or {}).get(PROCESS_LABEL)
    at = datetime.now(UTC).strftime("%H:%M:%S UTC")
    why = f"its process ({ident}) is gone (killed, or serve was); found by serve at {at}"
    result = await client.set_flow_run_state(run.id, state=Crashed(message=why))
    if result.status.value != "ACCEPT":  # it ended meanwhile
        return False
    subflows = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id]),
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
            ),
        )
    )
    for sub in subflows:
        await client.set_flow_run_state(
            sub.id, state=Crashed(message=f"its pipeline run's process is gone ({why})")
        )
    change_id = (run.parameters or {}).get("change_id")
    if isinstance(change_id, int):
        note(change_id, run.id, f"pipeline run {run.name} ({run.id}) crashed: {why}")
    return True


async def _after(run: Any, change_id: int) -> str | None:
    """Re-run a crashed run, or write a failed run's error on its change; what was done."""
    import asyncio

    from integrations.db import session_scope
    from roles.pipeline import next_step
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        current = change.flow_run_id == str(run.id)
        stage = next_step(session, change_id=change_id).stage
        unexplained = change.evaluation_error is None
    if not current or stage == "done":
        return None  # another run took the change over, or nothing is left to do
    if run.state.is_crashed() and _recoveries(run) < MAX_RECOVERIES:
        return await asyncio.to_thread(_rerun, run, change_id)
    if run.state.is_crashed() and unexplained:
        _explain(run, change_id, suffix=f" ({MAX_RECOVERIES} re-runs crashed too: not re-run)")
        return "explained"
    if stage == "evaluate" and unexplained:
        _explain(run, change_id)
        return "explained"
    return None


def _rerun(run: Any, change_id: int) -> str:
    from integrations.pipeline_runs import start_pipeline

    count = _recoveries(run)
    why = run.state.message or "crashed"
    prompt = (run.parameters or {}).get("prompt") or ""
    new = start_pipeline(change_id, prompt=prompt, attempt=f"recover-{run.id}", recovery=count + 1)
    note(change_id, run.id, f"re-ran as pipeline run {new.name} ({new.id}): {run.name} {why}")
    return "rerun"


def _recoveries(run: Any) -> int:
    """How many re-runs in a row led to this run (its ``recovery:N`` tag)."""
    counts = [
        int(tag[len(RECOVERY_TAG) :])
        for tag in run.tags or []
        if tag.startswith(RECOVERY_TAG) and tag[len(RECOVERY_TAG) :].isdigit()
    ]
    return max(counts, default=0)


def _explain(run: Any, change_id: int, suffix: str = "") -> None:
    """The run's end as the change's evaluation error (``change show`` reads it there)."""
    from integrations.db import session_scope
    from roles.evaluation.change import ErrorKind, note_evaluation_error

    name = run.state.name or "Failed"
    kind: ErrorKind = "outage" if name in ("Outage", "Ledger unreachable", "Crashed") else "bug"
    message = (
        f"pipeline run {run.name} ended {name}: {run.state.message or 'no message'}{suffix}; "
        f"`promptloop change evaluate {change_id}` runs it again"
    )
    with session_scope() as session:
        note_evaluation_error(session, change_id=change_id, kind=kind, message=message[:2000])
    note(change_id, run.id, f"recorded on the change: {message}")
