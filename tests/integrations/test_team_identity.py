"""Identity from both doors (SQLite, PostgreSQL): `team sync` refuses whoever is not an
active admin, a file listing nobody, a Slack id another member holds and the loss of the
last admin, and records every change (`team log`); `team policy` says what `--as` proves;
under the ledger's `identity: slack` the CLI's approvals, rejections, rollbacks and roster
changes are refused (decisions recorded) while signed Slack clicks decide."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deploy_support import awaiting_approval
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway
from sqlmodel import Session, col, select
from support import SAMPLES, invoke
from test_slack_gateway_deploys import until

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.signing import click, signed
from roles.clock import utcnow
from roles.ledger import Approval, Deployment, Member
from roles.team_policy import mark_slack_serve
from roles.transitions import get_change

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_TEAM = (SAMPLES / "team.yaml").read_text()


def team_file(tmp_path: Path, text: str, name: str = "team.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def without(handle: str) -> str:
    """The sample team without ``handle``'s entry."""
    blocks = SAMPLE_TEAM.split("  - handle: ")
    return "  - handle: ".join(b for b in blocks if not b.startswith(f"{handle}\n"))


def serve_had_slack() -> None:
    """What `serve` writes at its start when SLACK_BOT_TOKEN is set (tests/flows runs it)."""
    with Session(get_engine()) as session:
        mark_slack_serve(session, host="serve-box", now=utcnow())
        session.commit()


def state(change_id: int) -> str:
    with Session(get_engine()) as session:
        return get_change(session, change_id).state


def approvals(decision: str) -> list[Approval]:
    with Session(get_engine()) as session:
        query = select(Approval).where(Approval.decision == decision)
        return list(session.exec(query.order_by(col(Approval.id))).all())


