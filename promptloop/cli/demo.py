"""``promptloop demo``: the loop on embedded defaults, end to end, from a fresh machine.

It loads the sample team, prompt and dataset, submits the sample change as the PM, runs
the ``evaluate_change`` flow on the local Prefect server with the embedded model (or
``OPENAI_BASE_URL``), and shows where the change stands. Running it again continues the
same change; ``--fresh`` withdraws it and starts over (finished eval runs are reused).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlmodel import col, select

from integrations.db import session_scope
from promptloop.cli.output import emit_json, out, say
from roles.changes import change_view, current_verdict
from roles.ledger import ChangeRequest, ReviewItem
from roles.pm import submit_change, withdraw_change
from roles.prompt_file import parse_prompt_file
from roles.registry import find_prompt
from roles.roster import find_member
from roles.sample import SAMPLE_AUTHOR, SAMPLE_PROMPT, load_sample, sample_path
from roles.states import OPEN_STATES

DEMO_NOTE = "demo: few-shot examples"


def _open_change(session: object) -> ChangeRequest | None:
    """The demo's own open change: the sample PM's, with the demo's note (never another's)."""
    prompt = find_prompt(session, name=SAMPLE_PROMPT)  # type: ignore[arg-type]
    author = find_member(session, handle=SAMPLE_AUTHOR)  # type: ignore[arg-type]
    return session.exec(  # type: ignore[attr-defined, no-any-return]
        select(ChangeRequest)
        .where(ChangeRequest.prompt_id == prompt.id)
        .where(ChangeRequest.author_id == author.id)
        .where(ChangeRequest.note == DEMO_NOTE)
        .where(col(ChangeRequest.state).in_([s.value for s in OPEN_STATES]))
        .order_by(col(ChangeRequest.id).desc())
    ).first()


DEMO_EXPERTS = ("omar", "ines")


def _deliver(change_id: int, *, quiet: bool) -> None:
    """With SLACK_BOT_TOKEN, send what the outbox holds, as `promptloop serve` will. Without
    it, show this change's messages as text and leave the outbox as it is: the demo
    delivers nobody else's messages, and marks nothing as shown."""
    import sys

    from integrations.settings import get_settings

    if get_settings().slack_bot_token is not None:
        from integrations.slack.outbox import deliver_pending

        report = deliver_pending()
        if not quiet:
            say(f"   {report.posted + report.updated} message(s) posted to Slack from the outbox")
        return
    if quiet:
        return
    from integrations.slack.render import render_text
    from roles.outbox import list_messages

    with session_scope() as session:
        messages = list_messages(session, change_id=change_id)
    for m in messages:
        reply = " (reply in the thread)" if m.parent_id else ""
        sys.stdout.write(f"── Slack {m.channel} · {m.kind}{reply} ──\n")
        sys.stdout.write(render_text(m.blocks, m.text) + "\n\n")
    if messages:
        say(
            f"   {len(messages)} Slack message(s) of change {change_id}, shown as text (no "
            "SLACK_BOT_TOKEN; they stay in the outbox: `promptloop outbox list`)"
        )


def _play_the_experts(change_id: int, *, quiet: bool) -> list[dict[str, Any]]:
    """The sample's two experts vote on every sampled item, through the same role functions
    as `promptloop review vote` and the Slack gateway (blind: each sees only the item). The
    demo plays their judgement from the dataset's expected answer; people use their own."""
    from integrations.slack.notices import after_vote
    from roles.clock import utcnow
    from roles.errors import PolicyError
    from roles.expert import current_review, vote_and_conclude
    from roles.review.views import waiting_items

    played: list[dict[str, Any]] = []
    with session_scope() as session:
        review = current_review(session, change_id=change_id)
        if review is None or review.status != "open":
            return played
        total = len(session.exec(select(ReviewItem).where(ReviewItem.review_id == review.id)).all())
    if not quiet:
        say(f"3. {' and '.join(DEMO_EXPERTS)} (experts) review {total} sampled outputs, blind:")
    for expert in DEMO_EXPERTS:
        with session_scope() as session:
            items = [
                v
                for v in waiting_items(session, actor=expert, now=utcnow())
                if v.change_id == change_id
            ]
        for item in items:
            right = (
                str(item.output or "").strip().lower() == str(item.expected or "").strip().lower()
            )
            verdict = "pass" if right else "fail"
            with session_scope() as session:
                try:
                    outcome = vote_and_conclude(
                        session,
                        review_item_id=item.review_item_id,
                        actor=expert,
                        verdict=verdict,
                        category=None if right else "wrong",
                        reason=None if right else f"expected {item.expected}",
                        now=utcnow(),
                    )
                    after_vote(session, outcome)
                except PolicyError:
                    break  # the review concluded meanwhile
            played.append({"expert": expert, "item": item.item_id, "verdict": verdict})
            if not quiet:
                say(
                    f"   {expert}: {item.item_id} {verdict}  (answer {item.output!r}, expected {item.expected!r})"
                )
    return played


def demo(
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Withdraw the open sample change first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the loop on the sample: submit a change, evaluate it, show the verdict."""
    with session_scope() as session:
        written = load_sample(session).written
        change = _open_change(session)
        if change is not None and fresh:
            withdraw_change(
                session, change_id=change.id or 0, author=SAMPLE_AUTHOR, note="demo --fresh"
            )
            change = None
        if change is None:
            spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
            change = submit_change(session, spec=spec, author=SAMPLE_AUTHOR, note=DEMO_NOTE)
            say(
                f"1. {SAMPLE_AUTHOR} (pm) submitted change {change.id}: {SAMPLE_PROMPT} v1 → few-shot examples"
            )
        else:
            say(f"continuing change {change.id} ({change.state})")
        change_id = change.id or 0
    from promptloop.cli import pipeline

    started = pipeline.resume(change_id, SAMPLE_PROMPT)
    say(f"2. the change's pipeline runs on `promptloop serve` (Prefect UI: {started['flow_run_url']})")
    pipeline.follow(change_id, started["flow_run_id"])
    _deliver(change_id, quiet=as_json)
    played = _play_the_experts(change_id, quiet=as_json)
    if played:
        say("4. the review concluded; the pipeline run wakes and reads the outcome:")
        pipeline.follow(change_id, started["flow_run_id"], past="review-")
    with session_scope() as session:
        view = change_view(session, change_id=change_id)
    view["demo_votes"] = played
    if as_json:
        emit_json({"sample_written": written, "change": view})
        return
    from promptloop.cli.change import show

    show(change_id)
    verdict = current_verdict(view["history"])
    runs: dict[str, Any] = verdict["payload"] if verdict else {}
    if runs.get("candidate_run"):
        out.print(
            f"\nnext: `promptloop eval compare {runs.get('baseline_run')} {runs['candidate_run']}` "
            "for the paired scorecard (also in the Prefect UI, as artifacts of the flow run); "
            "`promptloop server stop` stops the local Prefect server."
        )
