"""``promptloop change``: submit, show, list, revise and withdraw change requests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import (
    ActorOpt,
    JsonOpt,
    NoteOpt,
    PromptFilterOpt,
    read_prompt_doc,
    read_prompt_spec,
)
from promptloop.cli.output import ago, emit_json, out, say, styled, table
from roles.changes import change_view, current_verdict, list_changes
from roles.errors import InputError, PolicyError
from roles.pm import expect_evaluation

app = typer.Typer(
    help="Change requests: a prompt change travelling through the loop.", no_args_is_help=True
)

FileOpt = Annotated[Path, typer.Option("--file", "-f", help="The prompt file with the change.")]
WaitOpt = Annotated[
    bool,
    typer.Option("--wait", help="Follow the pipeline run until it waits for people or ends."),
]
NoEvalOpt = Annotated[bool, typer.Option("--no-eval", help="Do not start the evaluation now.")]


def start_evaluation(
    change_id: int, prompt: str, *, wait: bool, skip: bool, force: bool = False, asked: bool = False
) -> dict[str, Any]:
    """Start the change's pipeline run (through `promptloop serve`); with --wait, follow it
    until it waits for people or ends. ``asked``: `change evaluate`, which starts it whatever
    PROMPTLOOP_AUTO_EVALUATE says."""
    if not asked and _not_evaluated(wait=wait, skip=skip):
        return {"evaluation": "not started"}
    from promptloop.cli import pipeline

    started = pipeline.start(change_id, prompt, force=force)
    if not wait:
        say(f"follow it with `promptloop change show {change_id}` or in the Prefect UI")
        return started
    state = pipeline.follow(change_id, started["flow_run_id"])
    return {**started, "evaluation": "finished", "state_after_evaluation": state}


def print_verdict(view: dict[str, Any]) -> None:
    """Print the current candidate's verdict, its plain summary first, and every reason, if
    its evaluation concluded."""
    verdict = current_verdict(view["history"])
    if verdict and verdict["payload"].get("summary"):
        out.print(styled((verdict["payload"]["summary"], "bold")))
    if verdict and verdict["payload"].get("reasons"):
        colour = "green" if verdict["to_state"] == "in_review" else "red"
        flagged = verdict["payload"].get("outcome") == "inconclusive"
        colour = "yellow" if flagged and colour == "green" else colour
        if flagged:
            word = " (gate INCONCLUSIVE: the reviewers see the flags)"
        else:
            word = " (gate PASS)" if verdict["to_state"] == "in_review" else " (gate FAIL)"
        if view.get("state") and view["state"] != verdict["to_state"]:
            word += f"; the change has moved on since: it is {view['state']}"
        out.print(styled((f"evaluation: {verdict['to_state']}{word}", f"bold {colour}")))
        for reason in verdict["payload"]["reasons"]:
            out.print(f"  {reason}")


def _evaluate_and_report(
    view: dict[str, Any],
    *,
    wait: bool,
    skip: bool,
    as_json: bool,
    force: bool = False,
    asked: bool = False,
) -> dict[str, Any]:
    """Start (or run, with --wait) the evaluation; print JSON; return the fresh view."""
    extra = start_evaluation(
        view["id"], view["prompt"], wait=wait, skip=skip, force=force, asked=asked
    )
    if wait:
        with session_scope() as session:
            full = change_view(session, change_id=view["id"])
        view = {k: v for k, v in full.items() if k not in ("history", "seconds_in_state")}
        verdict = current_verdict(full["history"])
        extra["reasons"] = verdict["payload"].get("reasons", []) if verdict else []
        extra["summary"] = verdict["payload"].get("summary") if verdict else None
        if not as_json:
            print_verdict(full)
            if full["state"] in ("submitted", "evaluating"):
                say(
                    f"change {full['id']} is still {full['state']}: the evaluation did not finish; "
                    f"resume with `promptloop change evaluate {full['id']} --wait`"
                )
    if as_json:
        emit_json({**view, **extra})
    return view


@app.command("submit")
def submit(
    file: FileOpt,
    actor: ActorOpt,
    note: NoteOpt = None,
    wait: WaitOpt = False,
    no_eval: NoEvalOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Propose FILE as the prompt's next production version (pm or expert); evaluation starts."""
    if wait and no_eval:
        raise InputError("--wait and --no-eval contradict each other; give one of them")
    from integrations.actions.changes import submit as submit_change
    from integrations.actions.door import Door
    from roles.calibration.labels import label_warnings
    from roles.prompt_file import parse_prompt_doc

    doc = read_prompt_doc(file)
    change = submit_change(
        Door.cli(actor), doc=doc, note=note, not_evaluated=_not_evaluated(wait=wait, skip=no_eval)
    )
    with session_scope() as session:
        view = change_view(session, change_id=change.id or 0, with_history=False)
        warnings = label_warnings(session, spec=parse_prompt_doc(doc))
    for warning in warnings:  # as `prompt push` says them: the change is made all the same
        say(f"warning: {warning}")
    if not as_json:
        say(
            f"change {view['id']} submitted: {view['prompt']} v{view['base_version'] or '-'} → "
            f"v{view['candidate_version']} ({view['state']})"
        )
    _evaluate_and_report(view, wait=wait, skip=no_eval, as_json=as_json)


