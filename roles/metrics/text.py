"""The report as people read it: durations in words, a markdown page (the weekly artifact
in the Prefect UI) and a few lines (the weekly Slack digest). Plain text; whoever shows
it escapes it for its medium."""

from __future__ import annotations

from roles.metrics.report import HandoffMetrics
from roles.metrics.stays import Durations


def span(seconds: float | None) -> str:
    """``45s``, ``12m``, ``3.5h``, ``2.0d``; ``-`` for nothing."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def spread(d: Durations) -> str:
    """``median 3.0h, p90 5.2h (n=4)``, or ``none (n=0)``."""
    if d.n == 0:
        return "none (n=0)"
    return f"median {span(d.median_s)}, p90 {span(d.p90_s)} (n={d.n})"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def period(report: HandoffMetrics) -> str:
    start = report.since[:16].replace("T", " ") if report.since else "the start"
    what = f" for {report.prompt}" if report.prompt else ""
    return f"{start} → {report.until[:16].replace('T', ' ')} UTC{what}"


def who(role: str, person: str | None) -> str:
    """``author (maya)``, ``any expert``, or ``nobody`` (a change nothing will evaluate)."""
    if person:
        return f"{role} ({person})"
    return role if role == "nobody" else f"any {role}"


def digest_lines(report: HandoffMetrics) -> list[str]:
    """The headline numbers, one per line (the Slack digest)."""
    c, f, s = report.changes, report.change_failure, report.sent_back
    waiting = [st for st in report.states if st.waiting_now]
    top = report.holders[0] if report.holders else None
    lines = [
        f"{c.active} change{'s' if c.active != 1 else ''} moved ({c.total} in all); waiting now: "
        + (", ".join(f"{st.state} {st.waiting_now}" for st in waiting) or "none"),
        f"lead time submit → deployed: {spread(report.lead_time)}",
        f"approval wait: {spread(report.approval_wait)}",
        f"change failure rate: {percent(f.rate)} ({f.failed} of {f.deploys} deploys)",
        f"sent back: {percent(s.share)} ({s.sent_back} of {s.changes} changes)"
        + (
            "; top reasons: " + ", ".join(f"{r.category} ×{r.count}" for r in s.reasons[:3])
            if s.reasons
            else ""
        ),
    ]
    if top is not None:
        lines.append(
            f"holding the most: {who(top.role, top.person)}, {top.holding_now} now "
            f"(longest {span(top.longest_wait_s)}), {span(top.held_s)} held in the period"
        )
    slow = [t for t in report.review_turnaround if t.turnaround.n]
    if slow:
        lines.append(
            "review turnaround: "
            + ", ".join(
                f"{t.expert} {span(t.turnaround.median_s)} (n={t.turnaround.n})" for t in slow
            )
        )
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    clean = [[cell.replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in clean),
    ]


def digest_markdown(report: HandoffMetrics, *, title: str) -> str:
    """The whole report as one markdown page."""
    out = [f"# {title}", "", f"_{period(report)}_", ""]
    out += [f"- {line}" for line in digest_lines(report)] + ["", "## Time in each state", ""]
    out += _table(
        ["state", "held by", "waiting now", "oldest", "median", "p90", "n"],
        [
            [st.state, st.holder, str(st.waiting_now), span(st.oldest_wait_s),
             span(st.time_in_state.median_s), span(st.time_in_state.p90_s),
             str(st.time_in_state.n)]
            for st in report.states
        ],
    )  # fmt: skip
    out += ["", "## Who holds the changes", ""]
    out += _table(
        ["who", "holding now", "longest wait", "held in the period"],
        [
            [who(h.role, h.person), str(h.holding_now), span(h.longest_wait_s), span(h.held_s)]
            for h in report.holders
        ],
    )
    out += ["", "## Why changes were sent back", ""]
    out += _table(
        ["sent to", "reason", "times", "what was said"],
        [
            [r.kind, r.category, str(r.count), "; ".join(r.examples)]
            for r in report.sent_back.reasons
        ],
    ) if report.sent_back.reasons else ["none"]  # fmt: skip
    if report.change_failure.failures:
        out += ["", "## Failed deploys", ""]
        out += [f"- change {x.change_id}: {x.why}" for x in report.change_failure.failures]
    return "\n".join(out) + "\n"
