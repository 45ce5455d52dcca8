"""What the gateway reads of Slack's interaction payloads, parsed into small models.

A button's ``value`` is only ever an id that the handler then looks up in the ledger;
nothing else in a payload is trusted beyond who clicked (Slack signed that) and where
(to answer there). A payload that lacks what its kind must carry is refused whole::

    click = parse_click(body)        # block_actions → Click, or MalformedPayload
    reason = parse_fail_reason(body) # the fail modal's view_submission → FailReason
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from integrations.slack import ids

M = TypeVar("M", bound=BaseModel)


class MalformedPayload(ValueError):
    """The payload is not what Slack sends for this kind of interaction."""


class _Id(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    team_id: str | None = None


class _Action(BaseModel):
    action_id: str = Field(min_length=1, max_length=255)
    value: str | None = Field(default=None, max_length=2000)


class _BlockActions(BaseModel):
    team: _Id | None = None
    user: _Id
    channel: _Id | None = None
    trigger_id: str | None = None
    actions: list[_Action] = Field(min_length=1)


class _View(BaseModel):
    callback_id: str
    private_metadata: str = ""
    state: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(default_factory=dict)


class _ViewSubmission(BaseModel):
    team: _Id | None = None
    user: _Id
    view: _View


class Click(BaseModel):
    """A button: who clicked it, in which channel, which button, and the id it carries."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel_id: str | None
    trigger_id: str | None
    action_id: str
    target_id: int


class FailReason(BaseModel):
    """The fail-reason modal, submitted: the item (from the modal's metadata) and why."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    sample_id: int
    category: str
    reason: str | None


def parse_click(body: dict[str, Any]) -> Click:
    raw = _validate(_BlockActions, body)
    action = raw.actions[0]
    return Click(
        user_id=raw.user.id,
        channel_id=raw.channel.id if raw.channel else None,
        trigger_id=raw.trigger_id,
        action_id=action.action_id,
        target_id=_an_id(action.value, "the button's value"),
    )


def parse_fail_reason(body: dict[str, Any]) -> FailReason:
    raw = _validate(_ViewSubmission, body)
    values = raw.view.state.get("values", {})
    category = values.get(ids.FAIL_CATEGORY_BLOCK, {}).get(ids.FAIL_CATEGORY_ACTION, {})
    chosen = (category.get("selected_option") or {}).get("value")
    if not isinstance(chosen, str) or not chosen:
        raise MalformedPayload("malformed payload: the fail modal was submitted without a category")
    text = values.get(ids.FAIL_TEXT_BLOCK, {}).get(ids.FAIL_TEXT_ACTION, {}).get("value")
    return FailReason(
        user_id=raw.user.id,
        sample_id=_an_id(raw.view.private_metadata, "the modal's metadata"),
        category=chosen,
        reason=text if isinstance(text, str) else None,
    )


class DecisionReason(BaseModel):
    """A deploy's reason modal, submitted (reject, or approve over the gate): the change
    (from the modal's metadata) and why."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    change_id: int
    reason: str


RejectReason = DecisionReason


def parse_reject_reason(body: dict[str, Any]) -> DecisionReason:
    return _parse_reason(body, ids.REJECT_TEXT_BLOCK, ids.REJECT_TEXT_ACTION, "reject")


def parse_override_reason(body: dict[str, Any]) -> DecisionReason:
    return _parse_reason(body, ids.OVERRIDE_TEXT_BLOCK, ids.OVERRIDE_TEXT_ACTION, "override")


def _parse_reason(body: dict[str, Any], block: str, action: str, what: str) -> DecisionReason:
    raw = _validate(_ViewSubmission, body)
    values = raw.view.state.get("values", {})
    text = values.get(block, {}).get(action, {}).get("value")
    if not isinstance(text, str) or not text.strip():
        raise MalformedPayload(
            f"malformed payload: the {what} modal was submitted without a reason"
        )
    return DecisionReason(
        user_id=raw.user.id,
        change_id=_an_id(raw.view.private_metadata, "the modal's metadata"),
        reason=text,
    )


def team_of(body: dict[str, Any]) -> str | None:
    """The workspace a payload comes from (``team.id``; the user's for org-wide apps)."""
    team = body.get("team") or {}
    user = body.get("user") or {}
    found = team.get("id") if isinstance(team, dict) else None
    found = found or (user.get("team_id") if isinstance(user, dict) else None)
    return found or body.get("team_id")  # a slash command's form: team_id at the top


class RequestStamp(BaseModel):
    """What makes a request itself: its signature (HTTP), or a hash of the payload (Socket
    Mode, where Slack redelivers an envelope that was not acknowledged)."""

    model_config = ConfigDict(frozen=True)

    key: str
    sent_at: datetime


def request_stamp(
    *, mode: str, headers: dict[str, Any], body: dict[str, Any], now: datetime
) -> RequestStamp:
    if mode == "socket_mode":
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return RequestStamp(key=f"socket:{digest}", sent_at=now)
    signature = _header(headers, "x-slack-signature")
    timestamp = _header(headers, "x-slack-request-timestamp")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp or ""), UTC)
    except (TypeError, ValueError, OverflowError):
        raise MalformedPayload("malformed request: no X-Slack-Request-Timestamp") from None
    if not signature:
        raise MalformedPayload("malformed request: no X-Slack-Signature")
    return RequestStamp(key=signature[:128], sent_at=sent_at)


def _header(headers: dict[str, Any], name: str) -> str | None:
    value = headers.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value is not None else None


def _an_id(value: str | None, what: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18:
        raise MalformedPayload(f"malformed payload: {what} is not an id ({value!r:.40})")
    return int(value)


def _validate(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the payload"
        raise MalformedPayload(f"malformed payload: {where}: {first['msg']}") from None
