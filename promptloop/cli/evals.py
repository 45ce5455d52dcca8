"""``promptloop eval``: run a prompt version over its dataset, show and compare runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, err, out, say, styled, table
from roles.errors import InputError, OutageError

if TYPE_CHECKING:
    from roles.data_scientist import Scorecard, Verdict
    from roles.data_scientist.confusion import Confusion

app = typer.Typer(
    help="Eval runs: a prompt version over a dataset, scored and recorded.", no_args_is_help=True
)


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The prompt's name.")],
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
    label: Annotated[str | None, typer.Option("--label", "-l")] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Default: the prompt's dataset.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=1024,
            help="Model calls in flight (default PROMPTLOOP_CONCURRENCY).",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the model even for cached requests.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a version (default: production) and record the run."""
    import asyncio

    from integrations.evaluation import execute, make_plan
    from integrations.llm import model_client
    from integrations.settings import get_settings

    with session_scope() as session:
        plan = make_plan(session, name=name, version=version, label=label, dataset=dataset)
    limit = concurrency or get_settings().concurrency
    models = [plan.prompt.model, *plan.suite.judge_models()]
    with model_client(models=models, concurrency=limit, no_cache=no_cache) as (
        client,
        description,
    ):
        where = client.endpoint(plan.prompt.model).base_url
        say(
            f"model: {plan.prompt.model} at {where}"
            + (f" ({description})" if "local" in description else "")
        )
        with _progress_bar(len(plan.items), f"{name} v{plan.version_number}") as listener:
            run_id = asyncio.run(_execute(execute, plan, client, limit, no_cache, listener))
    from roles.evaluation.records import get_run, run_view

    with session_scope() as session:
        view = run_view(session, get_run(session, run_id))
    if as_json:
        emit_json(view)
    else:
        print_run(view)
    if view["status"] == "outage":
        raise OutageError(
            f"eval run {view['id']} is incomplete, {view['failure']}; it is kept but never "
            "reused: run it again once the endpoint answers (answers received are cached)"
        )
    if view["items"] and view["errors"] == view["items"]:
        common = (view.get("common_errors") or [{"error": ""}])[0]["error"] or ""
        hint = (
            "the template does not render for the items; fix the prompt or the dataset"
            if common.startswith("template:")
            else "check the model endpoint (OPENAI_BASE_URL) and its key"
        )
        raise InputError(f"every item of eval run {view['id']} failed: {hint}")


async def _execute(
    execute: Any, plan: Any, client: Any, limit: int, no_cache: bool, listener: Any
) -> int:
    try:
        return int(
            await execute(
                plan,
                caller=client,
                stats=client.stats,
                concurrency=limit,
                settings={
                    "concurrency": limit,
                    "no_cache": no_cache,
                    "endpoint": client.scope(plan.prompt.model),
                },
                listener=listener,
            )
        )
    finally:
        await client.aclose()


