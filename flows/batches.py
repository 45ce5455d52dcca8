"""An eval run's items in a few batch tasks (not one task per item): Prefect sees batches,
the ledger sees items. Shared by ``evaluate_change`` and ``regression_sweep``."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from flows.fan_out import fan_out
from integrations.evaluation import RunContext, abort, finish, run_batch, spent_total

BATCH_SIZE = 250
MAX_BATCHES = 4


@task(name="eval-batch", cache_policy=NONE)
async def eval_batch(ctx: RunContext, start: int, stop: int) -> int:
    """One slice of a run's items. ``ctx`` (the client, the plan, the writer) is passed
    quoted: Prefect neither hashes nor walks it (no cache key, no lineage of its items)."""
    return await run_batch(ctx, ctx.plan.items[start:stop])


async def run_in_batches(
    ctx: RunContext, *, label: str, spread: tuple[Any, int] | None = None, no_cache: bool = False
) -> int:
    """Every item of the run, in at most ``MAX_BATCHES`` tasks named ``<label>-batch-N``;
    then the run's totals. A failure marks the run failed and is raised.

    Args:
        spread: a Dask task runner and a number of slices (``flows.fan_out.dask_runner``):
            the items run there instead, their calls made with ``no_cache`` as here.
    """
    try:
        count = len(ctx.plan.items)
        if spread is not None:
            task_runner, slices = spread
            spends = await fan_out.with_options(task_runner=task_runner)(
                ctx.run_id, count, slices, ctx.concurrency, no_cache, label
            )
            return await finish(ctx, spent=spent_total(spends))
        batches = max(1, min(MAX_BATCHES, math.ceil(count / BATCH_SIZE)))
        size = math.ceil(count / batches) if count else 0
        await asyncio.gather(
            *(
                eval_batch.with_options(name=f"{label}-batch-{i + 1}")(  # type: ignore[call-overload]
                    quote(ctx),  # unwrapped before the call
                    i * size,
                    min(count, (i + 1) * size),
                )
                for i in range(batches)
            )
        )
        return await finish(ctx)
    except BaseException as exc:
        abort(ctx, exc)
        raise
