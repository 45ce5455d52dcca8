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
from roles.ledger import ChangeRequest
from roles.registry import find_prompt
from roles.roster import find_member
from roles.sample import SAMPLE_AUTHOR, SAMPLE_PROMPT, load_sample, sample_path
from roles.states import OPEN_STATES

DEMO_NOTE = "demo: few-shot examples"


def _demo_change(session: object) -> ChangeRequest | None:
    """The demo's latest change: the sample PM's, with the demo's note (never another's)."""
    prompt = find_prompt(session, name=SAMPLE_PROMPT)  # type: ignore[arg-type]
    author = find_member(session, handle=SAMPLE_AUTHOR)  # type: ignore[arg-type]
    return session.exec(  # type: ignore[attr-defined, no-any-return]
        select(ChangeRequest)
        .where(ChangeRequest.prompt_id == prompt.id)
        .where(ChangeRequest.author_id == author.id)
        .where(ChangeRequest.note == DEMO_NOTE)
        .order_by(col(ChangeRequest.id).desc())
    ).first()


DEMO_ENGINEER = "sam"


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


def _gateway_url() -> str:
    from promptloop.runtime import control

    running = control.status()
    if not running or not running.get("gateway_url"):
        from roles.errors import InternalError

        raise InternalError("promptloop serve runs without an HTTP gateway (Socket Mode?)")
    return str(running["gateway_url"])


def _state(change_id: int) -> str:
    with session_scope() as session:
        return str(change_view(session, change_id=change_id, with_history=False)["state"])


def demo(
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Withdraw the open sample change first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the loop on the sample: submit a change, evaluate it, show the verdict."""
    from integrations.actions.changes import submit, withdraw
    from integrations.actions.door import Door

    with session_scope() as session:
        written = load_sample(session).written
        change = _demo_change(session)
    if change is not None and change.state == "deployed" and not fresh:
        say(
            f"the sample change {change.id} is deployed already; `promptloop demo --fresh` "
            "rolls production back and runs the loop again"
        )
    elif change is not None and change.state == "deployed":
        from integrations.actions.deploys import roll_back

        roll_back(Door.cli(DEMO_ENGINEER), prompt=SAMPLE_PROMPT, reason="demo --fresh")
        say(f"{DEMO_ENGINEER} rolled production back: change {change.id} is rolled_back")
        change = None
    elif change is not None and change.state in {s.value for s in OPEN_STATES} and fresh:
        was = change.state
        withdraw(Door.cli(SAMPLE_AUTHOR), change_id=change.id or 0, reason="demo --fresh")
        say(f"{SAMPLE_AUTHOR} withdrew change {change.id} ({was} until now)")
        change = None
    elif change is not None and change.state not in {s.value for s in OPEN_STATES}:
        change = None  # closed (withdrawn, rolled back, rejected): the loop again
    if change is None:
        from roles.yamlfile import load_yaml

        doc = load_yaml(sample_path("support-triage-change.yaml"))
        change = submit(Door.cli(SAMPLE_AUTHOR), doc=doc, note=DEMO_NOTE)
        say(
            f"1. {SAMPLE_AUTHOR} (pm) submitted change {change.id}: {SAMPLE_PROMPT} v1 → few-shot examples"
        )
    elif change.state != "deployed":
        say(f"continuing change {change.id} ({change.state})")
    change_id = change.id or 0
    if change.state == "deployed":
        _finish(change_id, played=[], written=written, as_json=as_json)
        return
    from promptloop.cli import pipeline
    from promptloop.cli.demo_people import Gateway, play_engineers, play_experts

    started = pipeline.resume(change_id, SAMPLE_PROMPT)
    say(
        f"2. the change's pipeline runs on `promptloop serve` (Prefect UI: {started['flow_run_url']})"
    )
    pipeline.follow(change_id, started["flow_run_id"])
    _deliver(change_id, quiet=as_json)
    gateway = Gateway(_gateway_url())
    played = play_experts(gateway, change_id, quiet=as_json)
    if played:
        say("4. the review concluded; the pipeline run wakes and reads the outcome:")
        pipeline.follow(change_id, started["flow_run_id"], past="review-")
    if _state(change_id) == "awaiting_approval":
        say(f"5. the deploy request: {SAMPLE_AUTHOR} (the author, an engineer too) and "
            f"{DEMO_ENGINEER} (an engineer) click Approve in Slack:")  # fmt: skip
        play_engineers(
            gateway, change_id, author=SAMPLE_AUTHOR, engineer=DEMO_ENGINEER, quiet=as_json
        )
        pipeline.follow(change_id, started["flow_run_id"], past="approval-")
        if _state(change_id) == "deployed":
            import promptloop

            served = promptloop.get_prompt(SAMPLE_PROMPT)
            say(f"6. deployed: promptloop.get_prompt({SAMPLE_PROMPT!r}) now returns "
                f"v{served.version}")  # fmt: skip
    _finish(change_id, played=played, written=written, as_json=as_json)


def _finish(change_id: int, *, played: list[Any], written: Any, as_json: bool) -> None:
    """Where the demo's change stands: its whole history, or one JSON document."""
    with session_scope() as session:
        view = change_view(session, change_id=change_id)
    view["demo_votes"] = played
    judges = _judge_statuses()
    if as_json:
        emit_json({"sample_written": written, "change": view, "judges": judges})
        return
    from promptloop.cli.change import show

    show(change_id)
    verdict = current_verdict(view["history"])
    runs: dict[str, Any] = verdict["payload"] if verdict else {}
    if view["state"] in ("changes_requested", "eval_failed"):
        out.print(
            f"\nthe change went back to its author ({SAMPLE_AUTHOR}): a better candidate goes in "
            f"with `promptloop change revise {change_id} --file FILE --as {SAMPLE_AUTHOR}`; "
            "`promptloop demo --fresh` starts the loop over."
        )
    for line in judges:
        out.print(f"\n{line} (`promptloop judge report {line.split()[1]}`)")
    if runs.get("candidate_run"):
        out.print(
            f"\nnext: `promptloop eval compare {runs.get('baseline_run')} {runs['candidate_run']}` "
            "for the paired scorecard (also in the Prefect UI, as artifacts of the flow run); "
            "`promptloop serve stop` and `promptloop server stop` stop what the demo started."
        )


def _judge_statuses() -> list[str]:
    """The sample's LLM judge, said plainly: trusted or not, and why."""
    from roles.calibration.status import judge_statuses, plain_status
    from roles.registry import resolve

    with session_scope() as session:
        suite = resolve(session, name=SAMPLE_PROMPT).suite
        return [plain_status(j, r) for j, r in judge_statuses(session, suite=suite)]
