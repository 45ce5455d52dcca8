"""What a roster change did: the words of ``roster_change.what`` (its own module, so a
command that only reads the roster does not build the history's table)."""

from __future__ import annotations

from enum import StrEnum


class RosterWhat(StrEnum):
    """What a roster change did."""

    MEMBER_ADDED = "member_added"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    ROLE_ADDED = "role_added"
    ROLE_REMOVED = "role_removed"
    SLACK_USER_ID = "slack_user_id"  # set, changed or cleared: old and new say which
    NAME = "name"
    EMAIL = "email"
    IDENTITY_POLICY = "identity_policy"  # the team's setting; no member


ROSTER_WHATS = tuple(w.value for w in RosterWhat)
