"""``evaluate_change``: the automatic evaluation of a submitted change, as a Prefect flow.

    submitted → evaluating → (baseline run, candidate run) → scorecard → gate
              → in_review (pass) | eval_failed (every reason in the handoff note)

An outage (the endpoint failed more items than ``PROMPTLOOP_MAX_OUTAGE_SHARE`` allows) or
a crash is no verdict: the change stays ``evaluating`` with the error recorded, and the
flow run ends Failed with a message that says which. The final state names the outcome
for the Prefect UI ("Gate passed", "Gate failed: 2 reasons", "Outage: 30/30 items …"); a
ledger that stops answering ends it Failed, named "Ledger unreachable".

Items run under the model client's semaphore inside a few batch tasks, not one task per
item; the ledger records every item, Prefect sees batches. The scorecard is published
as artifacts so the Prefect UI shows it. Every step reads the ledger first, so a retried
or restarted run continues instead of repeating work.
"""

from __future__ import annotations

import traceback
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows.batches import run_in_batches
from flows.fan_out import dask_runner
from integrations.db import ledger_tag, session_scope
from integrations.evaluation import Progress, begin, plan_for_version
from roles.data_scientist import build_scorecard, evaluate_gate
from roles.data_scientist.attempts import attempt_note, target_alpha
from roles.errors import OutageError, PromptloopError
from roles.evaluation.attempts import count_attempt
from roles.evaluation.change import (
    ErrorKind,
    EvalTarget,
    conclude_evaluation,
    note_evaluation_error,
    open_evaluation,
)
from roles.evaluation.records import get_run, load_results, reusable_run, suite_hash
from roles.evaluation.report import (
    comparison_rows,
    scorecard_markdown,
    summary_rows,
    verdict_word,
)
from roles.ledger import Dataset, PromptVersion


def _run_name() -> str:
    params = flow_run.parameters
    prompt = params.get("prompt") or "prompt"
    return f"{prompt}-change-{params['change_id']}-eval-{ledger_tag()}"


def artifact_key(change_id: int, what: str) -> str:
    """``<ledger>-change-<id>-<what>``: unique per ledger on a shared Prefect server."""
    return f"{ledger_tag()}-change-{change_id}-{what}"


@task(name="open-evaluation", cache_policy=NONE)
def open_step(change_id: int) -> EvalTarget | None:
    with session_scope() as session:
        return open_evaluation(session, change_id=change_id, flow_run_id=str(flow_run.id or ""))


async def run_side(
    *,
    side: str,
    version_id: int,
    target: EvalTarget,
    client: Any,
    concurrency: int,
    no_cache: bool = False,
) -> int:
    """A finished run of this version (reused when one matches), or a new one in batches."""
    logger = get_run_logger()
    with session_scope() as session:
        version = session.get(PromptVersion, version_id)
        dataset = session.get(Dataset, target.dataset_id)
        assert version is not None and dataset is not None
        plan = plan_for_version(
            session,
            name=target.prompt,
            version=version,
            dataset=dataset,
            # Production's suite judges the change (the candidate's own suite, when it
            # changes the gate, applies only once deployed): an author cannot loosen
            # the gate that judges their own change. A new prompt has only its own.
            suite_from=session.get(
                PromptVersion, target.base_version_id or target.candidate_version_id
            ),
        )
        reuse = reusable_run(
            session,
            version_id=version_id,
            dataset_id=target.dataset_id,
            model=plan.prompt.model,
            suite_hash=suite_hash(plan.suite),
            endpoint=client.scope(plan.prompt.model),
        )
        if reuse is not None and reuse.id is not None:
            logger.info("%s: reusing finished eval run %s (v%s)", side, reuse.id, version.number)
            return reuse.id
    settings = {"concurrency": concurrency, "endpoint": client.scope(plan.prompt.model)}
    # The embedded model answers on this machine only: its runs never fan out.
    spread = None if client.local_base_url else dask_runner(len(plan.items))
    if spread is not None:
        settings["runner"] = f"dask, {spread[1]} slices"
    ctx = begin(
        plan,
        caller=client,
        stats=client.stats,
        concurrency=concurrency,
        settings=settings,
        purpose=side,
        change_id=target.change_id,
        flow_run_id=str(flow_run.id or ""),
        listener=_progress_logger(side, logger, target.change_id),
    )
    run_id = await run_in_batches(ctx, label=side, spread=spread, no_cache=no_cache)
    logger.info("%s: eval run %s, %s items", side, run_id, len(plan.items))
    return run_id


