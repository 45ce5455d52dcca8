"""``promptloop serve``: the runtime on one machine, in one process that stops cleanly.

    the Prefect server      started (detached, per home) unless PREFECT_API_URL names one
    Prefect's runner        serves this ledger's change-pipeline deployment (poll ~1 s), its
                            regression-sweep (on PROMPTLOOP_SWEEP_CRON, daily 06:00 UTC),
                            calibrate-judges (daily at 03:30 UTC, and on demand) and the
                            weekly digest
    the outbox              delivered to Slack, or shown in this log without Slack
    the deadline check      concludes reviews whose deadline came (a ledger fact)
    the reconciler          wakes suspended runs whose wait is over; says what each waits for
    the Slack gateway       (when built in) takes the people's clicks

Ctrl-C or SIGTERM stops all of it; the serve lock is released by the OS however the
process ends, so a crash never leaves a "running" record behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from integrations.settings import get_settings
from promptloop.runtime import control
from roles.errors import InputError, PromptloopError

log = logging.getLogger("promptloop.serve")

RECONCILE_S = 1.0  # a decision written anywhere wakes its run within about this
DEADLINE_CHECK_S = 10.0
CALIBRATE_CRON = "30 3 * * *"  # the judges against people's labels, daily (UTC)


def configure_logging() -> None:
    """Our log lines to the terminal and to PROMPTLOOP_HOME/logs/serve.log (once each:
    a detached serve's terminal *is* that file)."""
    logger = logging.getLogger("promptloop")
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if sys.stdout.isatty():
        handlers.append(logging.FileHandler(control.log_path()))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)


async def serve(*, limit: int, poll_s: float, announce: Callable[[str], None]) -> None:
    """Run everything until cancelled or signalled; stop everything it started."""
    with control.holding_lock():
        await _serve(limit=limit, poll_s=poll_s, announce=announce)


async def _serve(*, limit: int, poll_s: float, announce: Callable[[str], None]) -> None:
    from integrations.prefect_server import ensure_server, server_env, ui_url
    from integrations.slack.post import check_channels

    control.starting("checking its Slack channels")
    check_channels()  # a Slack set up halfway fails here, not in a pipeline run days later
    if get_settings().slack_bot_token is not None:  # the ledger's default identity: slack
        from integrations.db import session_scope
        from roles.clock import utcnow
        from roles.team_policy import mark_slack_serve

        with session_scope() as session:
            mark_slack_serve(session, host=socket.gethostname(), now=utcnow())
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", str(poll_s))
    ours = "PREFECT_API_URL" not in os.environ and not _server_healthy()
    control.starting("starting its Prefect server" if ours else "reaching its Prefect server")
    api_url = await asyncio.to_thread(ensure_server, control.starting)
    control.starting("registering its deployments")
    os.environ.update(server_env(api_url))
    # Checked by Prefect, which can be imported only now (it reads PREFECT_API_URL once):
    # a bad PROMPTLOOP_SWEEP_CRON stops serve, and the server it has just started with it.
    from integrations.sweeps import sweep_schedule

    try:
        sweep = sweep_schedule()
    except PromptloopError:
        if ours:
            from integrations.prefect_server import stop_server

            stop_server()
        raise
    from prefect.runner import Runner

    from flows.change_pipeline import change_pipeline
    from flows.weekly_digest import digest_deployment
    from integrations.db import ledger_tag, shown_url
    from integrations.pipeline_runs import deployment_name

    runner = Runner(
        name=f"promptloop-{ledger_tag()}-{os.getpid()}",
        query_seconds=poll_s,
        limit=limit,
        pause_on_shutdown=False,
    )
    tags = ["promptloop", f"ledger:{ledger_tag()}"]
    await runner.aadd_flow(change_pipeline, name=deployment_name(), tags=tags)
    await runner.aadd_deployment(await digest_deployment(deployment_name(), tags=tags))
    from flows.regression_sweep import regression_sweep

    await runner.aadd_flow(  # one sweep at a time: the model's concurrency is not doubled
        regression_sweep, name=deployment_name(), schedule=sweep,
        concurrency_limit=1, tags=[*tags, "sweep"],
    )  # fmt: skip
    from prefect.schedules import Cron

    from flows.calibrate_judges import calibrate_judges

    await runner.aadd_flow(
        calibrate_judges, name=deployment_name(), schedule=Cron(CALIBRATE_CRON, timezone="UTC"),
        parameters={"trigger": "daily"}, tags=tags,
    )  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    delivery_stop = threading.Event()
    delivery = threading.Thread(
        target=_deliver, args=(delivery_stop,), name="outbox-delivery", daemon=True
    )
    delivery.start()
    poke = asyncio.Event()  # a decision in the gateway: reconcile now, not at the next tick
    tasks = [
        asyncio.create_task(runner.start(), name="runner"),
        asyncio.create_task(_watch(stop, poke), name="reconciler"),
    ]
    def poke_soon(_change_id: int) -> None:  # from the gateway's hook thread
        loop.call_soon_threadsafe(poke.set)

    control.starting("starting its Slack gateway")
    gateway_url = await _start_gateway(tasks, poke_soon)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "api_url": api_url,
        "ui_url": ui_url(api_url),
        "deployment": f"change-pipeline/{deployment_name()}",
        "gateway_url": gateway_url,
        "model_endpoint": control.model_endpoint(),
        "ledger": shown_url(),
        "ledger_tag": ledger_tag(),
    }
    control.write_record(record)
    announce(
        f"promptloop serve: Prefect UI {record['ui_url']} · deployment {record['deployment']} "
        f"· Slack gateway {gateway_url or 'over Socket Mode'} · log {control.log_path()} "
        "(Ctrl-C stops it)"
    )
    try:
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopped and task.exception() is not None:
                log.error("%s stopped: %r", task.get_name(), task.exception())
    finally:
        announce("promptloop serve: stopping")
        delivery_stop.set()
        with contextlib.suppress(Exception):
            if runner.started:
                await runner.astop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(delivery.join, 10)
        announce("promptloop serve: stopped")


