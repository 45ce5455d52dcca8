"""One source of time for the ledger: timezone-aware UTC.

A history with known times (a test, a replay of an incident) is written through the real
role functions under a clock set by hand; every ``utcnow()`` in that context reads it::

    with manual_clock(datetime(2026, 3, 2, 9, tzinfo=UTC)) as clock:
        change = submit_change(session, spec=spec, author="maya")  # submitted at 09:00
        clock.advance(hours=2)
        transition(session, change_id=change.id, target=State.EVALUATING, actor="promptloop")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class ManualClock:
    """The time ``utcnow()`` gives inside ``manual_clock``: moves only when told to."""

    now: datetime

    def advance(self, **delta: float) -> datetime:
        """Move on by ``timedelta(**delta)`` (``hours=2``, ``days=1``); the new time."""
        self.now += timedelta(**delta)
        return self.now


# A context variable, not a global: a clock set in one thread (or task) is nobody else's.
_manual: ContextVar[ManualClock | None] = ContextVar("promptloop_manual_clock", default=None)


def utcnow() -> datetime:
    clock = _manual.get()
    return clock.now if clock is not None else datetime.now(UTC)


@contextmanager
def manual_clock(start: datetime) -> Iterator[ManualClock]:
    """``utcnow()`` reads a clock set by hand (from ``start``, timezone-aware) until the
    block ends."""
    if start.tzinfo is None:
        raise ValueError("a manual clock starts at a timezone-aware time")
    clock = ManualClock(start.astimezone(UTC))
    token = _manual.set(clock)
    try:
        yield clock
    finally:
        _manual.reset(token)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as scripts expect it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def readable(moment: datetime) -> str:
    """``2026-12-04 10:00 UTC``: a moment as people read it in messages."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
