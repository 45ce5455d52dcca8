"""What the gateway answers people it refuses, and the modals it opens: the fail reason
and the full text. Refused clicks write nothing (SQLite; the core flow runs on both)."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import RunningGateway, review_in_slack, running_gateway, votes
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.signing import click, fail_submission, signed
from roles.ledger import OutboxMessage, SlackRequest
from roles.roster import Person, sync_team
from roles.who import Who

pytestmark = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)
OMAR, INES, SAM, NOBODY = "U02OMAR", "U03INES", "U04SAM", "U09NOBODY"


def answers(slack: FakeSlackServer, user: str, count: int = 1, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = [e["text"] for e in slack.ephemerals if e["user"] == user]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def outbox_revisions(session: Session) -> dict[int, int]:
    session.expire_all()
    return {m.id or 0: m.revision for m in session.exec(select(OutboxMessage)).all()}


def test_a_non_expert_and_an_unknown_slack_user_are_refused_and_nothing_is_written(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        before = outbox_revisions(session)
        for user in (SAM, NOBODY):
            for action in (ids.REVIEW_PASS, ids.REVIEW_FAIL):
                assert (
                    gateway.post(click(user=user, action_id=action, value=first)).status_code == 200
                )
        said = answers(gateway_env, SAM, 2) + answers(gateway_env, NOBODY, 2)
        assert len(said) == 4 and all(text.startswith("Not allowed:") for text in said)
        assert "'sam' needs the expert role" in said[0]
        assert "U09NOBODY is not on the team" in said[2]
        assert votes(session) == [] and gateway_env.views == []
        assert outbox_revisions(session) == before
        assert session.exec(select(SlackRequest)).all() == []


def test_fail_opens_the_modal_and_its_submission_records_category_and_reason(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        assert (
            gateway.post(click(user=OMAR, action_id=ids.REVIEW_FAIL, value=first)).status_code
            == 200
        )
        deadline = time.monotonic() + 10
        while not gateway_env.views and time.monotonic() < deadline:
            time.sleep(0.02)
        (modal,) = gateway_env.views
        assert modal["callback_id"] == ids.FAIL_REASON_VIEW
        assert modal["private_metadata"] == str(first)
        options = modal["blocks"][1]["element"]["options"]
        assert [o["value"] for o in options][:2] == ["wrong", "incomplete"]  # the review's
        assert votes(session) == []  # opening the modal decides nothing

        submitted = gateway.post(
            fail_submission(user=OMAR, sample_id=first, category="wrong", reason="a billing ticket")
        )
        assert submitted.status_code == 200 and submitted.text == ""  # closes the modal
        (said,) = answers(gateway_env, OMAR)
        assert said.startswith("Recorded: fail")
        (vote,) = votes(session)
        assert (vote.verdict, vote.category, vote.reason, vote.source) == (
            "fail", "wrong", "a billing ticket", "slack",
        )  # fmt: skip
        (ephemeral,) = gateway_env.ephemerals
        assert ephemeral["channel"] == "C0REVIEW"  # where the item's message is


def test_a_closed_review_an_unknown_button_and_a_foreign_category_are_answered(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, second) = review_in_slack(session)
        gateway.post(fail_submission(user=OMAR, sample_id=first, category="nonsense", reason=None))
        assert "is not one of this review's" in answers(gateway_env, OMAR)[0]
        gateway.post(click(user=OMAR, action_id=ids.REVIEW_PASS, value=first))
        gateway.post(click(user=INES, action_id=ids.REVIEW_PASS, value=second))
        answers(gateway_env, INES)
        assert len(votes(session)) == 2  # the review is complete now

        gateway.post(click(user=INES, action_id=ids.REVIEW_PASS, value=first))
        gateway.post(click(user=INES, action_id=ids.REVIEW_FAIL, value=first))
        gateway.post(click(user=INES, action_id="something_else", value=1))
        said = sorted(answers(gateway_env, INES, 4)[1:])  # answered as each is done
        assert said[0].startswith("Not recorded:") and said[1].startswith("Not recorded:")
        assert all("complete; it takes no more votes" in text for text in said[:2])
        assert "does not handle the button 'something_else'" in said[2]
        assert len(votes(session)) == 2 and gateway_env.views == []


def test_malformed_payloads_are_refused_with_400_and_write_nothing(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        not_an_id = gateway.post(click(user=OMAR, action_id=ids.REVIEW_PASS, value="1 OR 1=1"))
        assert not_an_id.status_code == 400 and "not an id" in not_an_id.text
        no_user = click(user=OMAR, action_id=ids.REVIEW_PASS, value=first)
        del no_user["user"]
        assert gateway.post(no_user).status_code == 400
        no_category = fail_submission(user=OMAR, sample_id=first, category="", reason=None)
        assert gateway.post(no_category).status_code == 400
        body = urlencode({"payload": "{not json"})
        _, headers = signed({}, secret="unused")
        from gateway_support import SECRET

        from integrations.slack.signing import signature

        headers["X-Slack-Signature"] = signature(
            body, secret=SECRET, timestamp=int(headers["X-Slack-Request-Timestamp"])
        )
        not_json = gateway.send(body, headers)
        assert not_json.status_code == 400 and "not JSON" in not_json.text
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
        assert gateway.send(body, headers).status_code == 401  # forged first, malformed second
        gateway.stop()  # had it taken any of them, that work would be done now
        assert votes(session) == [] and gateway_env.ephemerals == []


def test_another_workspace_is_refused(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SLACK_TEAM_ID", "T0FAKE")
    get_settings.cache_clear()
    with Session(get_engine(), expire_on_commit=False) as session, running_gateway() as gateway:
        _, (first, _) = review_in_slack(session)
        foreign = gateway.post(
            click(user=OMAR, action_id=ids.REVIEW_PASS, value=first, team="T0EVIL")
        )
        assert foreign.status_code == 403 and "serves workspace T0FAKE" in foreign.text
        gateway.stop()  # had it taken the click, its work would be done now
        assert votes(session) == [] and gateway_env.ephemerals == []
    with Session(get_engine(), expire_on_commit=False) as session, running_gateway() as gateway:
        ours = gateway.post(click(user=OMAR, action_id=ids.REVIEW_PASS, value=first))
        assert ours.status_code == 200
        answers(gateway_env, OMAR)
        assert len(votes(session)) == 1


def test_show_full_opens_the_whole_text_read_only(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        action = ids.show_full_action("input")
        assert gateway.post(click(user=SAM, action_id=action, value=first)).status_code == 200
        deadline = time.monotonic() + 10
        while not gateway_env.views and time.monotonic() < deadline:
            time.sleep(0.02)
        (modal,) = gateway_env.views
        assert modal["callback_id"] == ids.FULL_TEXT_VIEW and "submit" not in modal
        assert modal["title"]["text"].startswith("Input")
        assert votes(session) == []
        gateway.post(click(user=SAM, action_id=ids.show_full_action("diff"), value=first))
        assert "cannot show" in answers(gateway_env, SAM)[0]


def test_healthz_says_the_ledger_is_reachable(gateway: RunningGateway) -> None:
    answer = gateway.http.get("/healthz")
    from integrations.db import ledger_tag, shown_url

    assert answer.status_code == 200
    assert answer.json() == {
        "ok": True,
        "ledger": "reachable",
        "ledger_tag": ledger_tag(),  # a client at another home's gateway can tell
        "ledger_url": shown_url(),
    }


def test_an_inactive_expert_is_refused(
    gateway: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        _, (first, _) = review_in_slack(session)
        people = [Person(handle="omar", name="Omar", roles=["expert"], slack_user_id=OMAR)]
        sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
        from roles.roster import find_member

        find_member(session, handle="omar").active = False
        session.commit()
        gateway.post(click(user=OMAR, action_id=ids.REVIEW_PASS, value=first))
        assert "deactivated" in answers(gateway_env, OMAR)[0]
        assert votes(session) == []
        assert json.dumps(gateway_env.views) == "[]"
