"""``promptloop review``: the experts' review from the terminal, for people without Slack.

    promptloop review list --as omar
    promptloop review show 3
    promptloop review vote 3 fail --category wrong --reason "a billing ticket" --as omar
    promptloop review estimate 2          # the failure rate its labels estimate, per stratum
    promptloop review decide 2 pass --reason "..." --as dana   # undecided at its cap

The same role functions as the Slack gateway (``roles.expert``), so the same rules: only
active experts, never the change's author, open reviews before their deadline, blind
until you have voted. The vote that completes a look decides the review (pass, fail), or adds
items (more labels), or at the cap leaves it to its decider.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptloop.cli.common import ActorOpt, JsonOpt
from promptloop.cli.output import emit_json, out, say, styled, table

if TYPE_CHECKING:
    from roles.review.views import ItemView

app = typer.Typer(help="The experts' review of sampled outputs.", no_args_is_help=True)

ItemArg = Annotated[int, typer.Argument(help="The review item's number (see `review list`).")]


def expire_due() -> None:
    """The deadline check: reviews past their deadline conclude as expired (the change goes
    back to its author), and reviews of changes that ended (withdrawn) are cancelled. Every
    review command runs it first, until `serve` runs it on a schedule; it is a conditional
    update, so two commands at once close a review once."""
    from integrations.deadlines import expire_due as check

    for c in check():
        why = f"change {c.change_id} is {c.state}"
        if c.outcome == "cancelled":
            why = c.note.removeprefix("review cancelled: ")
        say(f"review {c.review_id} {c.outcome}: {why}")


@app.command("list")
def list_(
    actor: Annotated[
        str | None, typer.Option("--as", help="Only the items that want this expert's vote.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Items that still want a vote, on open reviews; with --as, those that want yours."""
    from integrations.db import session_scope
    from roles.clock import utcnow
    from roles.review.views import waiting_items

    expire_due()

    with session_scope() as session:
        views = waiting_items(session, actor=actor, now=utcnow())
    if as_json:
        emit_json([v.model_dump(mode="json") for v in views])
        return
    if not views:
        say("nothing is waiting for a vote" + (f" from {actor}" if actor else ""))
        return
    table(
        None,
        ["item", "change", "prompt", "#", "votes", "deadline", "input"],
        [
            [
                v.review_item_id,
                v.change_id,
                v.prompt,
                f"{v.position}/{v.items_total}" + (" pick" if v.pick else ""),
                v.votes,
                _moment(v),
                _cut(_text(v.input), 60),
            ]
            for v in views
        ],
    )


