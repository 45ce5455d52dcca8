"""What the gateway reads of ``/promptloop``, the change shortcut and the change modals.

Like :mod:`integrations.slack.payloads`: who acted (Slack signed that), where, and the
text they typed; a payload that lacks what its kind must carry is refused whole::

    command = parse_command(body)      # /promptloop change support-triage → Command
    form = parse_change_form(body)     # the change modal's view_submission → ChangeForm
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from integrations.slack import ids
from integrations.slack.payloads import MalformedPayload, _Id, _validate
from roles.prompt_fields import FIELDS


class _Command(BaseModel):
    user_id: str = Field(min_length=1, max_length=64)
    channel_id: str | None = None
    trigger_id: str | None = None
    text: str = Field(default="", max_length=4000)


class Command(BaseModel):
    """``/promptloop WORDS``: who typed it, where, and the words after the command."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    channel_id: str | None
    trigger_id: str | None
    words: tuple[str, ...]


def parse_command(body: dict[str, Any]) -> Command:
    raw = _validate(_Command, body)
    return Command(
        user_id=raw.user_id,
        channel_id=raw.channel_id,
        trigger_id=raw.trigger_id,
        words=tuple(raw.text.split()),
    )


class _Shortcut(BaseModel):
    user: _Id
    trigger_id: str = Field(min_length=1)


class Opening(BaseModel):
    """The global shortcut: who asked for the change form (no channel: answers are DMs)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    trigger_id: str


def parse_shortcut(body: dict[str, Any]) -> Opening:
    raw = _validate(_Shortcut, body)
    return Opening(user_id=raw.user.id, trigger_id=raw.trigger_id)


class _View(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    hash: str = Field(default="", max_length=128)
    private_metadata: str = Field(default="", max_length=3000)
    state: dict[str, dict[str, dict[str, dict[str, Any]]]] = Field(default_factory=dict)


class _Submission(BaseModel):
    user: _Id
    view: _View


class PromptPicked(BaseModel):
    """The prompt-picking modal, submitted: which prompt to change."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    prompt: str


def parse_prompt_picked(body: dict[str, Any]) -> PromptPicked:
    raw = _validate(_Submission, body)
    values = raw.view.state.get("values", {})
    picked = values.get(ids.PICK_PROMPT_BLOCK, {}).get(ids.PICK_PROMPT_ACTION, {})
    name = (picked.get("selected_option") or {}).get("value")
    if not isinstance(name, str) or not name:
        raise MalformedPayload("malformed payload: the prompt modal was submitted without a prompt")
    return PromptPicked(user_id=raw.user.id, prompt=name)


class ChangeForm(BaseModel):
    """The change modal, submitted: the prompt and version it was opened on (its metadata),
    each field's text (``None``: the form did not show it, so it stays), and the note."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    view_id: str
    view_hash: str
    prompt: str
    version: int
    texts: dict[str, str | None]
    note: str | None

    def request_key(self) -> str:
        """The same submission, however often it comes (a retry, a second click): the
        view, its hash, and what was typed in it."""
        typed = json.dumps([self.view_id, self.view_hash, self.texts, self.note], sort_keys=True)
        return f"view:{hashlib.sha256(typed.encode()).hexdigest()}"


def parse_change_form(body: dict[str, Any]) -> ChangeForm:
    raw = _validate(_Submission, body)
    try:
        opened = json.loads(raw.view.private_metadata)
        prompt, version = str(opened["prompt"]), int(opened["version"])
    except (ValueError, KeyError, TypeError):
        raise MalformedPayload(
            "malformed payload: the change modal's metadata is not ours"
        ) from None
    values = raw.view.state.get("values", {})
    return ChangeForm(
        user_id=raw.user.id,
        view_id=raw.view.id,
        view_hash=raw.view.hash,
        prompt=prompt,
        version=version,
        texts={name: _field(values, ids.change_block(name)) for name in FIELDS},
        note=_text(values, ids.CHANGE_NOTE_BLOCK) or None,
    )


def _field(values: dict[str, Any], block: str) -> str | None:
    """A field's text; ``""`` for an input left empty; ``None`` for one the form lacked."""
    return (_text(values, block) or "") if block in values else None


def _text(values: dict[str, Any], block: str) -> str | None:
    value = values.get(block, {}).get(ids.CHANGE_TEXT_ACTION, {}).get("value")
    return value if isinstance(value, str) else None
