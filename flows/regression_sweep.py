"""``regression-sweep``: production prompts re-run on a schedule, against their accepted baseline.

    targets (every prompt with a production label, or one) → each prompt's suite on
    production, the request cache neither read nor written, all prompts at once under one model concurrency
    → paired comparison with the baseline (roles.sweep.baseline) → a sweep row per prompt
    → one alert per regression, its recovery, an outage (the alerts channel, via the outbox)

A cached answer cannot show drift, so every call goes to the model; and a sweep's answers
may be drifted ones, so none is stored for another run to read (its run is never a
change's baseline either: ``reusable_run``). A regression removes from the cache what
the drifted models answered since the last good sweep (``integrations.sweeps``). The prompts share one limit on calls in flight: one endpoint's concurrency,
not that times the number of prompts. The final state names what was found ("Ok",
"Regression", "Outage"); the rows are in the ledger (`promptloop sweep list`) and a
table of them is an artifact of the run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows.batches import run_in_batches
from integrations.db import ledger_tag, session_scope
from integrations.evaluation import begin, plan_for_version
from roles.errors import PromptloopError
from roles.ledger import Dataset, PromptVersion
from roles.sweep.targets import SweepTarget, sweep_targets

FLOW_NAME = "regression-sweep"


def _run_name() -> str:
    prompt = flow_run.parameters.get("prompt") or "all"
    return f"sweep-{prompt}-{ledger_tag()}"


@task(name="sweep-targets", cache_policy=NONE)
def targets_step(prompt: str | None) -> list[SweepTarget]:
    with session_scope() as session:
        return sweep_targets(session, prompt=prompt)


async def run_production(target: SweepTarget, *, client: Any, concurrency: int) -> int:
    """A new eval run of the production version with its own suite; its id."""
    with session_scope() as session:
        version = session.get(PromptVersion, target.version_id)
        dataset = session.get(Dataset, target.dataset_id)
        assert version is not None and dataset is not None
        plan = plan_for_version(session, name=target.prompt, version=version, dataset=dataset)
    endpoint = client.scope(plan.prompt.model)
    ctx = begin(
        plan,
        caller=client,
        stats=client.stats,
        concurrency=concurrency,
        settings={"concurrency": concurrency, "endpoint": endpoint, "cache": "off"},
        purpose="sweep",
        flow_run_id=str(flow_run.id or ""),
    )
    return await run_in_batches(ctx, label=f"{target.prompt}-sweep")


@task(name="conclude-sweep", cache_policy=NONE)
async def conclude_step(target: SweepTarget, run_id: int) -> dict[str, Any]:
    """The comparison, the verdict, the row and its alert (off the event loop: the other
    prompts' calls go on meanwhile)."""
    from integrations.pipeline_runs import ui_link
    from integrations.sweeps import conclude_sweep

    flow_run_id = str(flow_run.id or "")
    return await asyncio.to_thread(
        conclude_sweep,
        target,
        run_id=run_id,
        flow_run_id=flow_run_id,
        run_url=ui_link(flow_run_id),
    )


async def sweep_prompt(target: SweepTarget, *, client: Any, concurrency: int) -> dict[str, Any]:
    logger = get_run_logger()
    try:
        run_id = await run_production(target, client=client, concurrency=concurrency)
    finally:
        await client.aclose()
    view: dict[str, Any] = await conclude_step(target, run_id)
    logger.info(
        "%s v%s: %s (eval run %s, baseline %s)",
        target.prompt,
        target.version_number,
        view["verdict"],
        run_id,
        view["baseline_run_id"] or "none",
    )
    return view


def _models(targets: list[SweepTarget]) -> list[str]:
    """Every model the sweep calls: each production version's, and its suite's judges."""
    from roles.data_scientist import parse_suite

    names = []
    with session_scope() as session:
        for target in targets:
            version = session.get(PromptVersion, target.version_id)
            assert version is not None
            names.append(version.model)
            if version.suite:
                source = f"{target.prompt} v{version.number} suite"
                names += parse_suite(version.suite, source).judge_models()
    return list(dict.fromkeys(names))


def _table(views: list[dict[str, Any]]) -> str:
    lines = [
        "| prompt | version | verdict | eval run | baseline | alert |",
        "|---|---|---|---|---|---|",
    ]
    for v in views:
        lines.append(
            f"| {v['prompt']} | {v['version']} | {v['verdict']} | {v['eval_run_id']} | "
            f"{v['baseline_run_id'] or '-'} | {v['alert_id'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def _outcome(views: list[dict[str, Any]], crashed: list[str]) -> State:
    counts: dict[str, int] = {}
    for view in views:
        counts[view["verdict"]] = counts.get(view["verdict"], 0) + 1
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    if crashed:
        return Failed(message="; ".join(crashed), data=views)
    name = next(
        (label for verdict, label in (("regression", "Regression"), ("outage", "Outage"))
         if verdict in counts),
        "Ok",
    )  # fmt: skip
    return Completed(name=name, message=summary or "no production prompt to sweep", data=views)


async def _sweep_all(targets: list[SweepTarget], *, models: list[str], limit: int) -> list[Any]:
    """Every prompt at once, each with its own client under one shared limit; each one's
    view, or the exception that stopped it."""
    from integrations.llm import model_client

    logger = get_run_logger()
    with model_client(models=models, concurrency=limit, no_cache=True, store=False) as (
        client,
        description,
    ):
        logger.info("model endpoint: %s; %s prompt(s), %s calls in flight at most",
                    description, len(targets), limit)  # fmt: skip
        try:
            outcomes: list[Any] = await asyncio.gather(
                *(sweep_prompt(t, client=client.sibling(), concurrency=limit) for t in targets),
                return_exceptions=True,
            )
            return outcomes
        finally:
            await client.aclose()


@flow(name=FLOW_NAME, flow_run_name=_run_name, log_prints=True)
async def regression_sweep(prompt: str | None = None, concurrency: int | None = None) -> State:
    """Sweep every production prompt (scheduled: those whose suite does not say
    ``sweep: {enabled: false}``), or only ``prompt``.

    Args:
        concurrency: model calls in flight across all prompts (default PROMPTLOOP_CONCURRENCY).
    """
    from integrations.settings import get_settings

    logger = get_run_logger()
    try:
        targets = targets_step(prompt)
        if not targets:
            logger.info("no production prompt to sweep")
            return _outcome([], [])
        limit = concurrency or get_settings().concurrency
        outcomes = await _sweep_all(targets, models=_models(targets), limit=limit)
    except PromptloopError as exc:  # an unknown prompt, an endpoint not configured
        logger.error("%s", exc.message)
        return Failed(message=exc.message)
    views, crashed = [], []
    for target, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            crashed.append(f"{target.prompt}: {type(outcome).__name__}: {outcome}")
            logger.error("%s: the sweep failed: %r", target.prompt, outcome)
        else:
            views.append(outcome)
    await acreate_markdown_artifact(
        key=f"{ledger_tag()}-sweep",
        markdown=_table(views),
        description=f"regression sweep: {len(views)} prompt(s)",
    )
    return _outcome(views, crashed)