@app.command("show")
def show(
    item: ItemArg,
    actor: Annotated[
        str | None, typer.Option("--as", help="You: after your vote, the scores and votes too.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The item in full: input, expected, the candidate's output, the baseline's if it differs."""
    from integrations.db import session_scope
    from roles.review.views import item_view

    with session_scope() as session:
        view = item_view(session, review_item_id=item, viewer=actor)
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return
    print_item(view)


@app.command("vote")
def vote(
    item: ItemArg,
    verdict: Annotated[str, typer.Argument(help="pass or fail.")],
    actor: ActorOpt,
    category: Annotated[
        str | None, typer.Option("--category", help="Why it fails (see `review show`).")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="In your words.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Vote pass or fail on a sampled item; voting again replaces your vote (history kept)."""
    from integrations.actions.door import Door
    from integrations.actions.reviews import vote as cast

    expire_due()
    outcome = cast(
        Door.cli(actor), review_item_id=item, verdict=verdict, category=category, reason=reason
    )
    receipt, conclusion = outcome.receipt, outcome.conclusion
    progress = receipt.progress
    if as_json:
        emit_json(
            {
                "vote": receipt.vote.model_dump(mode="json"),
                "progress": progress.model_dump(mode="json"),
                "conclusion": conclusion.model_dump(mode="json") if conclusion else None,
                "look": _look_json(outcome.look) if outcome.look else None,
            }
        )
        return
    say(
        f"{actor} voted {verdict} on item {item}; review {progress.review_id}: {progress.headline()}"
    )
    if conclusion is not None:
        from promptloop.cli.pipeline import say_next

        say(f"review {conclusion.outcome}: change {conclusion.change_id} is {conclusion.state}")
        say(conclusion.note)
        say_next(conclusion.change_id)  # how the author revises, or who approves
    elif outcome.look is not None:
        judged = outcome.look.judged
        if outcome.look.added:
            say(f"{judged.summary()}: not decided yet; {len(outcome.look.added)} more items "
                "added to the review (`promptloop review list`)")  # fmt: skip
        else:
            say(f"{judged.summary()}: undecided at the review's cap; its decider calls it: "
                f"promptloop review decide {progress.review_id} pass|fail --reason TEXT")  # fmt: skip


@app.command("estimate")
def estimate(
    review_id: Annotated[int, typer.Argument(help="The review's number (`change show`).")],
    as_json: JsonOpt = False,
) -> None:
    """The candidate's failure rate as the review's labels estimate it so far, per stratum."""
    from integrations.db import session_scope
    from roles.review.decision import deciders
    from roles.review.looks import judge_review, plan_line
    from roles.review.tally import get_review

    with session_scope() as session:
        review = get_review(session, review_id)
        judged, plan = judge_review(session, review), plan_line(review)
        who = deciders(session, review) if review.status == "undecided" else []
        status = review.status
    if as_json:
        emit_json({"review_id": review_id, "status": status, "plan": plan, "deciders": who,
                   **_look_json_of(judged)})  # fmt: skip
        return
    out.print(f"review {review_id} ({status}): {plan}")
    out.print(judged.summary())
    for line in judged.strata_lines():
        out.print(f"  {line}")
    out.print(f"the bound says: {judged.decision}" + (f"; decides: {', '.join(who)}" if who else ""))


@app.command("decide")
def decide(
    review_id: Annotated[int, typer.Argument(help="The undecided review's number.")],
    decision: Annotated[str, typer.Argument(help="pass or fail.")],
    actor: ActorOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the author and the record.")],
    as_json: JsonOpt = False,
) -> None:
    """Decide a review whose sample reached its cap undecided (its decider only)."""
    from integrations.actions.door import Door
    from integrations.actions.reviews import decide as call

    expire_due()
    conclusion = call(Door.cli(actor), review_id=review_id, decision=decision, reason=reason)
    if as_json:
        emit_json(conclusion.model_dump(mode="json"))
        return
    from promptloop.cli.pipeline import say_next

    say(f"review {conclusion.outcome}: change {conclusion.change_id} is {conclusion.state}")
    say(conclusion.note)
    say_next(conclusion.change_id)


def _look_json(look: Any) -> dict[str, Any]:
    return {**_look_json_of(look.judged), "added": list(look.added)}


def _look_json_of(judged: Any) -> dict[str, Any]:
    from roles.review.conclusion import estimate_payload

    return estimate_payload(judged)


def print_item(view: ItemView) -> None:
    out.print(
        styled(
            (f"review item {view.review_item_id}", "bold"),
            f" — change {view.change_id} ({view.prompt}), item {view.item_id}, "
            f"{view.position}/{view.items_total}, review {view.status}, deadline {_moment(view)}",
        )
    )
    sections: list[tuple[str, Any]] = [("input", view.input), ("expected", view.expected)]
    sections.append(
        ("candidate output", view.output if view.error is None else f"error: {view.error}")
    )
    if view.baseline_output is not None:
        sections.append(("baseline output (production)", view.baseline_output))
    for title, value in sections:
        out.print(styled("\n", (title, "bold")))
        out.print(_text(value))
    out.print(f"\nvotes so far: {view.votes}")
    if view.your_vote is not None:
        out.print(f"your vote: {_vote_text(view.your_vote.model_dump())}")
    if view.revealed is None:
        out.print(f"fail categories: {', '.join(view.fail_categories)}")
        return
    out.print(f"sampled as {view.revealed.strategy}: {(view.revealed.reason)}")
    for metric, score in view.revealed.scores.items():
        shown = (
            "unscored"
            if score["unscored"]
            else score["passed"]
            if score["passed"] is not None
            else score["value"]
        )
        out.print(f"  {(metric)}: {shown}")
    for counted in view.revealed.votes:
        out.print(f"  {counted['expert']}: {_vote_text(counted)}")


def _vote_text(vote: dict[str, Any]) -> str:
    """``fail (wrong) — it is a billing ticket``."""
    text = str(vote["verdict"]) + (f" ({vote['category']})" if vote.get("category") else "")
    return text + (f" — {vote['reason']}" if vote.get("reason") else "")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return _text(next(iter(value.values())))
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _moment(view: ItemView) -> str:
    """The deadline as people read it: ``2026-12-04 10:00 UTC`` (JSON keeps the instant)."""
    from roles.clock import readable

    return readable(view.deadline_at)