def _progress_logger(side: str, logger: Any, change_id: int) -> Any:
    """Log progress at every tenth of the items (terminal and Prefect UI), and stop paying
    for calls if the change was withdrawn meanwhile."""
    marks: set[int] = set()

    def listener(progress: Progress) -> None:
        tenth = progress.done * 10 // max(progress.total, 1)
        if tenth not in marks and (tenth > 0 or progress.done == 1):
            marks.add(tenth)
            _still_evaluating(change_id)
            logger.info(
                "%s: %s/%s items, %s errors, %s cache hits",
                side,
                progress.done,
                progress.total,
                progress.errors,
                progress.cache_hits,
            )

    return listener


@task(name="score-and-gate", cache_policy=NONE)
def judge(change_id: int, baseline_run: int | None, candidate_run: int) -> tuple[Any, Any, str]:
    """The paired scorecard of the two runs, the gate's verdict on it, and the plain summary."""
    from integrations.evaluation import suite_of_run
    from roles.calibration.coverage import flagged_gap_notes
    from roles.calibration.status import untrusted_metrics
    from roles.data_scientist.confusion import confusions
    from roles.data_scientist.summary import summary_line

    with session_scope() as session:
        candidate = load_results(session, run_id=candidate_run)
        baseline = load_results(session, run_id=baseline_run) if baseline_run else None
        run = get_run(session, candidate_run)
        suite = suite_of_run(run)
        untrusted = untrusted_metrics(session, suite=run.suite)  # shown, not gated
        gaps = flagged_gap_notes(session, change_id=change_id)
        attempt = (
            count_attempt(
                session, change_id=change_id, baseline_run=baseline_run, candidate_run=candidate_run
            )
            if baseline_run
            else None
        )
    family = suite.gated_metrics() - set(untrusted)
    card = build_scorecard(candidate, baseline, suite.metrics(), suite.statistics, family)
    alpha, rule = suite.statistics.alpha, suite.gate.attempts
    verdict = evaluate_gate(
        suite.gate, card, untrusted=untrusted, target_alpha=target_alpha(alpha, attempt, rule)
    )
    said = [attempt_note(alpha, attempt, rule)] if attempt and suite.gate.target else []
    summary = summary_line(card, suite.gate, candidate=confusions(candidate, suite.scorers))
    reasons = list(verdict.reasons) + said + gaps
    if _suite_changed(change_id):
        reasons.append(
            "note: the candidate changes its eval suite; it was judged by production's suite, "
            "and the new one applies once it is deployed"
        )
    return card, verdict.model_copy(update={"reasons": reasons}), summary


@task(name="publish-scorecard", cache_policy=NONE)
def publish(
    change_id: int, card: Any, verdict: Any, baseline_run: int | None, candidate_run: int
) -> None:
    """The scorecard and the runs as artifacts of this run: the Prefect UI shows them."""
    title = f"Change {change_id}: eval scorecard ({verdict_word(verdict)})"
    create_markdown_artifact(
        key=artifact_key(change_id, "scorecard"),
        markdown=scorecard_markdown(card, verdict, title=title),
        description=title,
    )
    create_table_artifact(
        key=artifact_key(change_id, "candidate-run"),
        table=summary_rows(card.candidate),
        description=f"eval run {candidate_run} (candidate)",
    )
    if card.baseline is not None:
        create_table_artifact(
            key=artifact_key(change_id, "baseline-run"),
            table=summary_rows(card.baseline),
            description=f"eval run {baseline_run} (baseline)",
        )
        create_table_artifact(
            key=artifact_key(change_id, "comparison"),
            table=comparison_rows(card),
            description="paired comparison, candidate − baseline",
        )


def _suite_changed(change_id: int) -> bool:
    from roles.transitions import get_change

    with session_scope() as session:
        change = get_change(session, change_id)
        if change.base_version_id is None:
            return False
        base = session.get(PromptVersion, change.base_version_id)
        candidate = session.get(PromptVersion, change.candidate_version_id)
        return bool(base and candidate and base.suite != candidate.suite)


class ChangeMovedOn(Exception):
    """The change left ``evaluating`` (withdrawn, say) while its evaluation ran."""


