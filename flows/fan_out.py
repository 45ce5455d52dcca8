"""Eval fan-out: a run too large for one machine, in slices on a Dask cluster, through
prefect-dask's task runner.

Configured by ``PROMPTLOOP_DASK_ADDRESS`` (a running cluster) or ``PROMPTLOOP_DASK_WORKERS``
(a local cluster of that many processes, started for the run); runs of fewer than
``PROMPTLOOP_DASK_MIN_ITEMS`` items stay in this process. The run is opened here; each
slice is a task on a Dask worker that names the run by its id, reads its plan from the
ledger, calls the model with its share of the concurrency (the endpoint's limit is split
between the slices, not multiplied by them) and records its own items. This process then
adds up what the slices spent and writes the run's totals, as a run made here would.

Workers need what this process has: the ledger (``PROMPTLOOP_DATABASE_URL``: PostgreSQL
for a cluster of several machines), the model endpoint and the Prefect API.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from integrations.db import session_scope
from integrations.eval_slice import run_key, run_slice
from integrations.settings import get_settings
from roles.errors import InputError, OutageError


@task(name="eval-slice", cache_policy=NONE)
async def eval_slice(
    run: str, start: int, stop: int, concurrency: int, no_cache: bool
) -> dict[str, Any]:
    """Items ``start:stop`` of the eval run ``run`` names (``eval_slice.run_key``), on
    whichever worker Dask chooses."""
    return await run_slice(run, start, stop, concurrency=concurrency, no_cache=no_cache)


def _run_name() -> str:
    """``candidate-fan-out-run-12-<ledger>``: unique on a Prefect server that ledgers share."""
    from prefect.runtime import flow_run

    from integrations.db import ledger_tag

    params = flow_run.parameters
    return f"{params['label']}-fan-out-run-{params['run_id']}-{ledger_tag()}"


@flow(name="eval-fan-out", flow_run_name=_run_name, log_prints=True)
async def fan_out(
    run_id: int, count: int, slices: int, concurrency: int, no_cache: bool, label: str
) -> list[dict[str, Any]]:
    """Run ``count`` items of run ``run_id`` as ``slices`` tasks on the flow's task runner
    (a ``DaskTaskRunner``: see ``dask_runner``); each slice's spend, in order."""
    with session_scope() as session:
        key = run_key(session, run_id)
    share = max(1, concurrency // slices)
    get_run_logger().info(
        "%s: %s items in %s slices on Dask, %s calls in flight each", label, count, slices, share
    )
    size = math.ceil(count / slices)
    try:  # the first submission connects to the cluster
        futures = [
            eval_slice.with_options(
                name=f"{label}-slice", task_run_name=f"{label}-slice-{i + 1}"
            ).submit(key, i * size, min(count, (i + 1) * size), share, no_cache)
            for i in range(slices)
            if i * size < count
        ]
    except OSError as exc:  # the scheduler does not answer (a refused or timed-out connection)
        where = get_settings().dask_address or "the local Dask cluster"
        raise OutageError(f"Dask at {where} did not answer: {exc}") from None
    # Each future's result is the slice's dict (the task's coroutine ran on the worker).
    results: list[Any] = await asyncio.to_thread(lambda: [f.result() for f in futures])
    return results


def dask_runner(count: int) -> tuple[Any, int] | None:
    """The task runner and the number of slices for a run of ``count`` items, or None when
    the run stays in this process (no cluster configured, or a small run)."""
    settings = get_settings()
    if not (settings.dask_address or settings.dask_workers) or count < settings.dask_min_items:
        return None
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise InputError(
            "PROMPTLOOP_DASK_ADDRESS or PROMPTLOOP_DASK_WORKERS is set, but prefect-dask is not "
            "installed: pip install 'promptloop[dask]' (in a checkout: .venv/bin/pip install -e "
            "'.[dask]'), then restart serve"
        ) from None
    slices = min(count, settings.dask_workers or 4)
    if settings.dask_address:
        # A scheduler that does not answer within 20 s is an outage, not a hang.
        return DaskTaskRunner(address=settings.dask_address, client_kwargs={"timeout": 20}), slices
    cluster = {
        "n_workers": settings.dask_workers,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
    }
    return DaskTaskRunner(cluster_kwargs=cluster), slices
