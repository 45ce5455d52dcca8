"""The team's identity policy, held by the ledger: what a door's "who" must be proven by.

    policy = team_policy(session)          # Identity.SLACK or Identity.CLI, and why
    why = cli_refusal(session, who=who, act="approve a deploy", slack_only=suite_says)
    mark_slack_serve(session, host="box-1", now=now)   # serve, at start, with a bot token

``identity: slack``: approvals, rejections and rollbacks come from verified Slack users
only, and the roster does not change from the CLI (an admin first sets the policy to
``cli``, itself a recorded change). ``identity: cli``: the CLI's ``--as`` is taken at its
word (it proves only the OS user, which is recorded), except for a prompt whose suite
says ``approval.slack_only: true``. Unset, the policy is ``slack`` once a ``serve`` with
Slack ran on this ledger, else ``cli``. It is read from the ledger, never from the
environment of the process that asks, so ``env -u SLACK_BOT_TOKEN`` changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from roles.clock import iso
from roles.errors import InputError
from roles.ledger import Member, TeamSetting
from roles.who import Who

IDENTITY = "identity"
SLACK_SERVE = "slack_serve"  # value: the host of the last serve with Slack; set_at: when


class Identity(StrEnum):
    SLACK = "slack"  # decisions and roster changes from verified Slack users only
    CLI = "cli"  # the CLI's --as is trusted (the OS user and host are recorded)


@dataclass(frozen=True)
class TeamPolicy:
    identity: Identity
    set_by: str | None = None  # the admin who set it; None with ``explicit`` False: default
    set_at: datetime | None = None
    explicit: bool = False
    slack_serve_host: str | None = None  # the last serve with Slack on this ledger, if any
    slack_serve_at: datetime | None = None


def parse_identity(value: str) -> Identity:
    try:
        return Identity(value)
    except ValueError:
        raise InputError(f"--identity is 'slack' or 'cli', not {value!r}") from None


def team_policy(session: Session) -> TeamPolicy:
    """The policy in force: the one an admin set, else the default from serve's mark."""
    rows = {
        r.name: r
        for r in session.exec(
            select(TeamSetting).where(col(TeamSetting.name).in_((IDENTITY, SLACK_SERVE)))
        )
    }
    serve = rows.get(SLACK_SERVE)
    seen = {
        "slack_serve_host": serve.value if serve else None,
        "slack_serve_at": serve.set_at if serve else None,
    }
    row = rows.get(IDENTITY)
    if row is not None:
        by = session.get(Member, row.set_by_id) if row.set_by_id else None
        return TeamPolicy(
            identity=Identity(row.value),
            set_by=by.handle if by else None,
            set_at=row.set_at,
            explicit=True,
            **seen,  # type: ignore[arg-type]
        )
    default = Identity.SLACK if serve is not None else Identity.CLI
    return TeamPolicy(identity=default, **seen)  # type: ignore[arg-type]


def mark_slack_serve(session: Session, *, host: str, now: datetime) -> None:
    """Remember that a ``serve`` with Slack runs on this ledger: from then on the default
    policy is ``slack``, whatever the environment of a later CLI command."""
    if session.get(TeamSetting, SLACK_SERVE) is None:
        try:  # two serves starting at once: one inserts (this is serve's only write here)
            with session.begin_nested():
                session.add(TeamSetting(name=SLACK_SERVE, value=host[:400], set_at=now))
            return
        except IntegrityError:
            pass
    _put(session, name=SLACK_SERVE, value=host[:400], by=None, now=now)


def set_identity_setting(
    session: Session, *, identity: Identity, by: Member, now: datetime
) -> None:
    """Write the policy (the roster's ``set_identity`` checks the admin and records it)."""
    _put(session, name=IDENTITY, value=identity.value, by=by, now=now)


