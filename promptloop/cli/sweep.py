"""``promptloop sweep``: run the regression sweep now, and read the sweeps' history.

    promptloop sweep [--prompt NAME] [--wait]    # a run of the sweep deployment (serve)
    promptloop sweep list [--prompt NAME] [--json]
    promptloop sweep show ID [--json]

Like ``change submit``, the sweep runs as a flow run of its deployment on ``promptloop
serve`` (started on demand); ``--wait`` follows it and prints what each prompt's sweep
found. Exit 4 when an endpoint was down for a prompt (recorded as an outage).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say, table

app = typer.Typer(
    help="Regression sweeps of the production prompts; with no command, one now.\n\n"
    "With no command: re-run every production prompt (or --prompt NAME) now, the request "
    "cache off, against its accepted baseline; list and show read the history.",
    invoke_without_command=True,
)
PromptOpt = Annotated[str | None, typer.Option("--prompt", help="Only this prompt.")]


@app.callback()
def sweep(
    ctx: typer.Context,
    prompt: PromptOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run to its end.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sweep every production prompt (or --prompt NAME) now, with the request cache off."""
    if ctx.invoked_subcommand is not None:
        return
    from roles.sweep.targets import sweep_targets

    with session_scope() as session:
        targets = sweep_targets(session, prompt=prompt)  # unknown, no production: said here
    if not targets:
        say("no production prompt to sweep (prompts with `sweep: {enabled: false}` are left out)")
        if as_json:
            emit_json({"flow_run_id": None, "sweeps": []})
        return
    from promptloop.runtime import control

    running = control.ensure_serving(say)
    from integrations.sweep_runs import start_sweep

    run = start_sweep(prompt=prompt)
    url = f"{running['ui_url']}/runs/flow-run/{run.id}"
    say(f"sweep run {run.name} ({', '.join(t.prompt for t in targets)}): {url}")
    result: dict[str, Any] = {"flow_run_id": str(run.id), "flow_run_url": url}
    if not wait:
        if as_json:
            emit_json(result)
        return
    try:
        state = _follow(str(run.id))
    except KeyboardInterrupt:
        say(
            f"stopped following; sweep run {run.name} goes on in `promptloop serve` (`promptloop "
            f"sweep list`, or the Prefect UI: {url})"
        )
        raise
    _after(result, state, as_json=as_json)


def _follow(flow_run_id: str) -> Any:
    """Print the run's state changes until it ends; its final state."""
    import time
    from uuid import UUID

    from prefect.client.orchestration import get_client

    from promptloop.cli.pipeline import print_progress, still_scheduled

    seen, warned, started = "", False, time.monotonic()
    progress: dict[int, tuple[str, int]] = {}
    with get_client(sync_client=True) as client:
        while True:
            state = client.read_flow_run(UUID(flow_run_id)).state
            name = str(state.name if state else "?")
            if name != seen:
                say(f"  {name.lower()}")
                seen = name
            print_progress(progress, flow_run_id=flow_run_id)  # each prompt's run, by items
            if state is not None and state.is_final():
                return state
            warned = still_scheduled(state, started=started, warned=warned)
            time.sleep(1.0)


def _after(result: dict[str, Any], state: Any, *, as_json: bool) -> None:
    from roles.errors import InternalError, OutageError
    from roles.sweep.views import list_sweeps

    with session_scope() as session:
        views = list_sweeps(session, flow_run_id=result["flow_run_id"])
    result.update(state=state.name, message=state.message, sweeps=views)
    if as_json:
        emit_json(result)
    else:
        _print(views)
    if not state.is_completed():
        raise InternalError(
            f"the sweep run ended {state.name}: {state.message or 'no message'} "
            f"(its log is in the Prefect UI: {result['flow_run_url']})"
        )
    outages = [v["prompt"] for v in views if v["verdict"] == "outage"]
    if outages:
        raise OutageError(
            f"the model endpoint failed the sweep of {', '.join(outages)}: recorded as an "
            "outage (no verdict); the next sweep tries again"
        )


def _print(views: list[dict[str, Any]]) -> None:
    if not views:
        say("no sweeps match")
        return
    table(
        None,
        ["sweep", "prompt", "v", "verdict", "eval run", "baseline", "alert", "when"],
        [
            [
                v["id"], v["prompt"], v["version"], v["verdict"], v["eval_run_id"],
                f"{v['baseline_run_id']} ({v['baseline_source']})" if v["baseline_run_id"] else None,
                v["alert_id"], v["created_at"][:16].replace("T", " "),
            ]
            for v in views
        ],
    )  # fmt: skip


@app.command("list")
def list_(
    prompt: PromptOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest this many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Sweeps, newest first: prompt and version, verdict, the runs compared, the alert."""
    from roles.sweep.views import list_sweeps

    with session_scope() as session:
        views = list_sweeps(session, prompt=prompt, limit=limit)
    if as_json:
        emit_json(views)
    else:
        _print(views)


@app.command("show")
def show(
    sweep_id: Annotated[int, typer.Argument(help="The sweep's id (see `sweep list`).")],
    as_json: JsonOpt = False,
) -> None:
    """One sweep: its verdict and every reason (baseline, the gate's checks)."""
    from roles.sweep.views import get_sweep

    with session_scope() as session:
        view = get_sweep(session, sweep_id)
    if as_json:
        emit_json(view)
        return
    _print([view])
    for reason in view["reasons"]:
        out.print(f"  {reason}")
    if view["flow_run_id"]:
        out.print(f"  flow run {view['flow_run_id']}")