class _progress_bar:
    """A Rich progress bar on stderr: done/total, cache hits, errors, tokens, cost, rate."""

    def __init__(self, total: int, title: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}", markup=False),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=not err.is_terminal,
        )
        self.task = self.progress.add_task(title, total=total, stats="")

    def __enter__(self) -> Any:
        self.progress.start()
        if self.progress.disable:  # not a terminal: no per-item updates to pay for
            return None

        def listener(p: Any) -> None:
            import time

            elapsed = max(time.perf_counter() - p.started, 1e-9)
            self.progress.update(
                self.task,
                completed=p.done,
                stats=f"cached {p.cache_hits}  errors {p.errors}  tokens {p.tokens}  "
                f"${p.cost_usd:.4f}  {p.done / elapsed:.1f}/s",
            )

        return listener

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def print_run(view: dict[str, Any]) -> None:
    cost = "unknown" if view["cost"] is None else f"${view['cost']:.4f}"
    out.print(
        styled(
            (f"eval run {view['id']}", "bold"),
            f"  {view['prompt']} v{view['version']} on "
            f"{view['dataset']} v{view['dataset_version']}  model {view['model']}  [{view['status']}]",
        )
    )
    out.print(
        f"{view['items']} items, {view['errors']} errors, {view['model_calls']} model calls, "
        f"{view['cache_hits']} cache hits, {view['tokens']} tokens, cost {cost}, "
        f"{view['wall_s'] if view['wall_s'] is not None else '-'} s"
    )
    settings = view.get("settings") or {}
    how = [f"{k}: {settings[k]}" for k in ("runner", "concurrency", "endpoint") if k in settings]
    if how:
        out.print(", ".join(how))
    for common in view.get("common_errors", []):
        say(styled((f"{common['items']} item(s) failed:", "yellow"), f" {common['error']}"))
    rows = view["summary"].get("run", {}).get("metrics", {})
    table(
        "scores",
        ["metric", "mean", "pass rate", "scored", "unscored"],
        [
            [k, _f(m["mean"]), _f(m["pass_rate"]), m["n_scored"], m["n_unscored"]]
            for k, m in rows.items()
        ],
    )


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command("list")
def list_(
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="Only runs of this prompt.")
    ] = None,
    change: Annotated[int | None, typer.Option("--change", help="Only this change's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="The newest this many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Eval runs, newest first: id, prompt and version, purpose, status, items, errors."""
    from sqlmodel import col, select

    from roles.evaluation.records import run_view
    from roles.ledger import EvalRun

    with session_scope() as session:
        query = select(EvalRun).order_by(col(EvalRun.id).desc())
        if change is not None:
            query = query.where(EvalRun.change_id == change)
        views = [run_view(session, run) for run in session.exec(query)]
    views = [v for v in views if prompt is None or v["prompt"] == prompt][:limit]
    if as_json:
        emit_json([{k: v for k, v in view.items() if k != "summary"} for view in views])
        return
    if not views:
        say("no eval runs match")
        return
    table(
        None,
        ["run", "prompt", "v", "for", "status", "items", "errors", "started"],
        [
            [
                v["id"],
                v["prompt"],
                v["version"],
                f"change {v['change_id']}" if v["change_id"] else v["purpose"],
                v["status"],
                v["items"],
                v["errors"],
                v["started_at"][5:16].replace("T", " "),
            ]
            for v in views
        ],
    )


@app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(metavar="RUN")],
    items: Annotated[
        bool, typer.Option("--items", help="Also each item: output, error, scores.")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="Only items that errored, failed or went unscored.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many items.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A recorded run: totals and per-metric scores; --items for outputs and reasons."""
    from integrations.evaluation import suite_of_run
    from roles.data_scientist.confusion import confusions
    from roles.evaluation.records import get_run, item_views, load_results, run_view

    with session_scope() as session:
        run = get_run(session, run_id)
        view = run_view(session, run)
        matrices = confusions(load_results(session, run_id=run_id), suite_of_run(run).scorers)
        if items or failed:
            view["results"] = item_views(session, run_id=run_id, failed_only=failed, limit=limit)
    view["confusion"] = [m.model_dump(mode="json") for m in matrices]
    if as_json:
        emit_json(view)
        return
    print_run(view)
    for matrix in matrices:
        print_confusion(matrix, "run")
    if view["failure"]:
        say(styled(("this run did not finish:", "red"), f" {view['failure']}"))
    for row in view.get("results", []):
        out.print(styled((row["item_id"], "bold"), " (cached)" if row["cached"] else ""))
        if row["error"]:
            out.print(styled("  ", ("error:", "red"), f" {row['error']}"))
        else:
            out.print(f"  output: {_clip(row['output'])}")
        for metric, score in row["scores"].items():
            if score["unscored"]:
                detail = f"unscored — {score['reason']}"
                if score["raw_answer"]:
                    detail += f" (raw answer: {_clip(score['raw_answer'], 80)})"
            else:
                detail = _f(score["value"]) + (
                    " pass" if score["passed"] else " fail" if score["passed"] is False else ""
                )
                if score["explanation"]:
                    detail += f" — {_clip(score['explanation'], 100)}"
            out.print(f"  {metric}: {detail}")


def _clip(text: str | None, limit: int = 160) -> str:
    text = (text or "").replace("\n", " ⏎ ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_runs(session: Any, baseline_id: int, candidate_id: int) -> Compared:
    """The two runs' scorecard, the candidate suite's verdict, each side's confusion
    matrices (categorical metrics) and the one-line summary."""
    from integrations.evaluation import suite_of_run
    from roles.data_scientist import build_scorecard, evaluate_gate
    from roles.data_scientist.confusion import confusions
    from roles.data_scientist.summary import summary_line
    from roles.evaluation.records import get_run, load_results

    if baseline_id == candidate_id:
        raise InputError("compare two different runs: a baseline and a candidate")
    base, cand = get_run(session, baseline_id), get_run(session, candidate_id)
    for run in (base, cand):
        if run.status != "finished":
            raise InputError(f"eval run {run.id} is {run.status}, not finished; re-run it first")
    if base.dataset_id != cand.dataset_id:
        raise InputError(
            f"runs {baseline_id} and {candidate_id} used different datasets; pair runs of the same dataset version"
        )
    suite = suite_of_run(cand)
    cand_results = load_results(session, run_id=candidate_id)
    base_results = load_results(session, run_id=baseline_id)
    card = build_scorecard(
        cand_results, base_results, suite.metrics(), suite.statistics, suite.gated_metrics()
    )
    matrices = {
        "candidate": confusions(cand_results, suite.scorers),
        "baseline": confusions(base_results, suite.scorers),
    }
    summary = summary_line(card, suite.gate, candidate=matrices["candidate"])
    return Compared(card, evaluate_gate(suite.gate, card), matrices, summary)


class Compared(NamedTuple):
    card: Scorecard
    verdict: Verdict
    matrices: dict[str, list[Confusion]]  # "candidate" / "baseline" → one per categorical metric
    summary: str


@app.command("compare")
def compare(
    run_a: Annotated[int, typer.Argument(metavar="RUN_A", help="The baseline run.")],
    run_b: Annotated[int, typer.Argument(metavar="RUN_B", help="The candidate run.")],
    as_json: JsonOpt = False,
) -> None:
    """Paired comparison of two runs on the same items, and the candidate suite's gate verdict."""
    from roles.evaluation.report import summary_rows

    with session_scope() as session:
        card, verdict, matrices, summary = compare_runs(session, run_a, run_b)
    if as_json:
        emit_json(
            {
                "baseline": run_a,
                "candidate": run_b,
                "summary": summary,
                "passed": verdict.passed,
                "outcome": verdict.outcome,
                "reasons": verdict.reasons,
                # each row: both sides' levels (baseline, candidate) beside diff and interval
                "comparisons": [r.model_dump(mode="json") for r in card.comparisons],
                "candidate_summary": summary_rows(card.candidate),
                "confusion": {
                    side: [m.model_dump(mode="json") for m in found]
                    for side, found in matrices.items()
                },
            }
        )
        return
    out.print(styled((summary, "bold")))
    print_scorecard(card, verdict)
    for side in ("candidate", "baseline"):
        for matrix in matrices[side]:
            print_confusion(matrix, side)


def print_scorecard(card: Scorecard, verdict: Verdict) -> None:
    from roles.evaluation.report import COMPARISON_COLUMNS, comparison_cells, verdict_word

    table(
        "candidate vs baseline (paired)",
        COMPARISON_COLUMNS,
        [comparison_cells(r) for r in card.comparisons],
    )
    colour = {"pass": "green", "fail": "red"}.get(verdict.outcome, "yellow")
    out.print(styled((f"gate: {verdict_word(verdict)}", f"bold {colour}")))
    for reason in verdict.reasons:
        out.print(f"  {reason}")


def print_confusion(matrix: Confusion, side: str) -> None:
    """The side's answers per expected class, with recall; a one-class answerer named."""
    from roles.data_scientist.confusion import as_rows, one_class_note

    table(
        f"{matrix.metric}, {side}: answers (columns) per expected class (rows)",
        ["expected", *matrix.columns, "recall"],
        as_rows(matrix),
    )
    note = one_class_note(matrix, side)
    if note:
        out.print(styled((note, "yellow")))