@app.command("show")
def show(change_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False) -> None:
    """State, versions and the whole handoff history with time spent in each state."""
    from roles.next_hint import next_hints

    with session_scope() as session:
        view = change_view(session, change_id=change_id)
        hints = [] if as_json else next_hints(session, change_id=change_id)
    if as_json:
        emit_json(view)
        return
    out.print(
        styled(
            (f"change {view['id']}", "bold"),
            f"  {view['prompt']}  v{view['base_version'] or '-'} → "
            f"v{view['candidate_version']}  by {view['author']}",
        )
    )
    out.print(styled("state: ", (view["state"], "bold"), f"  (held by: {_held_by(view)})"))
    if view["note"]:
        out.print(f"note: {view['note']}")
    table(
        "history",
        ["at", "from", "to", "actor", "role", "note"],
        [
            [
                h["at"][:19].replace("T", " "),
                h["from_state"] or "-",
                h["to_state"],
                h["actor"],
                h["role"],
                _short(h["note"]),
            ]
            for h in view["history"]
        ],
    )
    table(
        "time in state",
        ["state", "time"],
        [[k, ago(v)] for k, v in view["seconds_in_state"].items()],
    )
    print_verdict(view)
    verdict = current_verdict(view["history"])
    runs = (verdict or {}).get("payload") or {}
    if runs.get("candidate_run"):
        baseline = f"baseline eval run {runs['baseline_run']}, " if runs.get("baseline_run") else ""
        out.print(
            f"{baseline}candidate eval run {runs['candidate_run']} (`promptloop eval show RUN`)"
        )
    if view["state"] == "awaiting_approval":
        from roles.engineer import approval_progress

        with session_scope() as session:
            approvals, needed = approval_progress(session, change_id=view["id"])
        # who may decide it, and how, is the `next:` line (an inconclusive gate may allow
        # no approval at all)
        out.print(f"awaiting approval ({approvals}/{needed})")
    if view["state"] == "in_review":
        from roles.expert import current_review, review_progress

        with session_scope() as session:
            review = current_review(session, change_id=view["id"])
            if review is not None and review.id is not None:
                waiting = review_progress(session, review_id=review.id).waiting_message()
                out.print(f"review {review.id}: {waiting} (`promptloop review list`)")
    last = view["history"][-1] if view["history"] else None
    if (
        last
        and last["note"]
        and len(last["note"]) > NOTE_WIDTH
        and last["to_state"] != ((verdict or {}).get("to_state"))
    ):
        out.print(f"last handoff ({last['to_state']}): {last['note']}")  # in full
    error = view.get("evaluation_error")
    if error and view["state"] in ("submitted", "evaluating"):
        what = "the evaluation could not run" + (
            " (an outage)" if error["kind"] == "outage" else ""
        )
        log = f"; log: {error['log']}" if error.get("log") else ""
        out.print(
            styled(
                (what, "red"),
                f" ({error['at']}): {error['message']}{log}; "
                f"retry with `promptloop change evaluate {view['id']}`",
            )
        )
    for d in view.get("decisions", []):
        where = f"{d['source']}" + (f", {d['os_user']}@{d['host']}" if d.get("os_user") else "")
        what = {"approve": "approved", "reject": "rejected", "refused": "refused"}[d["decision"]]
        flag = " (OVERRIDE of an inconclusive gate)" if d["override"] else ""
        reason = f": {d['reason']}" if d.get("reason") else ""
        out.print(f"{what}{flag}: {d['who']} at {d['at'][:16].replace('T', ' ')} ({where}){reason}")
    if view["flow_run_id"]:
        from integrations.prefect_server import recorded_url, ui_url

        api = os.environ.get("PREFECT_API_URL") or recorded_url()
        if api:
            out.print(f"Prefect flow run: {ui_url(api)}/runs/flow-run/{view['flow_run_id']}")
    for hint in hints:  # who acts now, and how
        out.print(f"next: {hint}")


def _held_by(view: dict[str, Any]) -> str:
    if view["holder"] != "nobody":
        return str(view["holder"])
    why = view.get("not_evaluated")
    return f"nobody: not evaluated ({why}); run `promptloop change evaluate {view['id']}`"


