"""Who acts, through which door, and what happens once the act is committed.

A ``Door`` carries the actor's identity (``roles.approval.identity.Who``: a handle for the
CLI's ``--as``, recorded with the OS user and host; a verified user id for Slack), the
Slack request to remember in the act's own transaction (a replay then writes nothing),
and how the change's pipeline run is woken after the commit: by default through Prefect
(``integrations.pipeline_wake.wake``), in the gateway by nudging serve's reconciler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from integrations.db import session_scope
from roles.clock import utcnow
from roles.errors import RoleError
from roles.roster import find_member, member_for_slack_user
from roles.who import Who, local_who

if TYPE_CHECKING:
    from integrations.slack.payloads import RequestStamp

log = logging.getLogger("promptloop.actions")

Waker = Callable[[int], None]


@dataclass(frozen=True)
class Door:
    who: Who
    stamp: RequestStamp | None = None  # the Slack request that carried the act
    waker: Waker | None = None  # None: resume the run through Prefect

    @classmethod
    def cli(cls, handle: str | None) -> Door:
        """The CLI's ``--as HANDLE`` (None: not given): trusted, so the OS user and host are
        recorded too."""
        return cls(local_who(handle))

    @classmethod
    def slack(
        cls, user_id: str, *, stamp: RequestStamp | None = None, waker: Waker | None = None
    ) -> Door:
        """A verified Slack user (the gateway), with the request that carried the act."""
        return cls(Who(slack_user_id=user_id, source="slack"), stamp=stamp, waker=waker)

    @classmethod
    def system(cls, handle: str, *, source: str = "demo") -> Door:
        """An act the automation plays for a person (the demo): recorded with its source."""
        return cls(Who(handle=handle, source=source))

    def handle(self, session: Session) -> str:
        """The acting member's handle (a Slack user is looked up in the roster)."""
        if self.who.slack_user_id is not None:
            return member_for_slack_user(session, slack_user_id=self.who.slack_user_id).handle
        if self.who.handle is None:
            raise RoleError("who acts? give --as HANDLE")
        return find_member(session, handle=self.who.handle).handle

    def wake(self, change_id: int, *, reason: str) -> None:
        """After the commit: the change's pipeline run reads the ledger again. A run that
        cannot be woken now is woken by serve's reconciler, which reads the same ledger."""
        if self.waker is not None:
            self.waker(change_id)
            return
        try:
            from integrations.pipeline_wake import wake

            wake(change_id, reason=reason)
        except Exception as exc:  # Prefect away: the decision is in the ledger already
            log.warning("change %s: its run is woken by serve instead (%s)", change_id, exc)


@contextmanager
def acting(door: Door) -> Iterator[Session]:
    """The act's one transaction, which first remembers the Slack request (a replay raises
    ``integrations.slack.replay.Replayed`` and writes nothing)."""
    with session_scope() as session:
        if door.stamp is not None:
            from integrations.slack.replay import remember_request

            remember_request(session, stamp=door.stamp, now=utcnow())
        yield session