def _still_evaluating(change_id: int) -> None:
    from roles.transitions import get_change

    with session_scope() as session:
        state = get_change(session, change_id).state
    if state != "evaluating":
        raise ChangeMovedOn(state)


@task(name="conclude-evaluation", cache_policy=NONE)
def conclude(change_id: int, passed: bool, reasons: list[str], payload: dict[str, Any]) -> str:
    """The verdict's handoff and, when it goes to review, the review it opens (its sample,
    its items): one transaction, so a change never sits in review with nothing to vote on."""
    from integrations.slack.review import post_opened_review
    from roles.clock import utcnow
    from roles.expert import start_review
    from roles.transitions import get_change

    with session_scope() as session:
        state = conclude_evaluation(
            session, change_id=change_id, passed=passed, reasons=reasons, payload=payload
        )
        if state.value == "in_review":
            review = start_review(session, change_id=change_id, now=utcnow())
            post_opened_review(session, review=review, reasons=reasons, run_url=_run_url())
        elif state.value == "eval_failed":
            from integrations.slack.notices import eval_failed

            revision = get_change(session, change_id).revision
            key = f"notice:{change_id}:author:eval:{revision}"
            eval_failed(session, change_id=change_id, reasons=reasons, key=key)
        return state.value


def _run_url() -> str | None:
    """The pipeline's page in the Prefect UI (this run's, when it runs alone)."""
    from integrations.pipeline_runs import ui_link

    return ui_link(flow_run.root_flow_run_id or flow_run.id)


def _outage(run_id: int) -> str | None:
    """The run's outage message, if the endpoint failed it (it is then no evidence)."""
    with session_scope() as session:
        run = get_run(session, run_id)
        return run.failure if run.status == "outage" else None


@task(name="record-evaluation-error", cache_policy=NONE)
def record_error(change_id: int, kind: ErrorKind, message: str, log: str | None = None) -> None:
    with session_scope() as session:
        note_evaluation_error(session, change_id=change_id, kind=kind, message=message, log=log)


def _crash_log(change_id: int) -> str:
    """Append the current traceback to the change's evaluation log; returns its path."""
    from integrations.settings import get_settings

    logs = get_settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"change-{change_id}-evaluate.log"
    with path.open("a", encoding="utf-8") as log:
        log.write(traceback.format_exc())
    return str(path)


def _models(target: EvalTarget) -> list[str]:
    """Every model the evaluation will call: both sides' and the judging suite's judges
    (read from the versions alone: no dataset is loaded for this)."""
    from roles.data_scientist import parse_suite

    with session_scope() as session:
        versions = [
            session.get(PromptVersion, version_id)
            for version_id in (target.base_version_id, target.candidate_version_id)
            if version_id is not None
        ]
        # Production's suite judges the change (a new prompt: its own); no suite means the
        # built-in default, which has no judge.
        judging = versions[0]
        assert judging is not None
        suite = judging.suite
        names = [v.model for v in versions if v is not None]
    judges = parse_suite(suite, f"{target.prompt} suite").judge_models() if suite else []
    return list(dict.fromkeys(names + judges))


