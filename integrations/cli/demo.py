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

from integrations.cli.output import emit_json, out, say
from integrations.db import session_scope
from roles.changes import change_view, current_verdict
from roles.ledger import ChangeRequest
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
            change = submit_change(
                session, spec=spec, author=SAMPLE_AUTHOR, note=DEMO_NOTE
            )
            say(
                f"1. {SAMPLE_AUTHOR} (pm) submitted change {change.id}: {SAMPLE_PROMPT} v1 → few-shot examples"
            )
        else:
            say(f"continuing change {change.id} ({change.state})")
        change_id, state = change.id or 0, change.state
    if state in ("submitted", "evaluating"):
        from flows.launch import evaluate, use_server

        api_url = use_server()
        say(f"2. evaluating on the Prefect server at {api_url.removesuffix('/api')} ...")
        evaluate(change_id, prompt=SAMPLE_PROMPT)
    with session_scope() as session:
        view = change_view(session, change_id=change_id)
    if as_json:
        emit_json({"sample_written": written, "change": view})
        return
    from integrations.cli.change import show

    show(change_id)
    verdict = current_verdict(view["history"])
    runs: dict[str, Any] = verdict["payload"] if verdict else {}
    if runs.get("candidate_run"):
        out.print(
            f"\nnext: `promptloop eval compare {runs.get('baseline_run')} {runs['candidate_run']}` "
            "for the paired scorecard (also in the Prefect UI, as artifacts of the flow run); "
            "`promptloop server stop` stops the local Prefect server."
        )
