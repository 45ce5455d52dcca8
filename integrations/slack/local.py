"""The gateway without a Slack workspace: what the demo and a team trying promptloop use.

With no ``SLACK_BOT_TOKEN`` the gateway still takes signed requests (the demo sends them
exactly as Slack would), signed with a secret of this home (``PROMPTLOOP_HOME/
gateway.secret``, created once, readable by its owner only). What the gateway would say
back in Slack (an ephemeral "Not allowed: …", a modal) is written to serve's log instead.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from integrations.settings import Settings, get_settings

log = logging.getLogger("promptloop.gateway")
LOCAL_TOKEN = "xoxb-local-no-slack"


def local_secret(settings: Settings | None = None) -> str:
    """This home's signing secret for a gateway with no Slack app (made on first use)."""
    settings = settings or get_settings()
    path = settings.home / "gateway.secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def signing_secret(settings: Settings | None = None) -> str:
    """Slack's signing secret when an app is configured, else this home's local one."""
    settings = settings or get_settings()
    if settings.slack_signing_secret is not None:
        return settings.slack_signing_secret.get_secret_value()
    return local_secret(settings)


LOCAL_API_PATH = "/local-slack/api/"


def terminal_slack(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """What Slack's Web API would have done, for a gateway with no workspace: logged."""
    view = params.get("view")
    if isinstance(view, str):
        import json

        view = json.loads(view)
    shown = params.get("text") or ((view or {}).get("title") or {}).get("text", "")
    where = params.get("user") or params.get("channel") or "-"
    if method == "auth.test":  # Bolt asks who the bot is before each request's listener
        return {"ok": True, "user_id": "U0PROMPTLOOP", "bot_id": "B0PROMPTLOOP",
                "user": "promptloop", "team_id": "T0LOCAL", "team": "no workspace"}  # fmt: skip
    log.info("Slack (no workspace) %s for %s: %s", method, where, shown)
    return {"ok": True}