def test_team_sync_needs_an_admin_and_records_every_change(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = cli("team", "sync", team_file(tmp_path, SAMPLE_TEAM), "--json")
    assert first.code == 0, first.stderr  # the first sync of an empty ledger: no --as
    eve = team_file(tmp_path, "people:\n  - {handle: eve, name: Eve, roles: [engineer, admin]}\n", "eve.yaml")
    nobody = cli("team", "sync", eve)
    assert (nobody.code, nobody.stderr.strip()) == (
        1,
        "error: the team has people already: changing the roster needs an active admin "
        "(`promptloop team sync FILE --as ADMIN`)",
    )
    sam = cli("team", "sync", eve, "--as", "sam")
    assert (sam.code, sam.stderr.strip()) == (
        1,
        "error: 'sam' needs the admin role to change the roster",
    )
    assert [m["handle"] for m in cli("team", "list", "--json").json()] == [
        "dana", "ines", "lee", "maya", "omar", "sam",
    ]  # fmt: skip
    renamed = SAMPLE_TEAM.replace("Sam Okafor", "Sam O.")
    done = cli("team", "sync", team_file(tmp_path, renamed, "t2.yaml"), "--as", "lee", "--json")
    assert done.code == 0 and done.json()["updated"] == ["sam"] and done.json()["changes"] == 1
    log = cli("team", "log", "--json").json()
    assert log[-1] | {"id": 0, "at": ""} == {
        "id": 0, "at": "", "by": "lee", "member": "sam", "what": "name", "old": "Sam Okafor",
        "new": "Sam O.", "source": "cli", "os_user": log[-1]["os_user"], "host": log[-1]["host"],
    }  # fmt: skip
    assert log[-1]["os_user"] and log[-1]["host"]
    assert {r["by"] for r in log[:-1]} == {None}  # the first sync's rows
    shown = cli("team", "log")
    assert shown.code == 0 and "(first sync)" in shown.stdout and "Sam O." in shown.stdout


def test_team_sync_refuses_nobody_a_taken_slack_id_and_no_admin(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    empty = team_file(tmp_path, "people: []\n", "empty.yaml")
    nobody = cli("team", "sync", empty, "--as", "lee")
    assert (nobody.code, nobody.stderr.strip()) == (
        2,
        f"error: {empty}: the team file lists nobody; refusing to deactivate all 6 members",
    )
    # maya left the team; sam taking her Slack id: refused (reactivating her would collide)
    grab = without("maya").replace("U04SAM", "U01MAYA")
    refused = cli("team", "sync", team_file(tmp_path, grab, "grab.yaml"), "--as", "lee")
    assert refused.code == 2
    assert "slack_user_id U01MAYA of 'sam' already belongs to 'maya' (deactivated" in refused.stderr
    last = cli("team", "sync", team_file(tmp_path, without("lee"), "nolee.yaml"), "--as", "lee")
    assert (last.code, last.stderr.strip()) == (
        1,
        "error: refusing to leave the team with no active admin (lee deactivated): keep at "
        "least one person with the admin role",
    )
    assert all(m["active"] for m in cli("team", "list", "--json").json())
    assert cli("team", "log", "--json").json()[-1]["source"] == "sample"  # nothing written


def test_a_deactivated_admin_is_told_he_is_deactivated(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    dana_admin = without("lee").replace("roles: [data_scientist]", "roles: [data_scientist, admin]")
    assert cli("team", "sync", team_file(tmp_path, dana_admin), "--as", "lee").code == 0
    lee = cli("team", "sync", team_file(tmp_path, SAMPLE_TEAM, "back.yaml"), "--as", "lee")
    assert (lee.code, lee.stderr.strip()) == (1, "error: 'lee' is deactivated and cannot act")
    policy = cli("team", "policy", "--identity", "slack", "--as", "lee")
    assert (policy.code, policy.stderr.strip()) == (1, "error: 'lee' is deactivated and cannot act")


def test_team_policy_says_what_as_proves_and_an_admin_sets_it(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    shown = cli("team", "policy")
    assert shown.code == 0
    assert "identity: cli (the default: no serve with Slack has run on this ledger)" in shown.stdout
    assert "nothing beyond the OS user who typed it" in shown.stdout
    assert cli("team", "policy", "--json").json()["cli_may_decide"] is True
    sam = cli("team", "policy", "--identity", "slack", "--as", "sam")
    assert (sam.code, sam.stderr.strip()) == (
        1,
        "error: 'sam' needs the admin role to set the identity policy",
    )
    bad = cli("team", "policy", "--identity", "email", "--as", "lee")
    assert (bad.code, bad.stderr.strip()) == (2, "error: --identity is 'slack' or 'cli', not 'email'")
    set_ = cli("team", "policy", "--identity", "slack", "--as", "lee")
    assert set_.code == 0 and "identity policy is now slack" in set_.stderr
    assert "approvals, rejections and rollbacks come from Slack only" in set_.stdout
    as_json = cli("team", "policy", "--json").json()
    assert (as_json["identity"], as_json["explicit"], as_json["set_by"]) == ("slack", True, "lee")
    row = cli("team", "log", "--json").json()[-1]
    assert (row["by"], row["what"], row["old"], row["new"]) == (
        "lee", "identity_policy", "cli (default)", "slack",
    )  # fmt: skip


def test_under_slack_the_cli_changes_no_roster_until_an_admin_opens_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    serve_had_slack()
    renamed = team_file(tmp_path, SAMPLE_TEAM.replace("Sam Okafor", "Sam O."))
    refused = cli("team", "sync", renamed, "--as", "lee")
    assert refused.code == 1
    assert "only a verified Slack user may change the roster here" in refused.stderr
    assert "`promptloop team policy --identity cli --as ADMIN`" in refused.stderr
    assert cli("team", "policy", "--identity", "cli", "--as", "lee").code == 0
    assert cli("team", "sync", renamed, "--as", "lee").code == 0


def test_the_issue_case_env_without_the_token_is_refused_and_recorded(ledger: str, tmp_path: Path) -> None:
    """serve had Slack on this ledger; `env -u SLACK_BOT_TOKEN promptloop change approve`."""
    assert invoke("init", "--sample").code == 0
    change_id = awaiting_approval()
    serve_had_slack()
    env = {k: v for k, v in os.environ.items() if k != "SLACK_BOT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "promptloop", "change", "approve", str(change_id), "--as", "sam"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "refused: only a verified Slack user may approve or reject a deploy here" in done.stderr
    assert "(the attempt is recorded)" in done.stderr
    [row] = approvals("refused")
    assert (row.change_id, row.source, row.host) == (change_id, "cli", os.uname().nodename)
    assert state(change_id) == "awaiting_approval"
    reject = invoke("change", "reject", str(change_id), "--as", "sam", "--reason", "no")
    assert reject.code == 1 and len(approvals("refused")) == 2


def test_under_slack_a_click_deploys_and_the_cli_cannot_roll_back(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    assert invoke("init", "--sample").code == 0
    change_id = awaiting_approval()
    serve_had_slack()
    cli = invoke("change", "approve", str(change_id), "--as", "sam")
    assert cli.code == 1 and "identity policy is slack" in cli.stderr
    press = lambda action, user: signed(  # noqa: E731
        click(user=user, action_id=action, value=change_id, channel="C0DEPLOY"), secret=SECRET
    )
    assert gateway.send(*press(ids.DEPLOY_APPROVE, "U04SAM")).status_code == 200
    until(lambda: len(approvals("approve")) == 1)
    until(lambda: state(change_id) == "deployed")
    back = invoke("prompt", "rollback", "support-triage", "--as", "sam")
    assert back.code == 1 and "may roll production back here" in back.stderr
    assert "(the attempt is recorded)" in back.stderr
    assert (approvals("refused")[-1].reason or "").startswith("rollback: only a verified Slack")
    with Session(get_engine()) as session:
        assert session.exec(select(Deployment).where(Deployment.kind == "rollback")).all() == []
    assert gateway.send(*press(ids.DEPLOY_ROLLBACK, "U04SAM")).status_code == 200
    until(lambda: state(change_id) == "rolled_back")


def test_under_slack_a_click_from_a_deactivated_engineer_is_refused(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    assert invoke("init", "--sample").code == 0
    change_id = awaiting_approval()
    serve_had_slack()
    with Session(get_engine()) as session:
        sam = session.exec(select(Member).where(Member.handle == "sam")).one()
        sam.active = False
        session.add(sam)
        session.commit()
    body, headers = signed(
        click(user="U04SAM", action_id=ids.DEPLOY_APPROVE, value=change_id, channel="C0DEPLOY"),
        secret=SECRET,
    )
    assert gateway.send(body, headers).status_code == 200
    until(lambda: len(approvals("refused")) == 1)
    assert "'sam' is deactivated" in (approvals("refused")[0].reason or "")
    until(lambda: gateway_env.calls_to("chat.postEphemeral"))
    assert "deactivated" in gateway_env.calls_to("chat.postEphemeral")[-1].params["text"]
