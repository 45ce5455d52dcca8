"""``promptloop gateway``: the Slack gateway alone (``serve`` also runs it).

    promptloop gateway                  # http://127.0.0.1:3000/slack/events
    promptloop gateway --host 0.0.0.0 --port 8080
    SLACK_APP_TOKEN=xapp-… promptloop gateway   # Socket Mode: no public URL

It needs ``SLACK_BOT_TOKEN`` and (over HTTP) ``SLACK_SIGNING_SECRET``. A vote that
concludes a review is in the ledger; serve's reconciler wakes the change's pipeline run
from there, as after ``review vote``. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Annotated, Any

import typer

from promptloop.cli.output import say

app = typer.Typer(
    help="The Slack gateway: the experts' clicks, over HTTP or Socket Mode.",
    invoke_without_command=True,
)


@app.callback()
def gateway(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface (PROMPTLOOP_GATEWAY_HOST; 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="Port (PROMPTLOOP_GATEWAY_PORT; 3000)."),
    ] = None,
) -> None:
    """Take Slack's requests until Ctrl-C; Socket Mode when SLACK_APP_TOKEN is set."""
    from integrations.slack.gateway_server import serve_gateway, serve_socket_gateway, socket_mode

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if socket_mode():
        main = serve_socket_gateway(announce=say)
    else:
        main = serve_gateway(host, port, announce=say)
    asyncio.run(until_signalled(main))
    say("Slack gateway stopped")


async def until_signalled(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` until it ends or SIGINT/SIGTERM cancels it (it then stops cleanly)."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