def slack_required(session: Session, *, slack_only: bool | None = None) -> str | None:
    """Why a decision must come from Slack (None: the CLI may make it).

    A suite's ``approval.slack_only: true`` asks it for its prompt; ``false`` never
    loosens the team's ``identity: slack`` (a suite is written by a prompt's author).
    """
    policy = team_policy(session)
    if policy.identity is Identity.SLACK:
        return "the team's identity policy is slack (`promptloop team policy`)"
    if slack_only:
        return "this prompt's suite says approval.slack_only"
    return None


def cli_refusal(
    session: Session, *, who: Who, act: str, slack_only: bool | None = None
) -> str | None:
    """Why ``who`` may not ``act`` from where they are (None: a Slack user, or allowed)."""
    if who.source == "slack":
        return None
    why = slack_required(session, slack_only=slack_only)
    if why is None:
        return None
    return f"only a verified Slack user may {act} here: {why}; from the CLI it is refused"


def describe(policy: TeamPolicy) -> list[str]:
    """The policy in plain words: what ``--as`` proves and what is enforced."""
    if policy.explicit:
        since = f" at {iso(policy.set_at)}" if policy.set_at else ""
        source = f"set by {policy.set_by or '?'}{since}"
    elif policy.identity is Identity.SLACK:
        source = (
            f"the default: a serve with Slack ran on this ledger "
            f"(last on {policy.slack_serve_host} at "
            f"{iso(policy.slack_serve_at) if policy.slack_serve_at else '?'})"
        )
    else:
        source = "the default: no serve with Slack has run on this ledger"
    lines = [
        f"identity: {policy.identity.value} ({source})",
        "",
        "What `--as HANDLE` on the CLI proves: nothing beyond the OS user who typed it. "
        "Anyone who can run promptloop against this ledger can type any handle (and could "
        "write the database directly); every CLI decision and roster change records the OS "
        "user and the host, and `promptloop team log` shows the roster's.",
        "What a click in Slack proves: the Slack user, verified by Slack's signature, who is "
        "one member (a Slack user id belongs to one member only).",
        "",
    ]
    if policy.identity is Identity.SLACK:
        lines += [
            "Enforced: approvals, rejections and rollbacks come from Slack only; from the CLI "
            "they are refused, and the attempt is recorded. A suite's approval.slack_only: "
            "false does not loosen this.",
            "The roster does not change from the CLI: an admin first runs `promptloop team "
            "policy --identity cli --as ADMIN` (recorded, with the OS user and host), then "
            "`team sync`, then sets it back to slack.",
        ]
    else:
        lines += [
            "Enforced: roles and separation of duties (no one approves a change they wrote), "
            "from the CLI and Slack alike; a prompt whose suite says approval.slack_only: "
            "true takes approvals, rejections and rollbacks from Slack only.",
            "The roster changes by an active admin only (`team sync FILE --as ADMIN`; the "
            "first sync of an empty ledger makes its admins). A person with the CLI can "
            "still type an engineer's or admin's handle: `team log` and each decision's "
            "os_user and host show who did.",
        ]
    return lines


def policy_json(policy: TeamPolicy) -> dict[str, object]:
    return {
        "identity": policy.identity.value,
        "explicit": policy.explicit,
        "set_by": policy.set_by,
        "set_at": iso(policy.set_at) if policy.set_at else None,
        "slack_serve_host": policy.slack_serve_host,
        "slack_serve_at": iso(policy.slack_serve_at) if policy.slack_serve_at else None,
        "cli_as_proves": "the OS user only (recorded with the host)",
        "cli_may_decide": policy.identity is Identity.CLI,
        "cli_may_change_roster": policy.identity is Identity.CLI,
    }


def _put(session: Session, *, name: str, value: str, by: Member | None, now: datetime) -> None:
    row = session.get(TeamSetting, name) or TeamSetting(name=name, value=value, set_at=now)
    row.value, row.set_by_id, row.set_at = value, by.id if by else None, now
    session.add(row)
    session.flush()
