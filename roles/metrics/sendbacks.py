"""Why a change was sent back: the reasons its send-back handoff records, as categories.

- ``changes_requested``: the experts' fail categories (``wrong``, ``tone``, …) of the failed
  items, each once per review, or ``review expired``;
- ``eval_failed``: the gate's broken checks (``target correct``, ``guardrail latency_s``,
  ``limit``), or ``gate inconclusive`` (``on_inconclusive: fail``);
- ``rejected``: ``rejected by an engineer``, with the engineer's reason.
"""

from __future__ import annotations

from typing import Any

from roles.ledger import Handoff
from roles.states import State

SENT_BACK: tuple[str, ...] = (
    State.CHANGES_REQUESTED.value,
    State.EVAL_FAILED.value,
    State.REJECTED.value,
)


def reasons_of(handoff: Handoff) -> list[tuple[str, str | None]]:
    """(category, an example of what was said) for each distinct reason, in order."""
    payload: dict[str, Any] = handoff.payload or {}
    found: dict[str, str | None] = {}
    if handoff.to_state == State.CHANGES_REQUESTED.value:
        if payload.get("outcome") == "expired":
            found["review expired"] = handoff.note
        for item in payload.get("failed_items") or []:
            for fail in item.get("fails") or []:
                found.setdefault(str(fail.get("category") or "fail"), fail.get("reason"))
        if not found:
            found["review failed"] = handoff.note
    elif handoff.to_state == State.EVAL_FAILED.value:
        for check in payload.get("failed_checks") or []:
            found.setdefault(str(check.get("check") or "gate"), check.get("reason"))
        if not found:
            fails = [r for r in payload.get("reasons") or [] if str(r).startswith("FAIL")]
            inconclusive = payload.get("outcome") == "inconclusive" and not fails
            found["gate inconclusive" if inconclusive else "gate failed"] = (
                fails[0] if fails else handoff.note
            )
    elif handoff.to_state == State.REJECTED.value:
        found["rejected by an engineer"] = handoff.note
    return list(found.items())
