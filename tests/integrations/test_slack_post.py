"""A review as the pipeline will post it: built messages into the outbox, out to a fake Slack."""

from __future__ import annotations

import json

import pytest
from fakes.slack_server import FakeSlackServer
from sqlmodel import Session

from integrations.settings import get_settings
from integrations.slack.blocks import ReviewItemView, ReviewSummary, review_item
from integrations.slack.outbox import DeliveryPolicy, deliver_pending
from integrations.slack.post import channel_for, post_review, revise_message
from roles.errors import InputError
from roles.ledger import OutboxKind
from roles.outbox import get_message
from roles.pm import submit_change
from roles.prompt_file import parse_prompt_file
from roles.sample import load_sample, sample_path

FAST = DeliveryPolicy(backoff_base_s=0.02, backoff_max_s=0.1, poll_s=0.01)


@pytest.fixture
def slack(slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch) -> FakeSlackServer:
    monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "CREVIEW")
    get_settings.cache_clear()
    return slack


def _change(session: Session) -> int:
    load_sample(session)
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    change = submit_change(session, spec=spec, author="maya", note="few-shot <!channel>")
    session.commit()
    assert change.id is not None
    return change.id


def _summary(change_id: int) -> ReviewSummary:
    return ReviewSummary(
        change_id=change_id,
        prompt="support-triage",
        author="maya",
        author_slack_id="U01MAYA",
        note="few-shot <!channel>",
        headline="accuracy +0.06",
        items=2,
    )


def _item(position: int, voters: int = 0) -> ReviewItemView:
    return ReviewItemView(
        sample_id=100 + position,
        item_id=f"t-{position}",
        position=position,
        total=2,
        input="question",
        expected="billing",
        output="<!here> billing",
        voters=voters,
    )


def test_a_review_reaches_slack_as_a_thread_and_its_tally_is_updated(
    slack: FakeSlackServer, session: Session
) -> None:
    change_id = _change(session)
    parent, items = post_review(session, summary=_summary(change_id), items=[_item(1), _item(2)])
    session.commit()
    again, _ = post_review(session, summary=_summary(change_id), items=[_item(1), _item(2)])
    assert again.id == parent.id  # a resumed flow writes the same step again: the same rows
    assert deliver_pending(policy=FAST, wait_s=5).posted == 3
    shown = slack.in_channel("CREVIEW")
    assert [m.thread_ts for m in shown] == [None, shown[0].ts, shown[0].ts]
    assert "<!here>" not in json.dumps(shown[1].blocks) and "<@U01MAYA>" in json.dumps(
        shown[0].blocks
    )
    assert items[0].id is not None
    assert revise_message(session, message_id=items[0].id, message=review_item(_item(1, voters=1)))
    session.commit()
    assert deliver_pending(policy=FAST, wait_s=3).updated == 1  # at the pace of 1/s
    assert "1 expert voted" in json.dumps(slack.in_channel("CREVIEW")[1].blocks)
    assert get_message(session, message_id=items[0].id).delivered_revision == 2


def test_with_slack_a_kind_needs_its_channel(slack: FakeSlackServer) -> None:
    assert channel_for(OutboxKind.REVIEW_ITEM) == "CREVIEW"
    with pytest.raises(InputError, match="PROMPTLOOP_SLACK_DEPLOY_CHANNEL"):
        channel_for(OutboxKind.DEPLOY_REQUEST)


def test_without_slack_a_kind_goes_to_a_named_stand_in(ledger: str) -> None:
    assert channel_for(OutboxKind.NOTICE) == "#alerts"


def test_a_channel_setting_must_be_an_id(ledger: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "#review")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="PROMPTLOOP_SLACK_REVIEW_CHANNEL"):
        get_settings()
