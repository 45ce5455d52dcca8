"""Block Kit builders: escaped, within Slack's limits (validated by slack_sdk), blind."""

from __future__ import annotations

import json

import pytest
from fakes.slack_server import FakeSlackServer
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import DividerBlock

from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.blocks import (
    DeployRequestView,
    ReviewItemView,
    ReviewSummary,
    deploy_request,
    review_item,
    review_parent,
)
from integrations.slack.client import clients_from_settings
from integrations.slack.message import MAX_CHARS, SlackMessage, text_size
from integrations.slack.render import render_text, unescape
from integrations.slack.views import fail_reason_modal, full_text_modal

HOSTILE = "<!channel> hi <@U123> see <https://evil.example|your bank> & <!here>"


def _item(**kw: object) -> ReviewItemView:
    fields: dict[str, object] = {
        "sample_id": 42,
        "item_id": "ticket-7",
        "position": 3,
        "total": 10,
        "input": "My card was charged twice",
        "expected": "billing",
        "output": "billing",
        "baseline": "shipping",
    }
    return ReviewItemView(**{**fields, **kw})  # type: ignore[arg-type]


def _dump(message: SlackMessage) -> str:
    return json.dumps(message.outbox_fields())


def _buttons(blocks: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    found = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return found + [b["accessory"] for b in blocks if "accessory" in b]


def test_model_and_user_text_pings_and_links_nothing() -> None:
    item = _item(input=HOSTILE, output=HOSTILE, expected=HOSTILE, item_id="<!channel>")
    summary = ReviewSummary(
        change_id=5,
        prompt="triage",
        author="<!channel>",
        author_slack_id=None,
        note=HOSTILE,
        headline=HOSTILE,
        items=10,
    )
    deploy = _deploy(diff=HOSTILE, scorecard=[HOSTILE], review_outcome=HOSTILE)
    for message in (review_item(item), review_parent(summary), deploy_request(deploy)):
        dumped = _dump(message)
        for live in ("<!channel>", "<@U123>", "<https://evil", "<!here>"):
            assert live not in dumped
        assert "&lt;!channel&gt;" in dumped and "&amp;" in dumped
    assert "&lt;!channel&gt;" in json.dumps(
        fail_reason_modal(sample_id=1, categories=["x"], item_id="<!channel>").to_dict()
    )


def test_a_trusted_slack_id_is_a_mention_and_the_run_a_link() -> None:
    summary = ReviewSummary(
        change_id=5,
        prompt="triage",
        author="maya",
        author_slack_id="U01MAYA",
        note=None,
        headline="accuracy 0.82 → 0.88",
        items=10,
        run_url="http://127.0.0.1:4200/runs/flow-run/ab&c",
    )
    dumped = _dump(review_parent(summary, voted_items=4))
    assert "<@U01MAYA>" in dumped and "4/10 voted" in dumped
    assert "<http://127.0.0.1:4200/runs/flow-run/ab&amp;c|Prefect run>" in dumped
    spoofed = ReviewSummary(**{**summary.__dict__, "author_slack_id": "U1> <!channel"})
    assert "<!channel" not in _dump(review_parent(spoofed))


def test_a_10000_character_output_fits_with_show_full_buttons() -> None:
    long = ("&<>" + "x" * 97) * 100  # 10,000 characters, escaping makes it longer
    item = _item(input=long, expected=long, output=long, baseline=long[::-1])
    blocks = review_item(item).as_json()  # slack_sdk validates every block
    assert len(blocks) <= 50 and text_size(blocks) <= MAX_CHARS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if "text" in b)
    shows = {
        b["action_id"]: b["value"] for b in _buttons(blocks) if b["action_id"] != ids.REVIEW_PASS
    }
    assert {ids.show_full_field(a) for a in shows if ids.show_full_field(a)} == {
        "input",
        "expected",
        "output",
        "baseline",
    }
    assert set(shows.values()) == {"42"}
    modal = full_text_modal(title="Candidate's output", text=long).to_dict()
    assert all(len(b["text"]["text"]) <= 3000 for b in modal["blocks"])
    assert unescape("".join(b["text"]["text"] for b in modal["blocks"])) == long


