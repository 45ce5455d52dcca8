"""Requests as Slack sends them: interaction payloads, form-encoded and signed.

What the demo plays and the tests and benchmark send to the gateway::

    body, headers = signed(click(user="U02OMAR", action_id="review_pass", value=3),
                           secret="…signing secret…")
    httpx.post("http://127.0.0.1:3000/slack/events", content=body, headers=headers)

The signature is Slack's v0 scheme: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``
with the app's signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from integrations.slack import ids

TEAM = "T0FAKE"


MAX_SKEW_S = 300  # Slack's own rule: a request older (or newer) than 5 minutes is a replay


def signature(body: str, *, secret: str, timestamp: int) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verified(
    body: bytes,
    *,
    timestamp: str | None,
    given: str | None,
    secret: str,
    now: float | None = None,
) -> bool:
    """Whether ``body`` (the raw bytes, before anything parses them) carries a valid v0
    signature made within ``MAX_SKEW_S`` of ``now``. Never raises: a missing header, a
    timestamp that is not ASCII digits or a signature of other characters is False.

    >>> body, headers = signed_form({"a": "1"}, secret="s", timestamp=1700000000)
    >>> verified(body.encode(), timestamp=headers["X-Slack-Request-Timestamp"],
    ...          given=headers["X-Slack-Signature"], secret="s", now=1700000010)
    True
    >>> verified(b"a=1", timestamp="\u0661\u0667", given="v0=00", secret="s")
    False
    """
    if not timestamp or not given or len(timestamp) > 12:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()) or not given.isascii():
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > MAX_SKEW_S:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode())


def signed(
    payload: dict[str, Any], *, secret: str, timestamp: int | None = None
) -> tuple[str, dict[str, str]]:
    """The form body (``payload=<json>``) and the headers Slack would send with it."""
    return signed_form({"payload": json.dumps(payload)}, secret=secret, timestamp=timestamp)


def click(
    *,
    user: str,
    action_id: str,
    value: int | str,
    channel: str = "C0REVIEW",
    team: str = TEAM,
) -> dict[str, Any]:
    """A ``block_actions`` payload: ``user`` clicked a button in a message in ``channel``."""
    now = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "promptloop"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PROMPTLOOP",
        "container": {"type": "message", "message_ts": now, "channel_id": channel},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
        "channel": {"id": channel, "name": "review"},
        "response_url": "https://hooks.slack.com/actions/T0FAKE/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": uuid.uuid4().hex[:8],
                "value": str(value),
                "action_ts": now,
            }
        ],
    }


def fail_submission(
    *, user: str, sample_id: int | str, category: str, reason: str | None, team: str = TEAM
) -> dict[str, Any]:
    """A ``view_submission`` of the fail-reason modal, as Slack sends it."""
    chosen = {"text": {"type": "plain_text", "text": category}, "value": category}
    values = {
        ids.FAIL_CATEGORY_BLOCK: {
            ids.FAIL_CATEGORY_ACTION: {"type": "static_select", "selected_option": chosen}
        },
        ids.FAIL_TEXT_BLOCK: {ids.FAIL_TEXT_ACTION: {"type": "plain_text_input", "value": reason}},
    }
    return _submission(user, team, ids.FAIL_REASON_VIEW, str(sample_id), values)


def reject_submission(
    *, user: str, change_id: int | str, reason: str, team: str = TEAM
) -> dict[str, Any]:
    """A ``view_submission`` of the reject-reason modal, as Slack sends it."""
    values = {
        ids.REJECT_TEXT_BLOCK: {
            ids.REJECT_TEXT_ACTION: {"type": "plain_text_input", "value": reason}
        }
    }
    return _submission(user, team, ids.REJECT_REASON_VIEW, str(change_id), values)


def override_submission(
    *, user: str, change_id: int | str, reason: str, team: str = TEAM
) -> dict[str, Any]:
    """A ``view_submission`` of the override-reason modal (Approve over a flagged gate)."""
    block, action = ids.OVERRIDE_TEXT_BLOCK, ids.OVERRIDE_TEXT_ACTION
    values = {block: {action: {"type": "plain_text_input", "value": reason}}}
    return _submission(user, team, ids.OVERRIDE_REASON_VIEW, str(change_id), values)


def _submission(
    user: str, team: str, callback_id: str, metadata: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "promptloop"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PROMPTLOOP",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
        "view": {
            "id": "V" + uuid.uuid4().hex[:10].upper(),
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": metadata,
            "state": {"values": values},
        },
    }


def signed_form(
    fields: dict[str, str], *, secret: str, timestamp: int | None = None
) -> tuple[str, dict[str, str]]:
    """A slash command's form body (its fields at the top, no ``payload``), signed."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    body = urlencode(fields)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(body, secret=secret, timestamp=timestamp),
    }


def slash_command(
    *, user: str, text: str, channel: str = "C0PM", team: str = TEAM
) -> dict[str, str]:
    """``/promptloop TEXT`` typed by ``user`` in ``channel``: the fields Slack posts."""
    return {
        "token": "unused",
        "team_id": team,
        "team_domain": "promptloop",
        "channel_id": channel,
        "channel_name": "pm",
        "user_id": user,
        "user_name": user.lower(),
        "command": ids.SLASH_COMMAND,
        "text": text,
        "api_app_id": "A0PROMPTLOOP",
        "response_url": "https://hooks.slack.com/commands/T0FAKE/1/x",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
    }


def shortcut(
    *, user: str, callback_id: str = ids.CHANGE_SHORTCUT, team: str = TEAM
) -> dict[str, Any]:
    """A global shortcut chosen by ``user`` (``type: shortcut``)."""
    return {
        "type": "shortcut",
        "team": {"id": team, "domain": "promptloop"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PROMPTLOOP",
        "callback_id": callback_id,
        "action_ts": f"{time.time():.6f}",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:12]}",
    }


def view_submission(
    view: dict[str, Any],
    *,
    user: str,
    texts: dict[str, dict[str, str | None]] | None = None,
    selected: dict[str, dict[str, str]] | None = None,
    team: str = TEAM,
) -> dict[str, Any]:
    """``view`` (as views.open was given it) submitted by ``user``: ``texts`` typed in its
    text inputs and options ``selected`` in its selects, by block id and action id."""
    state: dict[str, dict[str, Any]] = {}
    for block, actions in (texts or {}).items():
        for action, value in actions.items():
            state.setdefault(block, {})[action] = {"type": "plain_text_input", "value": value}
    for block, choices in (selected or {}).items():
        for action, chosen in choices.items():
            option = {"text": {"type": "plain_text", "text": chosen}, "value": chosen}
            state.setdefault(block, {})[action] = {
                "type": "static_select",
                "selected_option": option,
            }
    payload = _submission(user, team, view["callback_id"], view.get("private_metadata", ""), state)
    payload["view"]["hash"] = view.get("hash") or "1700000000.abcdef"
    if view.get("id"):
        payload["view"]["id"] = view["id"]
    return payload