def _deliver(stop: threading.Event) -> None:
    from integrations.slack.outbox import delivery_loop

    delivery_loop(stop=stop, stream=sys.stdout)


async def _start_gateway(tasks: list[asyncio.Task[Any]], poke: Callable[[int], None]) -> str | None:
    """The Slack gateway as one of serve's tasks: Socket Mode with ``SLACK_APP_TOKEN``, else
    HTTP (with no Slack app: signed with this home's secret, for the demo); its URL."""
    from integrations.slack.gateway_server import (
        serve_gateway,
        serve_socket_gateway,
        socket_mode,
    )

    settings = get_settings()
    if (
        settings.slack_bot_token is not None
        and settings.slack_signing_secret is None
        and not socket_mode()
    ):
        log.warning(
            "the Slack gateway is off: SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET "
            "(HTTP) nor SLACK_APP_TOKEN (Socket Mode) is; messages go out, but clicks in Slack "
            "are not received (vote with `promptloop review vote`)"
        )
        return None
    if socket_mode():
        started = asyncio.Event()
        main = serve_socket_gateway(on_review_concluded=poke, started=started)
        await _gateway_started(tasks, main, started)
        return None
    explicit = "PROMPTLOOP_GATEWAY_PORT" in os.environ
    port = _gateway_port()
    while True:
        started, urls = asyncio.Event(), list[str]()
        main = serve_gateway(
            on_review_concluded=poke, started=started, announce=urls.append, port=port
        )
        try:
            await _gateway_started(tasks, main, started)
        except InputError:
            if explicit or port == 0:
                raise
            port = 0  # the default port was taken between our look and the bind: any free one
            continue
        break
    url = urls[0].split(" on ", 1)[1].split(" ", 1)[0] if urls else None
    default = get_settings().gateway_port
    if url is not None and not explicit and not url.endswith(f":{default}"):
        log.warning(
            "the Slack gateway listens on %s, NOT on the default port %s, which another "
            "process holds (another PROMPTLOOP_HOME's serve?): point Slack's request URL (or "
            "your tunnel) at this port, or set PROMPTLOOP_GATEWAY_PORT; `promptloop serve "
            "status` shows it",
            url,
            default,
        )
    return url


async def _gateway_started(
    tasks: list[asyncio.Task[Any]], main: Any, started: asyncio.Event
) -> None:
    """Run ``main`` as one of serve's tasks once it has started; raise why it could not."""
    task = asyncio.create_task(main, name="gateway")
    waiting = asyncio.create_task(started.wait())
    await asyncio.wait([waiting, task], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises why the gateway could not start (a port in use, a setting)
    tasks.append(task)
    await asyncio.sleep(0)  # let it announce its URL


def _gateway_port() -> int:
    """PROMPTLOOP_GATEWAY_PORT when set (taken: an error that says so); by default 3000, or
    a free port when another home's serve holds 3000 (the URL is in `serve status`)."""
    import socket

    settings = get_settings()
    if "PROMPTLOOP_GATEWAY_PORT" in os.environ:
        return settings.gateway_port
    with socket.socket() as probe:
        try:
            probe.bind((settings.gateway_host, settings.gateway_port))
        except OSError:
            return 0
    return settings.gateway_port


async def _watch(stop: asyncio.Event, poke: asyncio.Event) -> None:
    """The deadline check and the reconciler, until ``stop``; an error is logged, and the
    next round tries again (a ledger or Prefect hiccup never stops serve)."""
    from prefect.client.orchestration import get_client

    from integrations.pipeline_runs import reconcile

    since_deadline_check = DEADLINE_CHECK_S
    async with get_client() as client:
        while not stop.is_set():
            try:
                if since_deadline_check >= DEADLINE_CHECK_S:
                    since_deadline_check = 0.0
                    await asyncio.to_thread(check_deadlines)
                counts = await reconcile(client)
                if counts["woken"]:
                    log.info("woke %s pipeline run(s) whose wait is over", counts["woken"])
            except Exception:
                log.exception("the reconciler failed; trying again in %.0f s", RECONCILE_S)
            poked = asyncio.create_task(poke.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([poked, stopped], timeout=RECONCILE_S, return_when=asyncio.FIRST_COMPLETED)
            poked.cancel()
            stopped.cancel()
            poke.clear()
            since_deadline_check += RECONCILE_S


def check_deadlines() -> list[Any]:
    """Conclude every review past its deadline (the runs are woken by the reconciler)."""
    from integrations.deadlines import expire_due

    concluded = expire_due()
    for conclusion in concluded:
        log.info("review %s expired: %s", conclusion.review_id, conclusion.state)
    return concluded


__all__ = ["check_deadlines", "configure_logging", "serve"]


def _server_healthy() -> bool:
    """Whether this home's Prefect server runs already (serve did not start it, then)."""
    from integrations.prefect_server import our_url

    return our_url() is not None
