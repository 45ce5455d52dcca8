"""A change submitted from Slack gets its pipeline run as `change submit` gives it one: on a
real Prefect test server, the gateway over HTTP creates the run of this ledger's
deployment (no `serve` runs it here: it waits Scheduled, as when serve is down), records
it on the change, and the author's direct message carries its Prefect link."""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, running_gateway
from sqlmodel import Session, select

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.signing import signed_form, slash_command, view_submission
from roles.ledger import ChangeRequest, OutboxMessage
from roles.sample import load_sample

pytestmark = pytest.mark.prefect


def until(done: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := done()):
        assert time.monotonic() < deadline, "the gateway did not get there"
        time.sleep(0.1)
    return found


def test_a_submission_from_slack_creates_the_changes_pipeline_run(
    prefect_api: str, slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows.change_pipeline import change_pipeline
    from integrations.pipeline_runs import deployment_name

    for name, value in {
        "SLACK_SIGNING_SECRET": SECRET,
        "PROMPTLOOP_SLACK_REVIEW_CHANNEL": "C0REVIEW",
        "PROMPTLOOP_SLACK_DEPLOY_CHANNEL": "C0DEPLOY",
        "PROMPTLOOP_AUTO_EVALUATE": "true",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    deployment: Any = change_pipeline.to_deployment(name=deployment_name())
    deployment.apply()  # what serve registers (no runner here: the run waits Scheduled)
    with Session(get_engine()) as session:
        load_sample(session)
        session.commit()
    with running_gateway() as gateway:
        opened = gateway.send(
            *signed_form(slash_command(user="U01MAYA", text="change support-triage"), secret=SECRET)
        )
        assert opened.status_code == 200
        view = until(lambda: slack.calls_to("views.open"))[0].params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        texts = {
            b["block_id"]: {ids.CHANGE_TEXT_ACTION: b["element"].get("initial_value")}
            for b in view["blocks"]
            if b["type"] == "input"
        }
        texts[ids.change_block("template")] = {
            ids.CHANGE_TEXT_ACTION: "Ticket: {{ ticket }}\nWhich?"
        }
        answer = gateway.post(view_submission(view, user="U01MAYA", texts=texts))
        assert answer.json()["response_action"] == "update"

        def told() -> OutboxMessage | None:
            with Session(get_engine()) as session:
                found = session.exec(
                    select(OutboxMessage).where(OutboxMessage.channel == "U01MAYA")
                )
                return found.first()

        notice = until(told)
    with Session(get_engine()) as session:
        change = session.exec(select(ChangeRequest)).one()
    assert change.flow_run_id and change.evaluation_error is None
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(change.flow_run_id))
    assert run.parameters == {"change_id": change.id, "prompt": "support-triage"}
    assert f"change:{change.id}" in run.tags and run.state is not None and run.state.is_scheduled()
    said = json.dumps(notice.blocks)
    assert f"/runs/flow-run/{change.flow_run_id}" in said  # the Prefect UI link
    assert "starts as soon as `promptloop serve` picks it up" in said
