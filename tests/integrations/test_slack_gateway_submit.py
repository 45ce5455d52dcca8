"""PMs submit prompt changes from Slack, through the gateway over HTTP (SQLite, PostgreSQL):
``/promptloop change NAME`` opens the form filled with production, a submission runs
``change submit``'s checks (errors by field, nothing written), a good one is a change by
the Slack user's member whose pipeline start is attempted, written once however often it
comes; refusals, ``status``, ``help`` and the shortcut."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import yaml
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway
from sqlalchemy import func
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.signing import shortcut, signed, signed_form, slash_command, view_submission
from roles.ledger import ChangeRequest, Member, OutboxMessage, PromptVersion
from roles.registry import PRODUCTION, find_prompt, label_target
from roles.sample import load_sample

MAYA, SAM, NOBODY = "U01MAYA", "U04SAM", "U0NOBODY"
# A "billion laughs" in a form field: seven levels of nine aliases each, 9**7 strings.
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]\n"
    for before, name in zip("abcdef", "bcdefg", strict=True)
)


@pytest.fixture
def sample(gateway: RunningGateway) -> RunningGateway:
    with Session(get_engine()) as session:
        load_sample(session)
        session.commit()
    return gateway


def until(done, timeout: float = 20.0) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (found := done()):
        assert time.monotonic() < deadline, "the gateway did not get there"
        time.sleep(0.05)
    return found


def command(gateway: RunningGateway, user: str, text: str) -> httpx.Response:
    return gateway.send(*signed_form(slash_command(user=user, text=text), secret=SECRET))


def opened(slack: FakeSlackServer, count: int = 1) -> dict[str, Any]:
    """The view of the ``count``-th views.open call, once it is made."""
    calls = until(
        lambda: len(slack.calls_to("views.open")) >= count and slack.calls_to("views.open")
    )
    view = calls[count - 1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def shown(view: dict[str, Any]) -> dict[str, str | None]:
    """What each text input of the form holds, by block id (what Slack sends back)."""
    return {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input" and b["element"]["type"] == "plain_text_input"
    }


def submit(
    gateway: RunningGateway, view: dict[str, Any], user: str = MAYA, **edits: str
) -> httpx.Response:
    texts = shown(view) | {
        ids.change_block(k) if k != "note" else ids.CHANGE_NOTE_BLOCK: v for k, v in edits.items()
    }
    payload = view_submission(
        view, user=user, texts={b: {ids.CHANGE_TEXT_ACTION: t} for b, t in texts.items()}
    )
    return gateway.post(payload)


def counts() -> tuple[int, int]:
    with Session(get_engine()) as session:
        changes = session.exec(select(func.count()).select_from(ChangeRequest)).one()
        versions = session.exec(select(func.count()).select_from(PromptVersion)).one()
    return changes, versions


def production() -> PromptVersion:
    with Session(get_engine()) as session:
        version = label_target(
            session, prompt=find_prompt(session, name="support-triage"), label=PRODUCTION
        )
        assert version is not None
        return version


def test_the_change_command_opens_the_form_filled_with_production(
    sample: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    answer = command(sample, MAYA, "change support-triage")
    assert answer.status_code == 200 and not answer.content  # acknowledged; the form follows
    view = opened(gateway_env)
    assert view["callback_id"] == ids.CHANGE_VIEW
    assert json.loads(view["private_metadata"]) == {"prompt": "support-triage", "version": 1}
    fields = shown(view)
    version = production()
    assert fields[ids.change_block("system")] == version.system
    assert fields[ids.change_block("template")] == version.template
    assert fields[ids.change_block("model")] == version.model
    assert yaml.safe_load(fields[ids.change_block("params")] or "") == version.params
    assert (yaml.safe_load(fields[ids.change_block("examples")] or "[]") or []) == version.examples
    assert fields[ids.CHANGE_NOTE_BLOCK] is None


@pytest.mark.parametrize(
    ("field", "text", "said"),
    [
        ("template", "Ticket: {{ ticket ", "template error on line 1"),
        ("template", "Ticket: {{ customer }}", "variable 'customer' is undefined"),
        ("system", "{% if %}", "the system text field: template error"),
        ("examples", "- input: {ticket: [", "the few-shot examples field, line 1: not valid YAML"),
        ("examples", "- input: {ticket: Refund me}", "examples.0.output: Field required"),
        ("examples", "- input: {order: 7}\n  output: billing", "variable 'ticket' is undefined"),
        ("params", "temperature: 7", "params.temperature: Input should be less than or equal to 2"),
        ("params", "colour: blue", "params.colour: Extra inputs are not permitted"),
        ("params", "[1, 2]", "the model parameters are a mapping"),
        (  # a billion laughs (310 characters): refused at its first anchor, nothing expanded
            "params",
            LAUGHS,
            "the model parameters field, line 1: YAML aliases and anchors (&a) are not allowed",
        ),
        ("params", "[" * 1500 + "]" * 1500, "line 1: nested deeper than 100 levels"),
    ],
)
def test_a_bad_field_is_shown_next_to_it_and_nothing_is_written(
    sample: RunningGateway, gateway_env: FakeSlackServer, field: str, text: str, said: str
) -> None:
    command(sample, MAYA, "change support-triage")
    view = opened(gateway_env)
    before = counts()
    answer = submit(sample, view, **{field: text})
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [ids.change_block(field)], body
    assert said in body["errors"][ids.change_block(field)]
    assert counts() == before


def test_a_good_submission_is_a_change_by_the_member_written_once(
    sample: RunningGateway, gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Evaluation on, and no Prefect server with this ledger's deployment for the gateway:
    # the run cannot be created, and the change stays recorded with why (as `change submit`
    # leaves it). tests/flows/test_slack_submit.py has the run created on a real server.
    monkeypatch.setenv("PROMPTLOOP_AUTO_EVALUATE", "true")
    get_settings.cache_clear()
    command(sample, MAYA, "change support-triage")
    view = opened(gateway_env)
    before = counts()
    edits = {
        "template": "Ticket: {{ ticket }}\nOne word (billing, technical, account):",
        "note": "clearer ask",
    }
    payload = view_submission(
        view,
        user=MAYA,
        texts={b: {ids.CHANGE_TEXT_ACTION: t} for b, t in (shown(view) | {
            ids.change_block("template"): edits["template"], ids.CHANGE_NOTE_BLOCK: edits["note"]}).items()},
    )  # fmt: skip
    answer = sample.post(payload)
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_action"] == "update" and "Change #" in json.dumps(body["view"])
    retried = sample.post(payload, timestamp=int(time.time()) + 1)  # Slack sends it again
    assert retried.status_code == 200 and not retried.content  # known: the form just closes
    assert counts() == (before[0] + 1, before[1] + 1)
    with Session(get_engine()) as session:
        change = session.exec(select(ChangeRequest)).one()
        author = session.get(Member, change.author_id)
        assert author is not None and author.handle == "maya"
        assert change.state == "submitted" and change.note == "clearer ask"
        candidate = session.get(PromptVersion, change.candidate_version_id)
        assert candidate is not None and candidate.template == edits["template"]
        assert candidate.system == production().system  # what was not edited stays
    change_id = change.id

    def told() -> OutboxMessage | None:
        with Session(get_engine()) as session:
            return session.exec(select(OutboxMessage).where(OutboxMessage.channel == MAYA)).first()

    notice = until(told)
    text = json.dumps(notice.blocks)
    assert (
        f"change #{change_id} is submitted" in text
        and f"promptloop change evaluate {change_id}" in text
    )
    with Session(get_engine()) as session:
        change = session.get_one(ChangeRequest, change_id)
        assert change.evaluation_error_kind == "outage" and change.flow_run_id is None
    # The same content again, from a new form: one open change per candidate (the ledger's rule).
    command(sample, MAYA, "change support-triage")
    again = submit(sample, opened(gateway_env, 2), template=edits["template"])
    assert again.json()["response_action"] == "errors"
    assert (
        f"change {change_id} already proposes"
        in again.json()["errors"][ids.change_block("template")]
    )
    assert counts() == (before[0] + 1, before[1] + 1)


def test_status_lists_the_members_open_changes(
    sample: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    assert command(sample, MAYA, "status").status_code == 200
    empty = until(lambda: gateway_env.calls_to("chat.postEphemeral"))[-1].params
    assert empty["user"] == MAYA and "no open changes" in empty["text"]
    command(sample, MAYA, "change support-triage")
    assert (
        submit(sample, opened(gateway_env), template="Ticket: {{ ticket }}\nCategory?").status_code
        == 200
    )
    assert command(sample, MAYA, "status").status_code == 200
    listed = until(
        lambda: (
            len(gateway_env.calls_to("chat.postEphemeral")) >= 2
            and gateway_env.calls_to("chat.postEphemeral")
        )
    )
    text = listed[-1].params["text"]
    assert "*#1* support-triage v1 → v2: *submitted*" in text
    assert "not evaluated (PROMPTLOOP_AUTO_EVALUATE=false)" in text


def test_help_and_an_unknown_subcommand_answer_with_the_usage(sample: RunningGateway) -> None:
    helped = command(sample, MAYA, "help")
    assert helped.status_code == 200 and "/promptloop status" in helped.json()["text"]
    wrong = command(sample, MAYA, "deploy <!channel>")
    said = wrong.json()["text"]
    assert (
        "promptloop has no command `deploy &lt;!channel&gt;`" in said
        and "/promptloop change NAME" in said
    )
    assert "takes one prompt name" in command(sample, MAYA, "change a b").json()["text"]


def test_an_unknown_prompt_is_answered_and_no_form_opens(
    sample: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    assert command(sample, MAYA, "change support-triage2").status_code == 200
    said = until(lambda: gateway_env.calls_to("chat.postEphemeral"))[-1].params
    assert (
        said["channel"] == "C0PM" and "there is no prompt named 'support-triage2'" in said["text"]
    )
    assert gateway_env.calls_to("views.open") == []


@pytest.mark.parametrize(
    ("user", "said"),
    [
        (NOBODY, "Slack user U0NOBODY is not on the team"),
        (SAM, "'sam' needs the pm or expert role"),
        (MAYA, "'maya' is deactivated"),
    ],
)
def test_who_may_not_submit_is_refused_and_nothing_is_written(
    sample: RunningGateway, gateway_env: FakeSlackServer, user: str, said: str
) -> None:
    command(sample, MAYA, "change support-triage")
    view = opened(gateway_env)  # a form maya opened while she could
    if user == MAYA:
        with Session(get_engine()) as session:
            maya = session.exec(select(Member).where(Member.handle == "maya")).one()
            maya.active = False
            session.add(maya)
            session.commit()
    before = counts()
    assert command(sample, user, "change support-triage").status_code == 200
    refused = until(lambda: gateway_env.calls_to("chat.postEphemeral"))[-1].params
    assert refused["user"] == user and said in refused["text"]
    assert len(gateway_env.calls_to("views.open")) == 1  # no form for them
    answer = submit(sample, view, user=user, template="Ticket: {{ ticket }}\nWhich?")
    body = answer.json()
    assert body["response_action"] == "update" and said in json.dumps(body["view"])
    assert counts() == before


def test_the_shortcut_opens_the_picker_which_becomes_the_form(
    sample: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    assert sample.post(shortcut(user=MAYA)).status_code == 200
    picker = opened(gateway_env)
    assert picker["callback_id"] == ids.PICK_PROMPT_VIEW
    options = picker["blocks"][0]["element"]["options"]
    assert [o["value"] for o in options] == ["support-triage"]
    picked = view_submission(
        picker,
        user=MAYA,
        selected={ids.PICK_PROMPT_BLOCK: {ids.PICK_PROMPT_ACTION: "support-triage"}},
    )
    body = sample.post(picked).json()
    assert body["response_action"] == "update"
    form = body["view"]
    assert form["callback_id"] == ids.CHANGE_VIEW
    assert shown(form)[ids.change_block("template")] == production().template
    assert command(sample, MAYA, "").status_code == 200  # `/promptloop` alone: the picker too
    assert opened(gateway_env, 2)["callback_id"] == ids.PICK_PROMPT_VIEW


def test_a_request_not_signed_by_slack_is_refused(sample: RunningGateway) -> None:
    body, headers = signed_form(slash_command(user=MAYA, text="status"), secret="not-the-secret")
    assert sample.send(body, headers).status_code == 401
    assert sample.send(*signed(shortcut(user=MAYA), secret="wrong")).status_code == 401


def test_a_field_too_long_for_slack_is_never_cut_it_stays_and_the_form_says_so(
    sample: RunningGateway, gateway_env: FakeSlackServer
) -> None:
    from roles.prompt_file import parse_prompt_file
    from roles.registry import move_label, push
    from roles.roster import find_member
    from roles.sample import sample_path

    long_system = "You sort support tickets. " + "Be brief; answer with one word. " * 120
    with Session(get_engine()) as session:
        spec = parse_prompt_file(sample_path("support-triage.yaml"))
        version, _ = push(
            session, spec=spec.model_copy(update={"system": long_system}), actor="maya"
        )
        move_label(
            session,
            prompt=find_prompt(session, name="support-triage"),
            label=PRODUCTION,
            version=version,
            actor=find_member(session, handle="lee"),
        )
        session.commit()
    assert len(long_system) > 3000
    command(sample, MAYA, "change support-triage")
    view = opened(gateway_env)
    assert ids.change_block("system") not in shown(view)  # no input: it could only be cut
    warned = json.dumps(view["blocks"])
    assert f"The *system text* is {len(long_system):,} characters long" in warned
    assert "promptloop prompt export support-triage" in warned
    answer = submit(sample, view, template="Ticket: {{ ticket }}\nWhich one?")
    assert answer.json()["response_action"] == "update"
    with Session(get_engine()) as session:
        change = session.exec(select(ChangeRequest)).one()
        candidate = session.get_one(PromptVersion, change.candidate_version_id)
        assert (
            candidate.system == long_system
            and candidate.template == "Ticket: {{ ticket }}\nWhich one?"
        )


def test_a_command_from_another_workspace_is_refused(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_support import running_gateway

    monkeypatch.setenv("PROMPTLOOP_SLACK_TEAM_ID", "T0FAKE")
    get_settings.cache_clear()
    with running_gateway() as gateway:
        foreign = slash_command(user=MAYA, text="help", team="T0EVIL")
        refused = gateway.send(*signed_form(foreign, secret=SECRET))
        assert refused.status_code == 403 and "serves workspace T0FAKE" in refused.text
        assert command(gateway, MAYA, "help").status_code == 200


def test_with_no_slack_workspace_the_form_opens_through_the_local_stand_in(
    ledger: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from gateway_support import running_gateway

    from integrations.slack.local import local_secret

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="promptloop.gateway")
    with Session(get_engine()) as session:
        load_sample(session)
        session.commit()
    with running_gateway() as gateway:
        fields = slash_command(user=MAYA, text="change support-triage")
        assert gateway.send(*signed_form(fields, secret=local_secret())).status_code == 200
        until(lambda: "views.open for -: Change support-triage" in caplog.text)
        fields = slash_command(user=MAYA, text="status")
        assert gateway.send(*signed_form(fields, secret=local_secret())).status_code == 200
        until(lambda: "chat.postEphemeral for U01MAYA: You have no open changes" in caplog.text)