async def _evaluate(target: EvalTarget, *, concurrency: int, no_cache: bool) -> State:
    """Both sides, then the gate; an outage on either side stops before any verdict."""
    from integrations.llm import model_client

    logger = get_run_logger()
    runs: dict[str, int | None] = {"baseline_run": None, "candidate_run": None}
    sides = [("baseline", target.base_version_id), ("candidate", target.candidate_version_id)]
    with model_client(models=_models(target), concurrency=concurrency, no_cache=no_cache) as (
        client,
        description,
    ):
        logger.info("model endpoint: %s", description)
        try:
            for side, version_id in sides:
                if version_id is None:
                    continue
                run_id = await run_side(
                    side=side,
                    version_id=version_id,
                    target=target,
                    client=client,
                    concurrency=concurrency,
                    no_cache=no_cache,
                )
                runs[f"{side}_run"] = run_id
                outage = _outage(run_id)
                if outage is not None:
                    message = f"{side} eval run {run_id}: {outage}"
                    record_error(target.change_id, "outage", message)
                    logger.error("%s; the change stays evaluating", message)
                    return Failed(name="Outage", message=message)
        finally:
            await client.aclose()
    candidate = runs["candidate_run"]
    assert candidate is not None
    card, verdict, summary = judge(target.change_id, runs["baseline_run"], candidate)
    publish(target.change_id, card, verdict, runs["baseline_run"], candidate)
    outcome = {
        "passed": verdict.passed,
        "outcome": verdict.outcome,
        "reasons": verdict.reasons,
        "inconclusive": verdict.inconclusive,
    }
    state = conclude(
        target.change_id,
        outcome["passed"],
        outcome["reasons"],
        {
            **runs,
            "summary": summary,  # the scorecard in plain words, shown before the reasons
            "outcome": outcome["outcome"],
            "inconclusive": outcome["inconclusive"],
            "failed_checks": verdict.broken_checks(),  # why it failed, for `promptloop metrics`
        },
    )
    failures = [r for r in outcome["reasons"] if r.startswith("FAIL")]
    # Named for what the gate said, which stays true: the change moves on (deployed, rolled
    # back) and the pipeline run tells that; this run's badge said "In review" forever.
    if state == "in_review" and outcome["outcome"] == "inconclusive":
        flags = len(outcome["inconclusive"])
        message = f"gate inconclusive ({flags} flag{'s' if flags != 1 else ''}): sent to review"
        return Completed(name="Gate inconclusive", message=message, data=state)
    if state == "in_review":
        return Completed(name="Gate passed", message="gate passed: sent to review", data=state)
    if state == "eval_failed":
        message = f"gate failed: {len(failures)} reason{'s' if len(failures) != 1 else ''}"
        return Completed(name="Gate failed", message=message, data=state)
    return Completed(message=f"the change is {state}", data=state)


@flow(name="evaluate-change", flow_run_name=_run_name, log_prints=True)
async def evaluate_change(
    change_id: int,
    prompt: str | None = None,
    concurrency: int | None = None,
    no_cache: bool = False,
) -> State:
    """Evaluate change ``change_id``: candidate against production, then the gate.

    Args:
        prompt: only names the flow run in the UI.
        concurrency: model calls in flight (default PROMPTLOOP_CONCURRENCY).
    Returns:
        The final state: Completed with the change's state as its result, or Failed
        (outage, bad input, a bug) with the change left in evaluating and the error
        recorded on it.
    """
    from integrations.settings import get_settings

    logger = get_run_logger()
    try:
        target = open_step(change_id)
        if target is None:
            with session_scope() as session:
                from roles.transitions import get_change

                state = get_change(session, change_id).state
            logger.info("change %s is %s; nothing to evaluate", change_id, state)
            return Completed(message=f"nothing to evaluate: the change is {state}", data=state)
        limit = concurrency or get_settings().concurrency
        return await _evaluate(target, concurrency=limit, no_cache=no_cache)
    except ChangeMovedOn as moved:
        logger.info("change %s moved on (%s) during its evaluation; stopped", change_id, moved)
        return Completed(message=f"stopped: the change is {moved}", data=str(moved))
    except OutageError as exc:
        # A service it needs did not answer (a Dask scheduler, say): no verdict; the change
        # stays in evaluating until `promptloop change evaluate ID`.
        record_error(change_id, "outage", exc.message)
        logger.error("%s", exc.message)
        return Failed(name="Outage", message=exc.message)
    except PromptloopError as exc:
        # Bad input (a scorer that may not be imported, an endpoint not configured): the
        # change stays in evaluating; `promptloop change evaluate ID` once it is fixed.
        record_error(change_id, "input", exc.message)
        logger.error("%s", exc.message)
        return Failed(message=exc.message)
    except Exception as exc:
        if _ledger_down(exc):
            return _ledger_unreachable(change_id, exc)
        log = _crash_log(change_id)
        message = f"internal error: {type(exc).__name__}: {exc}"
        try:
            record_error(change_id, "bug", message, log)
        except Exception as unrecorded:
            if not _ledger_down(unrecorded):
                raise
            return _ledger_unreachable(change_id, unrecorded)
        logger.error("%s (traceback in %s)", message, log)
        return Failed(message=message)


def _ledger_down(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the ledger database not answering."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError | InterfaceError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _ledger_unreachable(change_id: int, exc: BaseException) -> State:
    """No verdict and no way to say so on the change: the run's state says it, and serve's
    reconciler writes it on the change once the ledger answers again."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = (
        f"the ledger did not answer ({first[:300]}); change {change_id} stays evaluating: "
        f"`promptloop change evaluate {change_id}` once it answers"
    )
    get_run_logger().error("%s", message)
    return Failed(name="Ledger unreachable", message=message)
