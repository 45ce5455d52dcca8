"""``promptloop server``: the local Prefect server promptloop starts for its flows."""

from __future__ import annotations

import os

import typer

from integrations.prefect_server import (
    ensure_server,
    healthy,
    other_home,
    recorded_url,
    stop_server,
    ui_url,
)
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say

app = typer.Typer(
    help="The local Prefect server (started on demand by flows).", no_args_is_help=True
)


@app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """Which Prefect server promptloop uses, and whether it answers (exit 1 if it does not)."""
    explicit = os.environ.get("PREFECT_API_URL")
    url = explicit or recorded_url()
    up = bool(url and healthy(url))
    imposter = None  # another home's server on the port this home recorded
    if up and url and not explicit:
        imposter = other_home(url)
        up = imposter is None
    data = {
        "api_url": url,
        "ui_url": ui_url(url) if url else None,
        "healthy": up,
        "managed_by_promptloop": bool(url and not explicit),
        "other_home": imposter,
    }
    if as_json:
        emit_json(data)
    elif imposter is not None:
        out.print(
            f"down: this home's Prefect server is not running; {data['ui_url']} answers with "
            f"another home's (its PREFECT_HOME: {imposter}); `promptloop server start` starts "
            "this home's on a free port"
        )
    elif url:
        out.print(
            f"{'up' if up else 'down'}: {data['ui_url']}"
            + ("" if data["managed_by_promptloop"] else " (PREFECT_API_URL)")
        )
    else:
        out.print(
            "no server running: one starts with the first evaluation, or `promptloop server start`"
        )
    if not up:
        raise typer.Exit(1)  # scripts can tell: 0 only while the server answers


@app.command("start")
def start(as_json: JsonOpt = False) -> None:
    """Start the local Prefect server now (it keeps running; the UI shows the flow runs)."""
    url = ensure_server()
    if as_json:
        emit_json({"api_url": url, "ui_url": ui_url(url)})
    else:
        say(f"Prefect server up: {ui_url(url)}")


@app.command("stop")
def stop(as_json: JsonOpt = False) -> None:
    """Stop the local Prefect server promptloop started for this PROMPTLOOP_HOME."""
    stopped = stop_server()
    if as_json:
        emit_json({"stopped": stopped})
    else:
        say("stopped" if stopped else "no server of ours was running")
