"""Execute an eval run: resolve what to run from the ledger, call the model, record it all.

Shared by ``promptloop eval run`` and the ``evaluate_change`` flow. Results are written
in batches from a single writer thread, so the event loop keeps the model busy while
the ledger catches up; totals and ``finished`` land together at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from integrations.db import session_scope
from integrations.gc_tuning import tuned_gc
from integrations.settings import get_settings
from roles.calls import ModelCaller
from roles.data_scientist import Suite, build_scorecard, default_suite, parse_suite
from roles.datasets import find_dataset, items_of
from roles.errors import InputError, PromptloopError
from roles.evaluation.records import (
    eval_items,
    fail_run,
    finish_run,
    is_outage,
    load_results,
    note_progress,
    record_outcomes,
    start_run,
)
from roles.evaluation.runner import EvalItem, ItemOutcome, PromptUnderTest, run_items
from roles.ledger import Dataset, PromptVersion
from roles.processes import this_process
from roles.registry import find_prompt, resolve

BATCH = 100
FLUSH_EVERY_S = 1.0  # a small run's counts are true within about a second, too
# This many outages in a row, with no answer between them: the endpoint is down, so the
# run stops instead of retrying every remaining item (it is an outage either way).
OUTAGE_BREAKER = 20


@dataclass
class Plan:
    """Everything one run needs, read from the ledger up front (no ORM objects inside)."""

    prompt_name: str
    version_id: int
    version_number: int
    dataset_id: int
    dataset_name: str
    dataset_version: int
    prompt: PromptUnderTest
    suite: Suite
    items: list[EvalItem]


def suite_of(version: PromptVersion, *, name: str, items: list[EvalItem]) -> Suite:
    if version.suite:
        source = f"{name} v{version.number}"
        check_custom_scorers(version.suite, source)
        return parse_suite(version.suite, source)
    return default_suite(has_expected=any(i.expected is not None for i in items))


def check_custom_scorers(suite: dict[str, Any], source: str) -> None:
    """Custom scorers run code named in prompt files: only modules PROMPTLOOP_CUSTOM_SCORERS
    allows (a JSON list of module prefixes; unset allows any) are imported to run evals."""
    allowed = get_settings().custom_scorers
    if allowed is None:
        return
    for spec in suite.get("scorers") or []:
        if isinstance(spec, str):
            target = spec
        elif isinstance(spec, dict):
            args = spec.get("args") or {}
            target = (
                str(args.get("function", ""))
                if spec.get("name") == "custom"
                else str(spec.get("name", ""))
            )
        else:
            continue
        if ":" not in target:
            continue
        module = target.split(":", 1)[0]
        if not any(module == prefix or module.startswith(prefix + ".") for prefix in allowed):
            raise InputError(
                f"{source}: custom scorer '{target}' is not allowed here (PROMPTLOOP_CUSTOM_SCORERS "
                f"allows {allowed or 'none'})"
            )


def plan_for_version(
    session: Session,
    *,
    name: str,
    version: PromptVersion,
    dataset: Dataset,
    suite_from: PromptVersion | None = None,
    suite: Suite | None = None,
) -> Plan:
    """The plan to run ``version`` on ``dataset``, scored by ``suite_from``'s suite (default:
    its own). A change scores production with the candidate's suite, so both sides are
    measured the same way."""
    items = eval_items(items_of(session, dataset=dataset))
    assert version.id is not None and dataset.id is not None
    return Plan(
        prompt_name=name,
        version_id=version.id,
        version_number=version.number,
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        dataset_version=dataset.version,
        prompt=PromptUnderTest(
            model=version.model,
            template=version.template,
            system=version.system,
            params=dict(version.params),
            examples=list(version.examples),
        ),
        suite=suite or suite_of(suite_from or version, name=name, items=items),
        items=items,
    )


def make_plan(
    session: Session,
    *,
    name: str,
    version: int | None = None,
    label: str | None = None,
    dataset: str | None = None,
) -> Plan:
    found = resolve(session, name=name, version=version, label=label)
    find_prompt(session, name=name)
    dataset_name = dataset or found.dataset
    if not dataset_name:
        raise InputError(
            f"prompt '{name}' v{found.number} names no dataset; give one with --dataset"
        )
    return plan_for_version(
        session, name=name, version=found, dataset=find_dataset(session, name=dataset_name)
    )


@dataclass
class Progress:
    """Running totals a progress bar reads; ``on_item`` is called once per finished item."""

    total: int
    done: int = 0
    errors: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    listener: Callable[[Progress], None] | None = None

    def on_item(self, outcome: ItemOutcome) -> None:
        sample = outcome.result.sample
        self.done += 1
        self.errors += sample.error is not None
        self.cache_hits += outcome.cached
        if not outcome.cached:
            self.tokens += (sample.input_tokens or 0) + (sample.output_tokens or 0)
            self.cost_usd += sample.cost_usd or 0.0
        if self.listener is not None:
            self.listener(self)


class _Writer:
    """Writes outcomes to the ledger in batches on one background thread; each batch also
    brings the run's counts (items, errors, calls spent) up to date."""

    def __init__(self, run_id: int, spent: Callable[[], dict[str, Any]]) -> None:
        self.run_id = run_id
        self.spent = spent
        self.pending: list[ItemOutcome] = []
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="promptloop-writer")
        self.futures: list[Any] = []
        self.last_flush = time.monotonic()

    def add(self, outcome: ItemOutcome) -> None:
        self.pending.append(outcome)
        if len(self.pending) >= BATCH or time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if self.pending:
            batch, self.pending = self.pending, []
            self.futures.append(self.pool.submit(self._write, batch, self.spent()))

    def _write(self, batch: list[ItemOutcome], spent: dict[str, Any]) -> None:
        with session_scope() as session:
            record_outcomes(session, run_id=self.run_id, outcomes=batch)
            note_progress(session, run_id=self.run_id, spent=spent)

    def close(self) -> None:
        self.flush()
        try:
            for future in self.futures:
                future.result()
        finally:
            self.pool.shutdown(wait=True)


