"""Identity that holds: the roster changes by an admin only, every change recorded; one
Slack user is one member; the team keeps an admin; the identity policy comes from the
ledger, never from the caller's environment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import load, submit, walk
from sqlmodel import Session, col, select

from roles.engineer import approve, reject, rollback
from roles.errors import InputError, PolicyError, RoleError
from roles.ledger import Approval, Member, PromptVersion, RosterChange
from roles.registry import find_prompt, label_target
from roles.roster import (
    DeactivatedError,
    Person,
    read_team_file,
    require_member,
    roster_log,
    set_identity,
    sync_team,
)
from roles.sample import load_sample, sample_path
from roles.states import Role, State
from roles.team_policy import Identity, mark_slack_serve, team_policy
from roles.transitions import get_change
from roles.who import Who

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LEE = Who(handle="lee", source="cli", os_user="lee-os", host="box-1")  # the sample's admin
SAM = Who(handle="sam", source="cli", os_user="sam-os", host="box-2")  # an engineer


def awaiting_change(session: Session) -> int:
    load(session)
    change = submit(session)
    walk(session, change.id or 0, State.AWAITING_APPROVAL)
    return change.id or 0


def sample_team() -> list[Person]:
    return read_team_file(sample_path("team.yaml"))


def with_(people: list[Person], handle: str, **changes: object) -> list[Person]:
    return [p.model_copy(update=changes) if p.handle == handle else p for p in people]


def changes(session: Session) -> list[tuple[str | None, str | None, str, str | None, str | None]]:
    return [(r["by"], r["member"], r["what"], r["old"], r["new"]) for r in roster_log(session)]


def test_the_first_sync_of_an_empty_ledger_makes_its_admins_and_is_recorded(
    session: Session,
) -> None:
    report = sync_team(session, people=sample_team(), who=Who(source="cli", os_user="u", host="h"))
    session.commit()
    assert report.added == ["maya", "omar", "ines", "sam", "lee", "dana"]
    rows = roster_log(session)
    assert {r["by"] for r in rows} == {None}  # nobody to name yet: the first sync
    assert ("lee", "role_added", "admin") in {(r["member"], r["what"], r["new"]) for r in rows}
    assert ("sam", "slack_user_id", "U04SAM") in {(r["member"], r["what"], r["new"]) for r in rows}
    assert {(r["source"], r["os_user"], r["host"]) for r in rows} == {("cli", "u", "h")}


def test_a_first_sync_without_an_admin_is_refused(session: Session) -> None:
    with pytest.raises(InputError, match="first sync makes the team's admins"):
        sync_team(session, people=[Person(handle="ana", name="Ana", roles=[Role.PM])])
    assert session.exec(select(Member).where(Member.handle == "ana")).first() is None


def test_only_an_active_admin_changes_the_roster(session: Session) -> None:
    load(session)
    eve = [Person(handle="eve", name="Eve", roles=[Role.ENGINEER])]
    with pytest.raises(RoleError, match="needs an active admin"):
        sync_team(session, people=eve, deactivate_missing=False)
    with pytest.raises(RoleError, match="'sam' needs the admin role to change the roster"):
        sync_team(session, people=eve, deactivate_missing=False, who=SAM)
    # sam giving himself admin: the same refusal
    with pytest.raises(RoleError, match="'sam' needs the admin role"):
        sync_team(session, people=with_(sample_team(), "sam", roles=[Role.ENGINEER, Role.ADMIN]), who=SAM)
    session.rollback()
    assert session.exec(select(Member).where(Member.handle == "eve")).first() is None
    report = sync_team(session, people=eve, deactivate_missing=False, who=LEE)
    session.commit()
    assert report.added == ["eve"]
    assert changes(session)[-2:] == [
        ("lee", "eve", "member_added", None, "Eve"),
        ("lee", "eve", "role_added", None, "engineer"),
    ]
    row = session.exec(select(RosterChange).order_by(col(RosterChange.id).desc())).first()
    assert row is not None and (row.source, row.os_user, row.host) == ("cli", "lee-os", "box-1")


def test_a_deactivated_admin_is_told_so(session: Session) -> None:
    load(session)
    team = with_(sample_team(), "maya", roles=[Role.PM, Role.ENGINEER, Role.ADMIN])
    sync_team(session, people=[p for p in team if p.handle != "lee"], who=LEE)
    session.commit()
    with pytest.raises(DeactivatedError, match="'lee' is deactivated and cannot act"):
        sync_team(session, people=sample_team(), who=LEE)
    with pytest.raises(DeactivatedError, match="'lee' is deactivated"):
        require_member(session, handle="lee", roles=(Role.ADMIN,))


def test_a_file_listing_nobody_deactivates_nobody(session: Session) -> None:
    load(session)
    with pytest.raises(InputError, match="lists nobody; refusing to deactivate all 6 members"):
        sync_team(session, people=[], who=LEE)
    assert all(m.active for m in session.exec(select(Member)).all())


def test_the_last_active_admin_cannot_be_removed(session: Session) -> None:
    load(session)
    with pytest.raises(PolicyError, match=r"no active admin \(lee deactivated\)"):
        sync_team(session, people=[p for p in sample_team() if p.handle != "lee"], who=LEE)
    session.rollback()
    with pytest.raises(PolicyError, match=r"no active admin \(lee's admin role removed\)"):
        sync_team(session, people=with_(sample_team(), "lee", roles=[Role.ENGINEER]), who=LEE)
    session.rollback()
    lee = session.exec(select(Member).where(Member.handle == "lee")).one()
    assert lee.active and [r for r in roster_log(session) if r["by"]] == []  # nothing written
    # another admin first, then lee may go
    team = with_(sample_team(), "dana", roles=[Role.DATA_SCIENTIST, Role.ADMIN])
    sync_team(session, people=[p for p in team if p.handle != "lee"], who=LEE)
    session.commit()
    assert ("lee", "lee", "deactivated", None, None) in changes(session)


def test_a_slack_id_of_another_member_is_refused_deactivated_ones_too(session: Session) -> None:
    load(session)
    # sam mapping lee's Slack user onto himself (to click Approve as lee): refused
    with pytest.raises(InputError, match="U05LEE of 'sam' already belongs to 'lee'"):
        sam = [p for p in with_(sample_team(), "sam", slack_user_id="U05LEE") if p.handle == "sam"]
        sync_team(session, people=sam, deactivate_missing=False, who=LEE)
    session.rollback()
    sync_team(session, people=[p for p in sample_team() if p.handle != "omar"], who=LEE)
    session.commit()  # omar left; his Slack id stays his
    zed = [Person(handle="zed", name="Zed", roles=[Role.EXPERT], slack_user_id="U02OMAR")]
    with pytest.raises(InputError, match="already belongs to 'omar' \\(deactivated: reactivating"):
        sync_team(session, people=zed, deactivate_missing=False, who=LEE)
    # a swap inside one file is fine: nobody ends with another's id
    swapped = with_(with_(sample_team(), "sam", slack_user_id="U05LEE"), "lee", slack_user_id="U04SAM")
    session.rollback()
    sync_team(session, people=swapped, deactivate_missing=False, who=LEE)
    session.commit()
    assert ("lee", "sam", "slack_user_id", "U04SAM", "U05LEE") in changes(session)


def test_every_kind_of_change_is_a_row_with_old_and_new(session: Session) -> None:
    load(session)
    team = [p for p in sample_team() if p.handle != "dana"]
    team = with_(team, "omar", name="Omar H.", email="o@x.org", roles=[Role.EXPERT, Role.PM])
    team = with_(team, "ines", roles=[Role.PM])
    sync_team(session, people=team, who=LEE)
    session.commit()
    sync_team(session, people=sample_team(), who=LEE, deactivate_missing=False)
    session.commit()
    got = changes(session)
    for row in [
        ("lee", "omar", "name", "Omar Haddad", "Omar H."),
        ("lee", "omar", "email", "omar@example.com", "o@x.org"),
        ("lee", "omar", "role_added", None, "pm"),
        ("lee", "ines", "role_added", None, "pm"),
        ("lee", "ines", "role_removed", "expert", None),
        ("lee", "dana", "deactivated", None, None),
        ("lee", "dana", "reactivated", None, None),
    ]:
        assert row in got, (row, got)


def test_the_sample_adds_nobody_to_a_team_that_has_people(session: Session) -> None:
    sync_team(session, people=[Person(handle="ana", name="Ana", roles=[Role.PM, Role.ADMIN])])
    session.commit()
    with pytest.raises(RoleError, match="the sample team would add dana, ines, lee, maya, omar, sam to a team"):
        load_sample(session)  # lee, an admin, would be anyone's for the typing
    session.rollback()
    assert session.exec(select(Member).where(Member.handle == "lee")).first() is None


def test_the_sample_loads_on_an_empty_ledger_and_again_without_change(session: Session) -> None:
    load(session)
    before = len(roster_log(session))
    assert load_sample(session).written == []
    session.commit()
    assert before > 0 and len(roster_log(session)) == before
    assert {r["source"] for r in roster_log(session)} == {"sample"}


def test_the_default_policy_is_cli_until_a_serve_with_slack_ran(session: Session) -> None:
    load(session)
    assert team_policy(session).identity is Identity.CLI and not team_policy(session).explicit
    mark_slack_serve(session, host="serve-box", now=NOW)
    session.commit()
    policy = team_policy(session)
    assert (policy.identity, policy.slack_serve_host) == (Identity.SLACK, "serve-box")


def test_under_slack_the_cli_is_refused_and_recorded_slack_decides(session: Session) -> None:
    change_id = awaiting_change(session)
    mark_slack_serve(session, host="serve-box", now=NOW)
    session.commit()
    cli = approve(session, change_id=change_id, who=SAM, now=NOW)
    session.commit()
    assert cli.decision == "refused" and "identity policy is slack" in cli.message
    no = reject(session, change_id=change_id, who=SAM, reason="no", now=NOW)
    session.commit()
    assert no.decision == "refused"
    rows = session.exec(select(Approval).where(Approval.decision == "refused")).all()
    assert [(r.source, r.os_user, r.host) for r in rows] == [("cli", "sam-os", "box-2")] * 2
    assert get_change(session, change_id).state == "awaiting_approval"
    slack = approve(session, change_id=change_id, who=Who(slack_user_id="U04SAM", source="slack"), now=NOW)
    session.commit()
    assert slack.decision == "deployed"
    rolled = rollback(session, prompt="support-triage", actor="sam", now=NOW, who=SAM)
    session.commit()
    assert rolled.refused is not None and "identity policy is slack" in rolled.refused
    assert rolled.change_id == change_id  # recorded on the change that deployed production
    assert get_change(session, change_id).state == "deployed"
    production = label_target(session, prompt=find_prompt(session, name="support-triage"), label="production")
    assert production is not None and production.number == 2
    last = session.exec(select(Approval).order_by(col(Approval.id).desc())).first()
    assert last is not None and last.decision == "refused" and (last.reason or "").startswith("rollback:")


def test_a_suite_tightens_the_cli_policy_but_never_loosens_slack(session: Session) -> None:
    change_id = awaiting_change(session)
    base = session.get(PromptVersion, get_change(session, change_id).base_version_id)
    assert base is not None

    def suite_says(slack_only: bool) -> None:
        assert base is not None
        base.suite = {**(base.suite or {}), "approval": {"slack_only": slack_only}}
        session.add(base)
        session.commit()

    suite_says(True)  # team policy cli, this prompt from Slack only
    assert approve(session, change_id=change_id, who=SAM, now=NOW).message.endswith(
        "this prompt's suite says approval.slack_only; from the CLI it is refused"
    )
    set_identity(session, identity=Identity.SLACK, who=LEE, now=NOW)
    suite_says(False)  # team policy slack: a suite's false does not open the CLI
    refused = approve(session, change_id=change_id, who=SAM, now=NOW)
    assert refused.decision == "refused" and "identity policy is slack" in refused.message
    set_identity(session, identity=Identity.CLI, who=LEE, now=NOW)
    session.commit()
    assert approve(session, change_id=change_id, who=SAM, now=NOW).decision == "deployed"


def test_under_slack_the_roster_does_not_change_from_the_cli_until_an_admin_opens_it(
    session: Session,
) -> None:
    load(session)
    mark_slack_serve(session, host="serve-box", now=NOW)
    session.commit()
    eve = [Person(handle="eve", name="Eve", roles=[Role.ENGINEER])]
    with pytest.raises(PolicyError, match="team policy --identity cli --as ADMIN"):
        sync_team(session, people=eve, deactivate_missing=False, who=LEE)
    session.rollback()
    with pytest.raises(RoleError, match="'sam' needs the admin role to set the identity policy"):
        set_identity(session, identity=Identity.CLI, who=SAM, now=NOW)
    row = set_identity(session, identity=Identity.CLI, who=LEE, now=NOW)
    session.commit()
    assert row is not None and (row.old_value, row.new_value) == ("slack (default)", "cli")
    assert set_identity(session, identity=Identity.CLI, who=LEE, now=NOW) is None  # already
    sync_team(session, people=eve, deactivate_missing=False, who=LEE)
    session.commit()
    assert team_policy(session).set_by == "lee"
    assert ("lee", None, "identity_policy", "slack (default)", "cli") in changes(session)


def test_a_slack_id_shared_on_an_old_ledger_acts_as_its_active_member(session: Session) -> None:
    change_id = awaiting_change(session)
    maya = session.exec(select(Member).where(Member.handle == "maya")).one()
    maya.slack_user_id, maya.active = "U04SAM", False  # as a sync before ids were unique left it
    session.add(maya)
    session.commit()
    outcome = approve(session, change_id=change_id, who=Who(slack_user_id="U04SAM", source="slack"), now=NOW)
    assert outcome.decision == "deployed" and outcome.message.startswith("sam approved")
