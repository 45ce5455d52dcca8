"""The weekly digest on the real Prefect test server: the markdown artifact and one outbox
message (once per week), and the cron deployment `promptloop serve` and prefect.yaml
register."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from metrics_support import NOW_H, build_history
from support import invoke

from integrations.db import ledger_tag
from roles.clock import utcnow

pytestmark = pytest.mark.prefect


def _artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_latest_artifacts()

    return next(a for a in asyncio.run(read()) if a.key == key)


def test_the_digest_writes_its_artifact_and_one_slack_message(
    prefect_api: str, session: Any, monkeypatch: Any
) -> None:
    from flows.weekly_digest import weekly_digest

    start = (utcnow() - timedelta(hours=NOW_H)).replace(microsecond=0)  # it all fits a week
    build_history(session, start=start)
    monkeypatch.setenv("PROMPTLOOP_SLACK_DIGEST_CHANNEL", "C0DIGEST")
    from integrations.settings import get_settings

    get_settings.cache_clear()
    message_id = weekly_digest()
    artifact = _artifact(f"{ledger_tag()}-handoff-metrics")
    assert artifact.type == "markdown" and artifact.flow_run_id is not None
    markdown = str(artifact.data)
    assert "## Time in each state" in markdown and "| in_review | expert |" in markdown
    assert "lead time submit → deployed: median 8.0h, p90 9.6h (n=2)" in markdown
    assert "rejected by an engineer" in markdown and "too risky for the holidays" in markdown

    assert weekly_digest() == message_id  # the same week again: the message is written once
    digests = [m for m in invoke("outbox", "list", "--json").json() if m["id"] == message_id]
    assert len(digests) == 1 and digests[0]["channel"] == "C0DIGEST"
    notices = [m for m in invoke("outbox", "list", "--json").json() if m["kind"] == "notice"]
    assert [m["id"] for m in notices if m["text"].startswith("Handoff metrics")] == [message_id]
    assert digests[0]["text"].startswith("Handoff metrics, ")


def test_serve_registers_the_digest_on_its_weekly_schedule() -> None:
    from flows.weekly_digest import DIGEST_CRON, digest_deployment

    deployment = asyncio.run(digest_deployment("ledger-abc123", tags=["promptloop"]))
    assert deployment.name == "ledger-abc123" and deployment.flow_name == "weekly-digest"
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 8 * * 1", "UTC")
    assert DIGEST_CRON == "0 8 * * 1"  # Mondays 08:00 UTC
    assert deployment.entrypoint and deployment.entrypoint.endswith(
        "weekly_digest.py:weekly_digest"
    )


def test_prefect_yaml_declares_the_digest_for_workers(prefect_api: str) -> None:
    from prefect.client.orchestration import get_client
    from test_deployments import test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation

    test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation(prefect_api)

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_deployment_by_name("weekly-digest/weekly-digest")

    deployment = asyncio.run(read())
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 8 * * 1", "UTC")


def test_the_schedule_exists_once_serve_has_started(prefect_api: str, monkeypatch: Any) -> None:
    from prefect.client.orchestration import get_client
    from support import serve_log

    from integrations.pipeline_runs import deployment_name

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    started = invoke("serve", "--detach", "--json")
    assert started.code == 0, started.stderr + serve_log()
    try:

        async def read() -> Any:
            async with get_client() as client:
                return await client.read_deployment_by_name(f"weekly-digest/{deployment_name()}")

        deployment = asyncio.run(read())
    finally:
        assert invoke("serve", "stop").code == 0
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 8 * * 1", "UTC")