@dataclass
class RunContext:
    """One run in progress: its id, plan, counters and ledger writer."""

    run_id: int
    plan: Plan
    caller: ModelCaller
    stats: Any
    concurrency: int
    progress: Progress
    writer: _Writer
    before: dict[str, float]
    started: float = field(default_factory=time.perf_counter)
    outcomes: list[ItemOutcome] = field(default_factory=list)
    outages_in_a_row: int = 0

    @property
    def endpoint_down(self) -> bool:
        return self.outages_in_a_row >= OUTAGE_BREAKER

    def on_result(self, outcome: ItemOutcome) -> None:
        self.outages_in_a_row = self.outages_in_a_row + 1 if is_outage(outcome.result) else 0
        self.outcomes.append(outcome)
        self.progress.on_item(outcome)
        self.writer.add(outcome)


def begin(
    plan: Plan,
    *,
    caller: ModelCaller,
    stats: Any,
    concurrency: int,
    settings: dict[str, Any],
    purpose: str = "adhoc",
    change_id: int | None = None,
    flow_run_id: str | None = None,
    listener: Callable[[Progress], None] | None = None,
) -> RunContext:
    """Open the run in the ledger (status ``running``).

    Args:
        stats: the client's call counters (``model_calls``, ``cache_hits``, tokens, cost),
            read now and at the end so the run reports only its own calls.
    """
    pid, host = this_process()
    with session_scope() as session:
        run = start_run(
            session,
            version_id=plan.version_id,
            dataset_id=plan.dataset_id,
            model=plan.prompt.model,
            suite=plan.suite,
            settings=settings,
            purpose=purpose,
            change_id=change_id,
            flow_run_id=flow_run_id,
            pid=pid,
            host=host,
        )
        run_id = run.id or 0
    return attach(
        plan, run_id=run_id, caller=caller, stats=stats, concurrency=concurrency, listener=listener
    )


def attach(
    plan: Plan,
    *,
    run_id: int,
    caller: ModelCaller,
    stats: Any,
    concurrency: int,
    listener: Callable[[Progress], None] | None = None,
    owns_totals: bool = True,
) -> RunContext:
    """A context that records into run ``run_id``, already open. A slice run in another
    process (``owns_totals=False``) writes its rows and the counts of recorded rows, never
    the run's spend: that is the sum of every slice's, written by ``finish``."""
    before = _snapshot(stats)
    return RunContext(
        run_id=run_id,
        plan=plan,
        caller=caller,
        stats=stats,
        concurrency=concurrency,
        progress=Progress(total=len(plan.items), listener=listener),
        writer=_Writer(run_id, (lambda: spent_since(stats, before)) if owns_totals else dict),
        before=before,
    )


async def run_batch(
    ctx: RunContext, items: list[EvalItem], *, concurrency: int | None = None
) -> int:
    """Run some of the plan's items; returns how many errored."""
    with tuned_gc():
        outcomes = await run_items(
            items=items,
            prompt=ctx.plan.prompt,
            caller=ctx.caller,
            suite=ctx.plan.suite,
            concurrency=concurrency or ctx.concurrency,
            on_result=ctx.on_result,
            stop=lambda: ctx.endpoint_down,
        )
    return sum(o.result.sample.error is not None for o in outcomes)


