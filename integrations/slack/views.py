"""Modals: why an item failed, why a deploy is rejected or approved over its gate, and the
full text of a field that a message had to cut."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from integrations.slack import ids
from integrations.slack.text import escape, pieces, shorten

MAX_MODAL_BLOCKS = 100
_CHUNK = 2900  # escaped characters per section (a section holds 3000)


def fail_reason_modal(*, sample_id: int, categories: Sequence[str], item_id: str) -> View:
    """Opened by Fail: a category from the team's list and optional free text."""
    if not categories:
        raise ValueError("the fail-reason modal needs at least one category")
    options = [Option(text=shorten(c, 75), value=c[:150]) for c in categories[:100]]
    return View(
        type="modal",
        callback_id=ids.FAIL_REASON_VIEW,
        private_metadata=str(sample_id),
        title=PlainTextObject(text="Why does it fail?"),
        submit=PlainTextObject(text="Fail"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"Item `{escape(item_id)}`")),
            InputBlock(
                block_id=ids.FAIL_CATEGORY_BLOCK,
                label="Category",
                element=StaticSelectElement(action_id=ids.FAIL_CATEGORY_ACTION, options=options),
            ),
            InputBlock(
                block_id=ids.FAIL_TEXT_BLOCK,
                label="What is wrong",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ids.FAIL_TEXT_ACTION, multiline=True, max_length=3000
                ),
            ),
        ],
    )


def reject_reason_modal(*, change_id: int) -> View:
    """Opened by Reject: the reason the author will read (required)."""
    return _reason_modal(
        change_id,
        callback_id=ids.REJECT_REASON_VIEW,
        title="Reject the deploy",
        submit="Reject",
        intro=f"Change #{change_id}: the author reads why.",
        block_id=ids.REJECT_TEXT_BLOCK,
        action_id=ids.REJECT_TEXT_ACTION,
    )


def override_reason_modal(*, change_id: int) -> View:
    """Opened by Approve when the gate was inconclusive: the override's reason (required),
    kept in the ledger and shown on the deploy request."""
    return _reason_modal(
        change_id,
        callback_id=ids.OVERRIDE_REASON_VIEW,
        title="Approve over the gate",
        submit="Approve",
        intro=(
            f"Change #{change_id}: its gate was *inconclusive*. Approving overrides it, "
            "flagged in the ledger and in Slack, with your reason."
        ),
        block_id=ids.OVERRIDE_TEXT_BLOCK,
        action_id=ids.OVERRIDE_TEXT_ACTION,
        label="Why approve anyway",
    )


def _reason_modal(
    change_id: int,
    *,
    callback_id: str,
    title: str,
    submit: str,
    intro: str,
    block_id: str,
    action_id: str,
    label: str = "Why",
) -> View:
    return View(
        type="modal",
        callback_id=callback_id,
        private_metadata=str(change_id),
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=intro)),
            InputBlock(
                block_id=block_id,
                label=label,
                element=PlainTextInputElement(action_id=action_id, multiline=True, max_length=3000),
            ),
        ],
    )


def full_text_modal(*, title: str, text: str) -> View:
    """The whole of a long text, in sections of up to 3000 characters (100 at most)."""
    chunks = list(pieces(text, _CHUNK)) or ["(empty)"]
    if len(chunks) > MAX_MODAL_BLOCKS:
        chunks = [
            *chunks[: MAX_MODAL_BLOCKS - 1],
            "… longer still: `promptloop review show` prints it all.",
        ]
    return View(
        type="modal",
        callback_id=ids.FULL_TEXT_VIEW,
        title=PlainTextObject(text=shorten(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=c, verbatim=True)) for c in chunks],
    )
