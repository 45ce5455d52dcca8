"""The messages people see in Slack, as pure functions from plain records to Block Kit.

    >>> item = ReviewItemView(sample_id=7, item_id="t-1", position=1, total=10,
    ...                       input="Where is my order?", expected="shipping",
    ...                       output="shipping", baseline="billing")
    >>> review_item(item).as_json()[-1]["elements"][0]["value"]
    '7'

Text from a model or a user is escaped and cut (``integrations.slack.text``); a cut field
gets a "Show full" button that opens the whole text in a modal (``views.full_text``).
**Blind review**: an item's message shows no judge verdict, scorer result, vote split or
reason it was sampled while it is open, only how many experts have voted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from integrations.slack import ids
from integrations.slack.message import SlackMessage
from integrations.slack.text import Clipped, clip, code, escape, link, mention, shorten

# Characters of untrusted text per field (a section holds 3000); together well under 11k.
LIMITS = {
    "input": 2000,
    "expected": 1500,
    "output": 2800,
    "baseline": 2800,
    "diff": 2800,
    "note": 1000,
}


@dataclass(frozen=True)
class ReviewSummary:
    change_id: int
    prompt: str
    author: str
    author_slack_id: str | None
    note: str | None
    headline: str  # the scorecard in one line, e.g. "accuracy 0.82 → 0.88 (+0.06, p=0.03)"
    items: int
    run_url: str | None = None
    deadline: str | None = None  # as people read it: "2026-12-04 10:00 UTC"
    review_id: int | None = None  # keys its messages apart from an earlier review's
    plan: str | None = None  # what the review estimates, and the labels it needs
    estimate: str | None = None  # the estimate so far (after a look asked for more)


@dataclass(frozen=True)
class ReviewItemView:
    sample_id: int  # the only thing a button carries
    item_id: str
    position: int
    total: int
    input: str
    expected: str | None
    output: str
    baseline: str | None = None  # shown only when it differs from the candidate's
    voters: int = 0  # how many experts voted on it: never the split while open
    closed: str | None = None  # when closed, its outcome ("passed 2–1")
    pick: bool = False  # picked for learning: never counted in the estimate


@dataclass(frozen=True)
class DeployRequestView:
    change_id: int
    prompt: str
    author: str
    author_slack_id: str | None
    from_version: int | None
    to_version: int
    scorecard: Sequence[str]  # one line per metric
    review_outcome: str  # "9 of 10 items passed by 3 experts"
    diff: str
    judge_status: str = "not calibrated"
    run_url: str | None = None
    approvals: int = 0
    approvals_needed: int = 1
    decided: str | None = None  # once decided: "deployed by sam …" in place of the buttons
    gate: str | None = None  # the gate's flag: "inconclusive — approval needs an override reason"
    needs_override_reason: bool = False  # Approve then asks for the reason (a modal)
    override: str | None = None  # "sam overrode the gate: <reason>"
    can_roll_back: bool = False  # deployed, and what it deployed is production still


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)  # verbatim: no auto-linking of URLs


def _button(
    label: str,
    action_id: str,
    target_id: int,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    """A button whose value is only the id of what it acts on."""
    return ButtonElement(
        text=label, action_id=action_id, value=str(target_id), style=style, confirm=confirm
    )


def _field_section(label: str, field: str, text: str, target_id: int) -> SectionBlock:
    """``*label*`` over the text as code, cut to its limit with a "Show full" button."""
    body: Clipped = code(text, LIMITS[field] + 8)
    accessory = _button("Show full", ids.show_full_action(field), target_id) if body.cut else None
    return SectionBlock(text=_mrkdwn(f"*{label}*\n{body.text}"), accessory=accessory)


def review_parent(summary: ReviewSummary, *, voted_items: int = 0) -> SlackMessage:
    """The one message per review; the sampled items are replies in its thread."""
    fields = [
        _mrkdwn(f"*Prompt*\n{escape(summary.prompt)}"),
        _mrkdwn(f"*Author*\n{mention(summary.author_slack_id, summary.author)}"),
        _mrkdwn(f"*Change*\n#{summary.change_id}"),
        _mrkdwn(f"*Items*\n{voted_items}/{summary.items} voted"),
    ]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=shorten(f"Review: {summary.prompt}", 150))),
        SectionBlock(fields=fields),
        SectionBlock(text=_mrkdwn(f"*Scorecard*  {clip(summary.headline, 1000).text}")),
    ]
    if summary.note:
        blocks.append(
            SectionBlock(text=_mrkdwn(f"*Note*\n{clip(summary.note, LIMITS['note']).text}"))
        )
    for title, line in (("Review", summary.plan), ("So far", summary.estimate)):
        if line:
            blocks.append(SectionBlock(text=_mrkdwn(f"*{title}*  {clip(line, 1000).text}")))
    context = [_mrkdwn(link(summary.run_url, "Prefect run"))]
    if summary.deadline:
        context.append(_mrkdwn(f"deadline {escape(summary.deadline)}"))
    blocks.append(ContextBlock(elements=context))
    text = (
        f"Review requested: {summary.prompt} (change #{summary.change_id}, {summary.items} items)"
    )
    return SlackMessage(text=text, blocks=blocks)


def review_item(item: ReviewItemView) -> SlackMessage:
    """One sampled item: input, expected, the candidate's output (and the baseline's if it
    differs), Pass/Fail while open. Nothing that would tell an expert what others think."""
    sid = item.sample_id
    blocks: list[Block] = [
        SectionBlock(
            text=_mrkdwn(
                f"*Item {item.position} of {item.total}*  `{escape(item.item_id)}`"
                + ("  _(picked for learning: not counted in the estimate)_" if item.pick else "")
            )
        ),
        _field_section("Input", "input", item.input, sid),
    ]
    if item.expected is not None:
        blocks.append(_field_section("Expected", "expected", item.expected, sid))
    blocks.append(_field_section("Candidate's output", "output", item.output, sid))
    if item.baseline is not None and item.baseline != item.output:
        blocks.append(_field_section("Production's output", "baseline", item.baseline, sid))
    if item.closed is None:
        voted = f"{item.voters} expert{'s' if item.voters != 1 else ''} voted"
        blocks += [
            ContextBlock(elements=[_mrkdwn(voted)]),
            ActionsBlock(
                elements=[
                    _button("Pass", ids.REVIEW_PASS, sid, "primary"),
                    _button("Fail", ids.REVIEW_FAIL, sid, "danger"),
                ]
            ),
        ]
    else:
        blocks.append(ContextBlock(elements=[_mrkdwn(f"Closed: {escape(item.closed)}")]))
    return SlackMessage(text=f"Item {item.position} of {item.total} to review", blocks=blocks)


def deploy_request(request: DeployRequestView) -> SlackMessage:
    """What an engineer needs to approve or reject a deploy, with the two buttons."""
    base = f"v{request.from_version}" if request.from_version is not None else "nothing"
    title = f"Deploy {request.prompt}: {base} → v{request.to_version}"
    cid = request.change_id
    approve_confirm = ConfirmObject(
        title="Deploy to production?",
        text=f"The production label moves to v{request.to_version}.",
        confirm="Deploy",
        deny="Cancel",
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=shorten(title, 150))),
        SectionBlock(
            fields=[
                _mrkdwn(f"*Author*\n{mention(request.author_slack_id, request.author)}"),
                _mrkdwn(f"*Change*\n#{cid}"),
                _mrkdwn(f"*Review*\n{clip(request.review_outcome, 500).text}"),
                _mrkdwn(f"*LLM judge*\n{escape(request.judge_status)}"),
            ]
        ),
        SectionBlock(text=_mrkdwn(f"*Scorecard*\n{_lines(request.scorecard)}")),
        *_flags(request),
        _field_section("Diff", "diff", request.diff, cid),
        ContextBlock(
            elements=[
                _mrkdwn(link(request.run_url, "Prefect run")),
                _mrkdwn(f"approvals {request.approvals}/{request.approvals_needed}"),
            ]
        ),
        DividerBlock(),
    ]
    if request.decided is None:
        approve = (
            _button("Approve with override…", ids.DEPLOY_APPROVE, cid, "primary")
            if request.needs_override_reason  # the reason's modal is the confirmation
            else _button("Approve", ids.DEPLOY_APPROVE, cid, "primary", confirm=approve_confirm)
        )
        blocks.append(
            ActionsBlock(elements=[approve, _button("Reject", ids.DEPLOY_REJECT, cid, "danger")])
        )
    else:
        blocks.append(ContextBlock(elements=[_mrkdwn(escape(shorten(request.decided, 1000)))]))
    if request.can_roll_back:
        back = (
            f"v{request.from_version}"
            if request.from_version is not None
            else "the previous version"
        )
        rollback_confirm = ConfirmObject(
            title="Roll production back?",
            text=f"The production label moves from v{request.to_version} back to {back}.",
            confirm="Roll back",
            deny="Cancel",
        )
        blocks.append(
            ActionsBlock(
                elements=[_button("Rollback", ids.DEPLOY_ROLLBACK, cid, "danger", rollback_confirm)]
            )
        )
    return SlackMessage(text=f"Deploy request: {title} (change #{cid})", blocks=blocks)


def _flags(request: DeployRequestView) -> list[Block]:
    """The gate's flag and the override, where an engineer cannot miss them."""
    flags = [(":warning: *Gate*", request.gate), (":rotating_light: *Override*", request.override)]
    return [
        SectionBlock(text=_mrkdwn(f"{label}  {clip(text, 1500).text}"))
        for label, text in flags
        if text
    ]


def notice(title: str, lines: Sequence[str], *, run_url: str | None = None) -> SlackMessage:
    """A short notice: what happened to a change, and why (lines escaped and cut)."""
    blocks: list[Block] = [SectionBlock(text=_mrkdwn(f"*{escape(shorten(title, 300))}*"))]
    if lines:
        blocks.append(SectionBlock(text=_mrkdwn(_lines(lines))))
    if run_url:
        blocks.append(ContextBlock(elements=[_mrkdwn(link(run_url, "Prefect run"))]))
    return SlackMessage(text=title, blocks=blocks)


def _lines(lines: Sequence[str]) -> str:
    """Bulleted, escaped, cut to fit one section."""
    if not lines:
        return "no metrics"
    return clip("\n".join(f"• {line}" for line in lines), 2800).text
