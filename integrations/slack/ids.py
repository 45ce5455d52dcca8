"""Every action and callback id the app's messages and modals carry, in one place.

The gateway's handlers match these; a button's ``value`` is only ever an id we look up.
"""

from __future__ import annotations

# Review: one item's buttons (value: the review sample's id).
REVIEW_PASS = "review_pass"
REVIEW_FAIL = "review_fail"
# "Show full" buttons: the action id names the field, the value is the sample's (or change's) id.
SHOW_FULL = "show_full"
SHOW_FULL_FIELDS = ("input", "expected", "output", "baseline", "diff")

# The fail-reason modal (private_metadata: the sample id).
FAIL_REASON_VIEW = "fail_reason"
FAIL_CATEGORY_BLOCK = "fail_category"
FAIL_CATEGORY_ACTION = "category"
FAIL_TEXT_BLOCK = "fail_text"
FAIL_TEXT_ACTION = "text"
# The "show full" modal: read only, nothing to submit.
FULL_TEXT_VIEW = "full_text"

# Deploy requests (value: the change id).
DEPLOY_APPROVE = "deploy_approve"
DEPLOY_REJECT = "deploy_reject"
DEPLOY_ROLLBACK = "deploy_rollback"  # on a deployed change's request: production back
# The reject-reason modal (private_metadata: the change id).
REJECT_REASON_VIEW = "reject_reason"
REJECT_TEXT_BLOCK = "reject_text"
REJECT_TEXT_ACTION = "text"
# The override-reason modal (private_metadata: the change id): Approve over a flagged gate.
OVERRIDE_REASON_VIEW = "override_reason"
OVERRIDE_TEXT_BLOCK = "override_text"
OVERRIDE_TEXT_ACTION = "text"

# Submitting a change from Slack: the slash command, the global shortcut, and two modals.
SLASH_COMMAND = "/promptloop"
CHANGE_SHORTCUT = "promptloop_change"
# Which prompt (a static select; submitting it turns the modal into the change form).
PICK_PROMPT_VIEW = "pick_prompt"
PICK_PROMPT_BLOCK = "prompt"
PICK_PROMPT_ACTION = "name"
# The change form (private_metadata: {"prompt": name, "version": number} it was opened on).
# Each field's block id is ``change_<field>`` (roles.prompt_fields.FIELDS), its action "text".
CHANGE_VIEW = "change_submit"
CHANGE_NOTE_BLOCK = "change_note"
CHANGE_TEXT_ACTION = "text"
# What the form becomes once the change is written (nothing to submit).
CHANGE_DONE_VIEW = "change_submitted"


def change_block(field: str) -> str:
    """The change form's block id for a prompt field: ``change_template``."""
    return f"change_{field}"


def show_full_action(field: str) -> str:
    """``show_full:output``: one action id per field, unique within a message."""
    if field not in SHOW_FULL_FIELDS:
        raise ValueError(f"no show-full field {field!r}")
    return f"{SHOW_FULL}:{field}"


def show_full_field(action_id: str) -> str | None:
    """The field a show-full action id names, or ``None`` if it is not one."""
    prefix, _, field = action_id.partition(":")
    return field if prefix == SHOW_FULL and field in SHOW_FULL_FIELDS else None