def _not_evaluated(*, wait: bool, skip: bool) -> str | None:
    """Why no evaluation starts with this command, if none does."""
    from integrations.settings import get_settings

    if skip:
        return "--no-eval"
    if not wait and not get_settings().auto_evaluate:
        return "PROMPTLOOP_AUTO_EVALUATE=false"
    return None


NOTE_WIDTH = 70  # a note longer than this is cut in the history table


def _short(text: str | None, limit: int = NOTE_WIDTH) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


@app.command("list")
def list_(
    state: Annotated[
        str | None, typer.Option("--state", help="Only changes in this state.")
    ] = None,
    prompt: PromptFilterOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A table of change requests: id, prompt, author, state, who holds it, age."""
    with session_scope() as session:
        rows: list[dict[str, Any]] = list_changes(session, state=state, prompt=prompt)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("no changes match")
        return
    table(
        None,
        ["id", "prompt", "author", "state", "held by", "age"],
        [
            [r["id"], r["prompt"], r["author"], r["state"], r["holder"], ago(r["age_s"])]
            for r in rows
        ],
    )


@app.command("revise")
def revise(
    change_id: Annotated[int, typer.Argument(metavar="ID")],
    file: FileOpt,
    actor: ActorOpt,
    note: NoteOpt = None,
    wait: WaitOpt = False,
    no_eval: NoEvalOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A new candidate for a change sent back (eval_failed or changes_requested); author only."""
    if wait and no_eval:
        raise InputError("--wait and --no-eval contradict each other; give one of them")
    from integrations.actions.changes import revise as revise_change
    from integrations.actions.door import Door

    spec = read_prompt_spec(file)
    revise_change(
        Door.cli(actor), change_id=change_id, spec=spec, note=note,
        not_evaluated=_not_evaluated(wait=wait, skip=no_eval),
    )  # fmt: skip
    with session_scope() as session:
        view = change_view(session, change_id=change_id, with_history=False)
    if not as_json:
        say(
            f"change {change_id} revised: candidate v{view['candidate_version']}, back to {view['state']}"
        )
    _evaluate_and_report(view, wait=wait, skip=no_eval, as_json=as_json)


@app.command("withdraw")
def withdraw(
    change_id: Annotated[int, typer.Argument(metavar="ID")],
    actor: ActorOpt,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason", "--note", help="Why (kept with the handoff; required of an admin)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw your own open change; an admin may close anyone's, giving --reason."""
    from integrations.actions.changes import withdraw as withdraw_change
    from integrations.actions.door import Door

    withdraw_change(Door.cli(actor), change_id=change_id, reason=reason)
    with session_scope() as session:
        view = change_view(session, change_id=change_id, with_history=False)
    if as_json:
        emit_json(view)
    else:
        say(f"change {change_id} withdrawn")


@app.command("evaluate")
def evaluate(
    change_id: Annotated[int, typer.Argument(metavar="ID")],
    wait: WaitOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Even if Prefect shows another run working on it.")
    ] = False,
    actor: Annotated[
        str | None,
        typer.Option("--as", help="Your handle (the author, for an eval_failed change)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """(Re)start the evaluation of a submitted or evaluating change, e.g. after an outage.

    An eval_failed change whose verdict came from an outage (its runs are marked so) is
    evaluated again too, when its author asks (--as).
    """
    from roles.evaluation.change import prepare_reevaluation

    with session_scope() as session:
        prepare_reevaluation(session, change_id=change_id, actor=actor)
        view = change_view(session, change_id=change_id, with_history=False)
        expect_evaluation(session, change_id=change_id)
    view = _evaluate_and_report(
        view, wait=wait, skip=False, as_json=as_json, force=force, asked=True
    )
    if wait and not as_json:
        say(f"change {change_id}: {view['state']}")


@app.command("resume")
def resume(
    change_id: Annotated[int, typer.Argument(metavar="ID")],
    wait: WaitOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Give an open change its pipeline run again: one from before `promptloop serve`, or
    one whose run was lost. A run waiting for people is only woken (it re-reads the ledger)."""
    from promptloop.cli import pipeline
    from roles.states import OPEN_STATES

    with session_scope() as session:
        view = change_view(session, change_id=change_id, with_history=False)
    if view["state"] not in {s.value for s in OPEN_STATES}:
        raise PolicyError(f"change {change_id} is {view['state']}: its pipeline is over")
    started = pipeline.resume(change_id, view["prompt"])
    if wait:
        started["state"] = pipeline.follow(change_id, started["flow_run_id"])
    if as_json:
        emit_json({**view, **started})
    else:
        say(f"change {change_id}: {started.get('state', view['state'])}")


def _decisions() -> None:
    from promptloop.cli import decisions

    app.command("approve")(decisions.approve)
    app.command("reject")(decisions.reject)


_decisions()
