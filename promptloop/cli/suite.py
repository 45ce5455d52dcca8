"""``promptloop suite``: questions about a prompt's eval suite.

``suite power PROMPT --effect 0.05``: how many dataset items the gate needs to detect a
target gain of that size (and to show each guardrail within its margin) with the suite's
power, using the test the gate uses at the level it uses.

It also says how many expert labels the review's policy needs to decide (``review`` in
``--json``).

``suite gaps PROMPT``: failure categories the experts chose that no scorer caught.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say, table

app = typer.Typer(help="Eval suites: what a prompt's gate can show.", no_args_is_help=True)


@app.command("power")
def power(
    name: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt's name.")],
    effect: Annotated[
        float,
        typer.Option(
            "--effect", min=0.001, max=1.0, help="The target gain to detect, in the metric's units."
        ),
    ] = 0.05,
    as_json: JsonOpt = False,
) -> None:
    """Items the dataset needs for 80 % power (the suite's), per gated claim."""
    from roles.data_scientist.planning import plan_items

    with session_scope() as session:
        suite, n_items, baseline, candidate = _inputs(session, name)
    needs = plan_items(
        suite, effect=effect, dataset_items=n_items, baseline=baseline, candidate=candidate
    )
    with session_scope() as session:
        labels = review_labels(session, name, n_items=n_items, results=baseline)
    if as_json:
        emit_json({"prompt": name, "effect": effect, "dataset_items": n_items,
                   "power": suite.statistics.power, "alpha": suite.statistics.alpha,
                   "checks": [r.model_dump(mode="json") for r in needs],
                   "review": labels})  # fmt: skip
        return
    if not needs:
        say(f"{name}: the gate makes no paired claim (no target, no guardrail)")
        _say_review(labels)
        return
    level = f"{suite.statistics.power:.0%} power, alpha {suite.statistics.alpha:g}"
    table(
        f"{name}: items needed ({level}; the dataset has {n_items})",
        ["check", "items needed", f"power at n={n_items}", "spread from"],
        [
            [r.check, "not reachable" if r.items_needed is None else str(r.items_needed),
             "-" if r.power_at_dataset_size is None else f"{r.power_at_dataset_size:.0%}",
             r.assumption]
            for r in needs
        ],
    )  # fmt: skip
    if any(r.power_at_dataset_size is None for r in needs):
        say(
            "'-': a guardrail's power at this n is not computed (its non-inferiority test is "
            "simulated for the items needed only)"
        )
    _say_review(labels)


def review_labels(session: Any, name: str, *, n_items: int, results: Any) -> dict[str, Any]:
    """About how many expert labels the review's policy needs to decide on this dataset,
    for a candidate failing at the strata's prior rates and at half the tolerable rate,
    with strata as production's newest run would give them (none: one stratum)."""
    from roles.data_scientist.review_estimate import LookPlan, labels_needed
    from roles.data_scientist.review_strata import PRIOR_RATES, REVIEWED, stratify
    from roles.registry import resolve
    from roles.review.policy import policy_from_suite

    policy = policy_from_suite(resolve(session, name=name).suite)
    strata = stratify(results, near_threshold=policy.near_threshold) if results else {}
    counts = {h: sum(s == h for s in strata.values()) for h in (*REVIEWED, "E")}
    populations = {h: counts[h] for h in REVIEWED if counts[h]} if strata else {"R": n_items}
    plan = LookPlan(first=policy.items, batch=policy.batch, cap=policy.max_items,
                    alpha=1 - policy.confidence)  # fmt: skip
    half = policy.max_failure_rate / 2
    scenarios = {"the prior rates": dict(PRIOR_RATES),
                 f"{half:.0%} in every stratum": {h: half for h in REVIEWED}}  # fmt: skip
    return {
        "max_failure_rate": policy.max_failure_rate,
        "first": policy.items,
        "batch": policy.batch,
        "cap": policy.max_items,
        "strata": populations,
        "strata_from": "production's newest run" if strata else "none (no run yet)",
        "labels_needed": {
            what: labels_needed(
                populations=populations,
                errors=counts["E"],
                rates=rates,
                max_failure_rate=policy.max_failure_rate,
                plan=plan,
            )
            for what, rates in scenarios.items()
        },
    }


def _say_review(labels: dict[str, Any]) -> None:
    strata = ", ".join(f"{h} {n}" for h, n in labels["strata"].items())
    out.print(f"the review (at most {labels['max_failure_rate']:.0%} failing; {labels['first']} labels "
        f"first, {labels['batch']} more a look up to {labels['cap']}; strata {strata}, from "
        f"{labels['strata_from']}):")  # fmt: skip
    for what, needed in labels["labels_needed"].items():
        said = f"about {needed} labels" if needed is not None else "undecided at the cap"
        out.print(f"  a candidate failing at {what}: {said}")


@app.command("gaps")
def gaps(
    name: Annotated[str, typer.Argument(metavar="PROMPT", help="The prompt's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Failure categories the experts report and no scorer catches (flagged by policy)."""
    from dataclasses import asdict

    from roles.calibration.coverage import gap_line, prompt_gaps

    with session_scope() as session:
        found = prompt_gaps(session, prompt=name)
    if as_json:
        emit_json({"prompt": name, "gaps": [asdict(g) for g in found]})
        return
    if not found:
        say(f"{name}: no expert has failed a reviewed item yet")
        return
    table(
        f"{name}: what experts failed, and whether a scorer caught it",
        ["category", "expert fails", "caught", "share caught", "gap"],
        [
            [
                g.category,
                g.expert_fails,
                g.caught,
                f"{g.share_caught:.0%}",
                "FLAGGED" if g.flagged else "-",
            ]
            for g in found
        ],
    )
    for gap in found:
        if gap.flagged:
            say(f"gap: {gap_line(gap)}")


def _inputs(session: Any, name: str) -> tuple[Any, int, Any, Any]:
    """The production suite, the dataset size, and the newest recorded runs to estimate
    spreads from: production's, and another version's on the same dataset."""
    from sqlmodel import col, select

    from integrations.evaluation import suite_of
    from roles.datasets import find_dataset, items_of
    from roles.errors import InputError
    from roles.evaluation.records import eval_items, load_results
    from roles.ledger import EvalRun
    from roles.registry import find_prompt, resolve, versions_of

    version = resolve(session, name=name)
    if not version.dataset:
        raise InputError(f"prompt '{name}' names no dataset; set `dataset:` in its file")
    dataset = find_dataset(session, name=version.dataset)
    items = eval_items(items_of(session, dataset=dataset))
    suite = suite_of(version, name=name, items=items)
    others = [v.id for v in versions_of(session, prompt=find_prompt(session, name=name))]
    runs = session.exec(
        select(EvalRun)
        .where(col(EvalRun.prompt_version_id).in_(others))
        .where(EvalRun.dataset_id == dataset.id)
        .where(EvalRun.status == "finished")
        .order_by(col(EvalRun.id).desc())
    ).all()
    own = next((r for r in runs if r.prompt_version_id == version.id), None)
    other = next((r for r in runs if r.prompt_version_id != version.id), None)
    baseline = load_results(session, run_id=own.id) if own else None
    candidate = load_results(session, run_id=other.id) if own and other else None
    return suite, len(items), baseline, candidate
