"""``promptloop metrics``: the team's handoff metrics, read from the ledger.

promptloop metrics                          # the whole ledger
promptloop metrics --since 7d --prompt support-triage
promptloop metrics --since 2026-03-02 --json
"""

from __future__ import annotations

from typing import Annotated

import typer

from promptloop.cli.common import JsonOpt, PromptFilterOpt
from promptloop.cli.output import emit_json, out, say, table
from roles.metrics.report import HandoffMetrics


def metrics(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From this date or time (UTC), or this long ago: 2026-03-02, 7d, 36h."
        ),
    ] = None,
    prompt: PromptFilterOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's handoff numbers, read from the ledger.

    Time in each state, who holds the changes, lead time, review turnaround, approval
    wait, change failure rate, and the share of changes sent back and why."""
    from integrations.db import session_scope
    from roles.clock import utcnow
    from roles.metrics import handoff_metrics, parse_since

    now = utcnow()
    start = parse_since(since, now=now) if since is not None else None
    with session_scope() as session:
        report = handoff_metrics(session, since=start, prompt=prompt, now=now)
    if as_json:
        emit_json(report.as_dict())
        return
    if report.changes.total == 0:
        say("no changes yet" + (f" to {prompt}" if prompt else "") + ": nothing to measure")
        return
    show(report)


def show(report: HandoffMetrics) -> None:
    from roles.metrics.text import digest_lines, percent, period, span, who

    out.print(f"Handoff metrics, {period(report)}")
    for line in digest_lines(report):
        out.print(f"  {line}")
    table(
        "Time in each state (stays that ended in the period)",
        ["state", "held by", "waiting now", "oldest", "median", "p90", "n"],
        [
            [s.state, s.holder, s.waiting_now, span(s.oldest_wait_s),
             span(s.time_in_state.median_s), span(s.time_in_state.p90_s), s.time_in_state.n]
            for s in report.states
        ],
    )  # fmt: skip
    if report.holders:
        table(
            "Who holds the changes",
            ["who", "holding now", "longest wait", "held in the period"],
            [
                [who(h.role, h.person), h.holding_now, span(h.longest_wait_s), span(h.held_s)]
                for h in report.holders
            ],
        )
    if report.review_turnaround:
        table(
            "Review turnaround (review opened → the expert's last vote on it)",
            ["expert", "median", "p90", "n"],
            [
                [t.expert, span(t.turnaround.median_s), span(t.turnaround.p90_s), t.turnaround.n]
                for t in report.review_turnaround
            ],
        )
    sent = report.sent_back
    if sent.reasons:
        table(
            f"Sent back: {percent(sent.share)} of {sent.changes} changes, and why",
            ["sent to", "reason", "times", "what was said"],
            [[r.kind, r.category, r.count, "; ".join(r.examples)] for r in sent.reasons],
        )
    for failure in report.change_failure.failures:
        out.print(f"failed deploy: change {failure.change_id} ({failure.why})")
