"""Who acts, as a door saw them: a handle (the CLI's ``--as``) or a verified Slack user.

    Who(slack_user_id="U04SAM", source="slack")        # a click, verified by its signature
    local_who("sam")                                   # the CLI: the OS user and host too

The CLI's ``--as`` proves nothing beyond the OS user that typed it (whoever reaches the
ledger could write any row), so every CLI action records that user and the host.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Who:
    """Who decides: a handle (the CLI's trusted ``--as``) or a verified Slack user."""

    handle: str | None = None
    slack_user_id: str | None = None
    source: str = "cli"
    os_user: str | None = None  # for the CLI: who typed it, and where
    host: str | None = None


def local_who(handle: str | None, *, source: str = "cli") -> Who:
    """``handle`` as this process's OS user on this host claims it (the CLI's identity)."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): still say something
        os_user = "?"
    return Who(handle=handle, source=source, os_user=os_user, host=socket.gethostname())
