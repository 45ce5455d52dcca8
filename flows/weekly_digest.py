"""``weekly-digest``: the past week's handoff metrics, as a markdown artifact in the Prefect
UI and one Slack message through the outbox (``PROMPTLOOP_SLACK_DIGEST_CHANNEL``, else the
alerts channel).

    measure the week (the ledger) → the artifact → the digest message (once per ISO week)

``promptloop serve`` runs it on ``DIGEST_CRON`` (Mondays 08:00 UTC, ``digest_deployment``);
``prefect.yaml`` declares the same schedule for workers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from integrations.db import ledger_tag, session_scope
from integrations.pipeline_runs import ui_link
from roles.clock import utcnow
from roles.metrics import HandoffMetrics, handoff_metrics
from roles.metrics.text import digest_markdown, period

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

FLOW_NAME = "weekly-digest"
DIGEST_CRON = "0 8 * * 1"  # Mondays 08:00 UTC


@task(name="measure-handoffs", cache_policy=NONE)
def measure(days: int, prompt: str | None) -> dict[str, Any]:
    now = utcnow()
    with session_scope() as session:
        report = handoff_metrics(session, since=now - timedelta(days=days), prompt=prompt, now=now)
    return report.as_dict()


@task(name="post-digest", cache_policy=NONE)
def announce(report: dict[str, Any], key: str, run_url: str | None) -> int:
    """The digest's outbox row (a second run in the same week finds the first one's)."""
    from integrations.slack.digest import post_digest

    with session_scope() as session:
        message = post_digest(
            session, report=HandoffMetrics.model_validate(report), key=key, run_url=run_url
        )
        assert message.id is not None
        return message.id


def digest_key(report: HandoffMetrics) -> str:
    """``digest:2026-W10`` (``:PROMPT`` for one prompt's): one message per week."""
    from datetime import datetime

    year, week, _ = datetime.fromisoformat(report.until.replace("Z", "+00:00")).isocalendar()
    return f"digest:{year}-W{week:02d}" + (f":{report.prompt}" if report.prompt else "")


@flow(name=FLOW_NAME, log_prints=True)
def weekly_digest(days: int = 7, prompt: str | None = None) -> int:
    """The handoff metrics of the last ``days`` days (of one ``prompt``, or all).

    Returns:
        The id of the digest's outbox message.
    """
    report = HandoffMetrics.model_validate(measure(days, prompt))
    title = f"Handoff metrics, {period(report)}"
    create_markdown_artifact(
        key=f"{ledger_tag()}-handoff-metrics",
        markdown=digest_markdown(report, title=title),
        description=title,
    )
    return announce(report.as_dict(), digest_key(report), ui_link(flow_run.id))


async def digest_deployment(name: str, *, tags: list[str]) -> RunnerDeployment:
    """The flow as a deployment on its weekly schedule, for ``serve``'s runner."""
    from prefect.schedules import Cron

    return await weekly_digest.ato_deployment(
        name=name, schedule=Cron(DIGEST_CRON, timezone="UTC"), tags=tags
    )
