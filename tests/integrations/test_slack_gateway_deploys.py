"""Engineers decide deploys in Slack, through the gateway over HTTP (SQLite, PostgreSQL):
the author who is an engineer is refused (and told, and it is recorded), another engineer
deploys; Reject asks for the reason in a modal; twenty engineers clicking Approve at once
make one deployment and the others are told who approved first."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway
from review_support import change_in_review
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.slack import ids
from integrations.slack.signing import click, reject_submission, signed
from roles.ledger import Approval, Deployment
from roles.roster import Person, sync_team
from roles.states import State
from roles.transitions import get_change, transition
from roles.who import Who


def awaiting_approval() -> int:
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session)
        transition(session, change_id=change_id, target=State.AWAITING_APPROVAL, actor="promptloop")
        session.commit()
    return change_id


def until(done, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the gateway did not get there"
        time.sleep(0.05)


def rows(kind):  # type: ignore[no-untyped-def]
    with Session(get_engine()) as session:
        return session.exec(select(kind)).all()


def test_the_author_is_refused_and_told_another_engineer_deploys(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    with Session(get_engine()) as session:
        people = [Person(handle="maya", name="Maya", roles=["pm", "engineer"], slack_user_id="U01MAYA")]
        sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
        session.commit()
    approve = lambda user: signed(  # noqa: E731
        click(user=user, action_id=ids.DEPLOY_APPROVE, value=change_id, channel="C0DEPLOY"),
        secret=SECRET,
    )
    assert gateway.send(*approve("U01MAYA")).status_code == 200
    until(lambda: len(rows(Approval)) == 1)
    until(lambda: gateway_env.calls_to("chat.postEphemeral"))
    told = gateway_env.calls_to("chat.postEphemeral")[-1].params
    assert told["user"] == "U01MAYA" and "separation of duties" in told["text"]
    assert rows(Approval)[0].decision == "refused" and rows(Approval)[0].source == "slack"
    assert gateway.send(*approve("U04SAM")).status_code == 200
    until(lambda: len(rows(Deployment)) == 1)
    with Session(get_engine()) as session:
        assert get_change(session, change_id).state == "deployed"
    replay = approve("U04SAM")
    assert gateway.send(*replay).status_code == 200 and gateway.send(*replay).status_code == 200
    gateway.stop()  # the replays' work, if any, is done
    assert len(rows(Deployment)) == 1


def test_reject_opens_a_modal_and_its_reason_reaches_the_ledger(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    pressed = click(user="U04SAM", action_id=ids.DEPLOY_REJECT, value=change_id, channel="C0DEPLOY")
    assert gateway.send(*signed(pressed, secret=SECRET)).status_code == 200
    until(lambda: gateway_env.calls_to("views.open"))
    view = gateway_env.calls_to("views.open")[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == ids.REJECT_REASON_VIEW and view["private_metadata"] == str(change_id)
    submitted = reject_submission(user="U04SAM", change_id=change_id, reason="too risky before the holidays")
    assert gateway.send(*signed(submitted, secret=SECRET)).status_code == 200
    until(lambda: any(a.decision == "reject" for a in rows(Approval)))
    with Session(get_engine()) as session:
        change = get_change(session, change_id)
        assert change.state == "rejected"
    empty = reject_submission(user="U04SAM", change_id=change_id, reason="  ")
    assert gateway.send(*signed(empty, secret=SECRET)).status_code == 400


def test_twenty_engineers_click_approve_at_once_one_deployment(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    change_id = awaiting_approval()
    users = [f"U8{n:04d}" for n in range(20)]
    with Session(get_engine()) as session:
        people = [
            Person(handle=f"eng{n}", name=f"Engineer {n}", roles=["engineer"], slack_user_id=u)
            for n, u in enumerate(users)
        ]
        sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
        session.commit()
    requests = [
        signed(click(user=u, action_id=ids.DEPLOY_APPROVE, value=change_id, channel="C0DEPLOY"),
               secret=SECRET)
        for u in users
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda r: gateway.send(*r).status_code, requests))
    assert statuses == [200] * 20
    until(lambda: len(gateway_env.calls_to("chat.postEphemeral")) >= 20)
    assert len(rows(Deployment)) == 1
    answers = [c.params["text"] for c in gateway_env.calls_to("chat.postEphemeral")]
    assert sum("deployed, production is now" in a for a in answers) == 1
    assert all("approved by eng" in a for a in answers if "deployed, production" not in a), answers