async def finish(ctx: RunContext, *, spent: dict[str, Any] | None = None) -> int:
    """Wait for the writer, then write totals and ``finished`` in one transaction.

    Args:
        spent: what the run's calls cost, when they were made elsewhere (slices in other
            processes); the results are then read back from the ledger.
    """
    await asyncio.to_thread(ctx.writer.close)
    if spent is None:
        results = [o.result for o in ctx.outcomes]
    else:
        with session_scope() as session:
            results = load_results(session, run_id=ctx.run_id)
    card = build_scorecard(results, None, ctx.plan.suite.metrics(), ctx.plan.suite.statistics)
    scores = {
        name: {"mean": m.mean, "pass_rate": m.pass_rate, "unscored": m.n_unscored}
        for name, m in card.candidate.metrics.items()
    }
    # Items and errors are counted from the recorded rows by ``finish_run``.
    totals = {
        **(spent if spent is not None else spent_since(ctx.stats, ctx.before)),
        "wall_s": round(time.perf_counter() - ctx.started, 3),
    }
    with session_scope() as session:
        finish_run(
            session,
            run_id=ctx.run_id,
            totals=totals,
            summary={"scores": scores, "run": card.candidate.model_dump(mode="json")},
            max_outage_share=get_settings().max_outage_share,
            not_tried=len(ctx.plan.items) - len(results),
        )
    return ctx.run_id


def abort(ctx: RunContext, exc: BaseException) -> None:
    """Mark the run failed; its partial rows and what it spent stay, visibly incomplete."""
    ctx.writer.close()
    with session_scope() as session:
        interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
        if interrupted:
            reason = "interrupted"
        elif isinstance(exc, PromptloopError):  # ours say what happened in a sentence
            reason = exc.message
        else:
            reason = f"{type(exc).__name__}: {exc}"
        fail_run(
            session, run_id=ctx.run_id, reason=reason, spent=spent_since(ctx.stats, ctx.before)
        )


async def execute(plan: Plan, **options: Any) -> int:
    """Run every item of ``plan`` in one batch and record it; returns the eval run id."""
    ctx = begin(plan, **options)
    try:
        await run_batch(ctx, plan.items)
        return await finish(ctx)
    except BaseException as exc:
        abort(ctx, exc)
        raise


def _snapshot(stats: Any) -> dict[str, float]:
    keys = (
        "model_calls",
        "cache_hits",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "unpriced_calls",
    )
    return {k: getattr(stats, k) for k in keys}


def spent_since(stats: Any, before: dict[str, float]) -> dict[str, Any]:
    """The run's own calls so far, as ``EvalRun`` columns (cost too: a run stopped midway
    says what it paid)."""
    now = _snapshot(stats)
    unpriced = now["unpriced_calls"] > before["unpriced_calls"]
    return {
        "model_calls": int(now["model_calls"] - before["model_calls"]),
        "cache_hits": int(now["cache_hits"] - before["cache_hits"]),
        "input_tokens": int(now["input_tokens"] - before["input_tokens"]),
        "output_tokens": int(now["output_tokens"] - before["output_tokens"]),
        "cost_usd": None if unpriced else round(now["cost_usd"] - before["cost_usd"], 6),
        "cost_known": not unpriced,
    }


def plan_of_run(session: Session, run_id: int) -> Plan:
    """The plan run ``run_id`` was started with, rebuilt from the ledger (its version, its
    dataset, the suite it is scored by): what a slice in another process runs."""
    from roles.evaluation.records import get_run
    from roles.ledger import Prompt

    run = get_run(session, run_id)
    version = session.get(PromptVersion, run.prompt_version_id)
    dataset = session.get(Dataset, run.dataset_id)
    assert version is not None and dataset is not None
    prompt = session.get(Prompt, version.prompt_id)
    name = prompt.name if prompt else "prompt"
    return plan_for_version(
        session, name=name, version=version, dataset=dataset, suite=suite_of_run(run)
    )


def spent_total(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The spend of a run made in slices: each slice's counts added up (the cost is known
    only if every slice's is)."""
    known = all(p["cost_known"] for p in parts)
    total: dict[str, Any] = {
        key: sum(p[key] for p in parts)
        for key in ("model_calls", "cache_hits", "input_tokens", "output_tokens")
    }
    total["cost_usd"] = round(sum(p["cost_usd"] for p in parts), 6) if known else None
    total["cost_known"] = known
    return total


def suite_of_run(run: Any) -> Suite:
    """The suite a run was scored with, rebuilt from its stored spec."""
    return parse_suite(run.suite, f"eval run {run.id}")
