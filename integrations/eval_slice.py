"""One slice of an eval run, run in another process (a Dask worker, say).

The slice is named by ids only: it reads the run's plan back from the ledger, calls the
model through its own client (its share of the endpoint's concurrency), and records its
items with its own writer. It returns what its calls cost; the process that opened the
run adds the slices' costs up and writes the run's totals (``evaluation.finish``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from integrations.db import session_scope, shown_url
from integrations.evaluation import attach, plan_of_run, run_batch, spent_since
from roles.errors import InputError, NotFoundError
from roles.evaluation.records import get_run


def run_key(session: Session, run_id: int) -> str:
    """What tells run ``run_id`` of this ledger from a run of that id in another ledger."""
    run = get_run(session, run_id)
    return f"{run.id}/{run.started_at.isoformat()}/{run.suite_hash}"


async def run_slice(
    key: str, start: int, stop: int, *, concurrency: int, no_cache: bool
) -> dict[str, Any]:
    """Items ``start:stop`` of the run ``key`` names (``run_key``), recorded; their calls'
    cost (``EvalRun`` columns) and ``items``, how many were answered or failed."""
    from integrations.llm import model_client

    run_id = int(key.split("/", 1)[0])
    with session_scope() as session:
        try:
            found = run_key(session, run_id)
        except NotFoundError:
            found = None
        if found != key:
            raise InputError(
                f"eval run {run_id} is not in this Dask worker's ledger "
                f"({shown_url()}): its workers need the PROMPTLOOP_DATABASE_URL the flow uses"
            )
        plan = plan_of_run(session, run_id)
    models = list(dict.fromkeys([plan.prompt.model, *plan.suite.judge_models()]))
    with model_client(models=models, concurrency=concurrency, no_cache=no_cache) as (client, _):
        ctx = attach(
            plan,
            run_id=run_id,
            caller=client,
            stats=client.stats,
            concurrency=concurrency,
            owns_totals=False,
        )
        try:
            await run_batch(ctx, plan.items[start:stop])
        finally:
            ctx.writer.close()
            await client.aclose()
    return {**spent_since(ctx.stats, ctx.before), "items": len(ctx.outcomes)}
