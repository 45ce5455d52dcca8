"""``/promptloop status``: the member's open changes, read as ``change list`` reads them
(``roles.changes``), with what each waits for (``roles.pipeline.next_step``)."""

from __future__ import annotations

from typing import Any

from integrations.db import session_scope
from integrations.pipeline_runs import ui_link
from integrations.slack.submit_views import StatusLine, status_text
from roles.changes import list_changes
from roles.pipeline import next_step
from roles.roster import member_for_slack_user
from roles.states import OPEN_STATES

_OPEN = {s.value for s in OPEN_STATES}


def status_of(user_id: str) -> str:
    """The answer to ``/promptloop status`` from Slack user ``user_id`` (mrkdwn, escaped)."""
    with session_scope() as session:
        handle = member_for_slack_user(session, slack_user_id=user_id).handle
        mine = [v for v in list_changes(session) if v["author"] == handle and v["state"] in _OPEN]
        waits = {v["id"]: next_step(session, change_id=v["id"]).message for v in mine}
    return status_text(
        [
            StatusLine(
                change_id=v["id"],
                prompt=v["prompt"],
                base_version=v["base_version"],
                candidate_version=v["candidate_version"],
                state=v["state"],
                waits_for=waits_for(v, waits[v["id"]]),
                run_url=ui_link(v["flow_run_id"]) if v["flow_run_id"] else None,
            )
            for v in mine
        ]
    )


def waits_for(view: dict[str, Any], step: str) -> str:
    """What a change waits for, in the words of `change show`."""
    error = view.get("evaluation_error")
    if view["state"] in ("submitted", "evaluating") and error:
        return (
            f"its evaluation could not run ({error['message']}): "
            f"`promptloop change evaluate {view['id']}` retries it"
        )
    if view["holder"] == "nobody":
        return (
            f"not evaluated ({view['not_evaluated']}): "
            f"`promptloop change evaluate {view['id']}` starts it"
        )
    if view["holder"] == "author":
        return f"waits for you: {step}; `promptloop change revise {view['id']}` sends it again"
    who = "promptloop" if view["holder"] == "system" else f"an {view['holder']}"
    return f"waits for {who}: {step}"