def test_the_item_message_is_blind_while_open() -> None:
    item = _item(voters=2)
    blocks = review_item(item).as_json()
    dumped = json.dumps(blocks).lower()
    for verdict in ("judge", "score", "passed", "failed", "correct"):
        assert verdict not in dumped
    assert "2 experts voted" in dumped
    buttons = _buttons(blocks)
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.REVIEW_PASS, "42"),
        (ids.REVIEW_FAIL, "42"),
    ]
    closed = review_item(_item(closed="passed 2–1")).as_json()
    assert not _buttons(closed) and "Closed: passed 2–1" in json.dumps(closed, ensure_ascii=False)


def test_the_baseline_is_shown_only_when_it_differs() -> None:
    assert "Production" in _dump(review_item(_item()))
    assert "Production" not in _dump(review_item(_item(baseline="billing")))


def test_the_fail_modal_offers_the_configured_categories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTLOOP_REVIEW_FAIL_CATEGORIES", '["wrong team", "rude"]')
    get_settings.cache_clear()
    view = fail_reason_modal(
        sample_id=42, categories=get_settings().review_fail_categories, item_id="ticket-7"
    ).to_dict()
    assert (view["callback_id"], view["private_metadata"]) == (ids.FAIL_REASON_VIEW, "42")
    select = next(b for b in view["blocks"] if b.get("block_id") == ids.FAIL_CATEGORY_BLOCK)
    assert [o["value"] for o in select["element"]["options"]] == ["wrong team", "rude"]
    free = next(b for b in view["blocks"] if b.get("block_id") == ids.FAIL_TEXT_BLOCK)
    assert free["optional"] is True and free["element"]["action_id"] == ids.FAIL_TEXT_ACTION


def _deploy(**kw: object) -> DeployRequestView:
    fields: dict[str, object] = {
        "change_id": 9,
        "prompt": "triage",
        "author": "maya",
        "author_slack_id": None,
        "from_version": 3,
        "to_version": 4,
        "scorecard": ["accuracy 0.82 → 0.88 (+0.06, p=0.03)", "latency p95 1.2 s → 1.1 s"],
        "review_outcome": "9 of 10 items passed (3 experts)",
        "diff": "- old\n+ new",
    }
    return DeployRequestView(**{**fields, **kw})  # type: ignore[arg-type]


def test_the_deploy_request_says_the_judge_is_not_calibrated_and_cuts_the_diff() -> None:
    blocks = deploy_request(_deploy(diff="+ line\n" * 3000)).as_json()
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "not calibrated" in dumped and "accuracy 0.82 → 0.88" in dumped
    assert "triage: v3 → v4" in dumped and "9 of 10 items passed" in dumped
    buttons = {b["action_id"]: b["value"] for b in _buttons(blocks)}
    assert buttons == {
        ids.show_full_action("diff"): "9",
        ids.DEPLOY_APPROVE: "9",
        ids.DEPLOY_REJECT: "9",
    }
    assert text_size(blocks) <= MAX_CHARS


def test_more_than_50_blocks_is_refused() -> None:
    with pytest.raises(SlackObjectFormationError, match="50"):
        SlackMessage(text="x", blocks=[DividerBlock() for _ in range(51)]).as_json()


def test_a_message_reads_as_plain_text_without_slack() -> None:
    shown = render_text(review_item(_item(output=HOSTILE)).as_json())
    assert "Candidate's output" in shown and HOSTILE in shown
    assert "[Pass] [Fail]" in shown and "Item 3 of 10" in shown


def test_slack_accepts_the_modals_through_the_real_client(slack: FakeSlackServer) -> None:
    clients = clients_from_settings(get_settings())
    assert clients is not None
    client = clients[0]
    assert client.auth_test()["user_id"] == FakeSlackServer.BOT_USER
    view = fail_reason_modal(sample_id=42, categories=["rude"], item_id="t-1")
    assert client.views_open(trigger_id="1.2.abc", view=view)["view"]["id"]
    client.views_open(trigger_id="1.2.abd", view=full_text_modal(title="Output", text="x" * 9000))
    opened = slack.views
    assert [v["callback_id"] for v in opened] == [ids.FAIL_REASON_VIEW, ids.FULL_TEXT_VIEW]
    assert len(opened[1]["blocks"]) == 4  # 9000 characters in sections of up to 2900
