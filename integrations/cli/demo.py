"""``promptloop demo``: the loop on embedded defaults, end to end, from a fresh machine.

It loads the sample team, prompt and dataset, submits the sample change as the PM,
and shows where the change stands. Running it again continues the same change.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import col, select

from integrations.cli.output import emit_json, say
from integrations.db import session_scope
from roles.changes import change_view
from roles.ledger import ChangeRequest
from roles.pm import submit_change
from roles.prompt_file import parse_prompt_file
from roles.registry import find_prompt
from roles.sample import SAMPLE_AUTHOR, SAMPLE_PROMPT, load_sample, sample_path
from roles.states import OPEN_STATES


def demo(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Run the loop on the sample: init, submit the sample change, show its status."""
    with session_scope() as session:
        written = load_sample(session).written
        prompt = find_prompt(session, name=SAMPLE_PROMPT)
        change = session.exec(
            select(ChangeRequest)
            .where(ChangeRequest.prompt_id == prompt.id)
            .where(col(ChangeRequest.state).in_([s.value for s in OPEN_STATES]))
            .order_by(col(ChangeRequest.id).desc())
        ).first()
        if change is None:
            spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
            change = submit_change(
                session, spec=spec, author=SAMPLE_AUTHOR, note="demo: few-shot examples"
            )
            say(f"{SAMPLE_AUTHOR} (pm) submitted change {change.id}")
        else:
            say(f"continuing change {change.id}")
    with session_scope() as session:
        view = change_view(session, change_id=change.id or 0)
    if as_json:
        emit_json({"sample_written": written, "change": view})
        return
    from integrations.cli.change import show

    show(view["id"])
