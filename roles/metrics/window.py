"""The period a metrics report covers: from ``--since`` (or the ledger's start) to now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from roles.errors import InputError

_AGE = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Window:
    since: datetime | None  # None: the whole ledger
    until: datetime

    def contains(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and moment <= self.until

    def clip(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end] inside the window."""
        start = max(start, self.since) if self.since else start
        return max(0.0, (min(end, self.until) - start).total_seconds())


def parse_since(value: str, *, now: datetime) -> datetime:
    """``2026-03-02``, an ISO 8601 time (UTC unless it names a zone), or an age before
    ``now``: ``36h``, ``7d``, ``2w``.

    Raises:
        InputError: anything else, or a time after ``now``.
    """
    text = value.strip()
    age = _AGE.match(text)
    if age:
        return now - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since '{value}' is not a date: give YYYY-MM-DD, an ISO 8601 time "
            "(2026-03-02T09:00Z) or an age (36h, 7d, 2w)"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now:
        raise InputError(f"--since '{value}' is in the future; nothing has happened since")
    return moment
