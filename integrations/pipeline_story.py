"""What a change's pipeline run tells a person in the Prefect UI, read from the ledger alone.

    story = story_of(session, change_id=7)
    story.run_name   # "support-triage-change-7" in flight, "support-triage-change-7: rolled back" after
    story.headline   # the state message: "gate passed; awaiting expert review: 4/10 items ..."
    story.markdown   # the pinned artifact: the change, the gate's verdict, the wait, the history

The run's name, its state message and its pinned artifact (one key per change, a new
version each time) are rewritten from this whenever the change moves: by the run itself,
by serve's reconciler while it waits, and by ``integrations.pipeline_runs.retell`` after
a later action (a rollback, a withdrawal) changed how the change ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from roles.states import State

# How a finished change reads after its run's name (lowercase: it ends a sentence).
ENDINGS = {
    State.EVAL_FAILED.value: "eval failed",
    State.CHANGES_REQUESTED.value: "changes requested",
    State.DEPLOYED.value: "deployed",
    State.REJECTED.value: "rejected",
    State.WITHDRAWN.value: "withdrawn",
    State.ROLLED_BACK.value: "rolled back",
}
MESSAGE_LIMIT = 900  # Prefect shows a state message in one line; the artifact has the rest


@dataclass(frozen=True)
class Story:
    change_id: int
    prompt: str
    state: str
    flow_run_id: str | None
    run_name: str
    outcome: str | None  # the final state's name ("Eval failed", "Rolled back"), when done
    headline: str
    markdown: str


def base_name(prompt: str | None, change_id: int) -> str:
    """The run's name while the change is in flight (as ``change submit`` names it)."""
    return f"{prompt or 'prompt'}-change-{change_id}"


def gate_said(verdict: dict[str, Any] | None) -> str | None:
    """The gate's verdict in a few words: ``gate passed``, ``gate failed: FAIL: …``."""
    if verdict is None:
        return None
    reasons = [str(r) for r in (verdict.get("payload") or {}).get("reasons", [])]
    if verdict["to_state"] == State.EVAL_FAILED.value:
        failures = [r for r in reasons if r.startswith("FAIL")] or reasons
        return "gate failed: " + "; ".join(failures) if failures else "gate failed"
    flags = [r for r in reasons if r.startswith("INCONCLUSIVE")]
    if flags:
        return f"gate inconclusive ({len(flags)} flag{'s' if len(flags) != 1 else ''}), in review flagged"
    return "gate passed"


def story_of(session: Session, *, change_id: int) -> Story:
    from roles.changes import change_view, current_verdict
    from roles.pipeline import OUTCOMES, next_step

    view = change_view(session, change_id=change_id)
    history = view["history"] or []
    step = next_step(session, change_id=change_id)
    gate = gate_said(current_verdict(history))
    state = view["state"]
    done = step.stage == "done" and state in ENDINGS
    ending = ENDINGS.get(state)
    name = base_name(view["prompt"], change_id)
    last = history[-1] if history else None
    if done:
        after = f"{ending}" + (f" by {last['actor']}: {last['note']}" if last and last["note"] else "")
        parts = [gate, after] if gate and state != State.EVAL_FAILED.value else [after]
    elif step.stage == "evaluate":
        error = view["evaluation_error"]
        parts = [f"evaluating; {error['message']}" if error else "evaluating"]
    else:
        parts = [gate, step.message] if gate else [step.message]
    headline = "; ".join(p for p in parts if p)[:MESSAGE_LIMIT]
    outcome = None
    if done:
        outcome = OUTCOMES.get(state) or (ending or state).capitalize()
    return Story(
        change_id=change_id,
        prompt=view["prompt"],
        state=state,
        flow_run_id=view["flow_run_id"],
        run_name=f"{name}: {ending}" if done else name,
        outcome=outcome,
        headline=headline,
        markdown=_markdown(view, gate=gate, step_message=step.message, headline=headline),
    )


def _markdown(view: dict[str, Any], *, gate: str | None, step_message: str, headline: str) -> str:
    candidate = f"v{view['candidate_version']}"
    base = f"v{view['base_version']}" if view["base_version"] else "no production version"
    lines = [
        f"# Change {view['id']}: {view['prompt']} {candidate} (against {base})",
        "",
        f"**Now:** {view['state']} — {headline or step_message}",
        "",
        f"**Author:** {view['author']} · **holds it:** {view['holder']}",
        "",
        f"**The gate:** {gate or 'not concluded yet'}",
    ]
    verdict_reasons = _reasons(view)
    if verdict_reasons:
        lines += ["", *[f"- {_cell(r)}" for r in verdict_reasons]]
    if view["evaluation_error"]:
        error = view["evaluation_error"]
        lines += ["", f"**Evaluation error ({error['kind']}):** {_cell(error['message'])}"]
    lines += ["", "| at (UTC) | from | to | who | note |", "| --- | --- | --- | --- | --- |"]
    for handoff in view["history"] or []:
        lines.append(
            f"| {handoff['at'][:19].replace('T', ' ')} | {handoff['from_state'] or ''} "
            f"| {handoff['to_state']} | {handoff['actor']} ({handoff['role']}) "
            f"| {_cell(handoff['note'] or '')} |"
        )
    lines += ["", f"`promptloop change show {view['id']}` tells the same from the ledger."]
    return "\n".join(lines)


def _reasons(view: dict[str, Any]) -> list[str]:
    from roles.changes import current_verdict

    verdict = current_verdict(view["history"] or [])
    if verdict is None:
        return []
    return [str(r) for r in (verdict.get("payload") or {}).get("reasons", [])]


def _cell(text: str) -> str:
    """Text inside one markdown table cell or list item: no pipes or newlines."""
    return " ".join(text.replace("|", "\\|").split())[:500]
