"""``promptloop serve``: the runtime a team leaves running (``--detach``, ``status``, ``stop``)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import typer

from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say
from promptloop.runtime import control

NOT_RUNNING = control.NotServingError.exit_code  # 5: `serve status` with nothing serving

app = typer.Typer(
    help="The runtime: Prefect's runner for the change pipelines, the outbox, the deadline "
    "check, the reconciler (and the Slack gateway).",
    invoke_without_command=True,
)


@app.callback()
def serve(
    ctx: typer.Context,
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in the background; `serve stop` stops it.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=64, help="Pipeline runs at once.")
    ] = 4,
    poll: Annotated[
        float, typer.Option("--poll", min=0.2, max=60, help="Seconds between looks for runs.")
    ] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Serve this ledger's pipelines until Ctrl-C (or SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    if detach:
        running = control.status()
        if running is not None:
            raise control.ServeError(
                f"promptloop serve is already running (pid {running.get('pid')}): "
                "`promptloop serve status`"
            )
        record = control.detach(["--limit", str(limit), "--poll", str(poll)], say=say)
        if as_json:
            emit_json(record)
        else:
            say(f"promptloop serve running in the background (pid {record['pid']})")
            say(f"Prefect UI: {record['ui_url']}  log: {control.log_path()}")
            _say_gateway_port(record)
        return
    from promptloop.runtime.serve import configure_logging
    from promptloop.runtime.serve import serve as run

    configure_logging()
    asyncio.run(run(limit=limit, poll_s=poll, announce=say))


@app.command("status")
def status(as_json: JsonOpt = False) -> None:
    """Whether serve runs for this PROMPTLOOP_HOME (exit 5 if not), its URLs, the outbox."""
    running = control.status()
    data: dict[str, Any] = {"running": running is not None, **(running or {})}
    if running is not None and running.get("ledger_tag"):
        data["serves_this_ledger"] = control.serves_this_ledger(running)
    if running is not None and running.get("api_url"):
        from integrations.prefect_server import healthy

        data["prefect_healthy"] = healthy(str(running["api_url"]))
    data["outbox"] = _outbox_counts()
    from integrations.pipeline_recovery import recent_recoveries

    data["recovered"] = recent_recoveries()  # pipeline runs whose process died, last 24 h
    if as_json:
        emit_json(data)
        if running is None:
            raise typer.Exit(NOT_RUNNING)
        return
    if running is None:
        out.print("not running: `promptloop serve` (or --detach); commands that need it start it")
    else:
        out.print(f"running (pid {running.get('pid')}): Prefect UI {running.get('ui_url')}")
        if running.get("ledger"):
            out.print(f"ledger: {running['ledger']}")
        if data.get("serves_this_ledger") is False:
            from integrations.db import shown_url

            out.print(
                f"  not the ledger PROMPTLOOP_DATABASE_URL names here ({shown_url()}): commands "
                "that need serve refuse (exit 5); `promptloop serve stop`, then run them again "
                "to serve this one"
            )
        if data.get("prefect_healthy") is False:
            out.print(
                f"  but its Prefect server does not answer at {running.get('api_url')}: no "
                "pipeline runs until it does (`promptloop serve stop`, then `promptloop serve`)"
            )
        if running.get("gateway_url"):
            out.print(f"Slack gateway: {running['gateway_url']}")
        if running.get("model_endpoint"):
            out.print(f"model calls: {running['model_endpoint']} (serve's environment)")
    for entry in data["recovered"]:
        out.print(f"recovered {entry['at']}: change {entry['change_id']}: {entry['what']}")
    counts = data["outbox"]
    out.print(
        f"outbox: {counts['pending']} pending, {counts['failed']} failed (`promptloop outbox list`)"
    )
    if running is None:
        raise typer.Exit(NOT_RUNNING)  # scripts can tell: 0 only while serve runs


def _say_gateway_port(record: dict[str, Any]) -> None:
    """Loudly, when the gateway could not have its default port (another home's serve)."""
    from integrations.settings import get_settings

    url, default = record.get("gateway_url"), get_settings().gateway_port
    if url and "PROMPTLOOP_GATEWAY_PORT" not in os.environ and not url.endswith(f":{default}"):
        say(
            f"note: the Slack gateway listens on {url}, NOT on the default port {default} "
            "(another process holds it, e.g. another PROMPTLOOP_HOME's serve): point Slack's "
            "request URL at this one, or set PROMPTLOOP_GATEWAY_PORT"
        )


def _outbox_counts() -> dict[str, int]:
    from integrations.db import session_scope
    from roles.outbox import list_messages

    with session_scope() as session:
        messages = list_messages(session)
    return {
        "pending": sum(1 for m in messages if m.status in ("pending", "sending")),
        "failed": sum(1 for m in messages if m.status == "failed"),
    }


@app.command("stop")
def stop(as_json: JsonOpt = False) -> None:
    """Stop the serve running for this PROMPTLOOP_HOME (its flow runs are cancelled)."""
    stopped = control.stop()
    if as_json:
        emit_json({"stopped": stopped})
    else:
        say("stopped" if stopped else "promptloop serve was not running")
