"""Conclude one prompt's sweep: its run against the baseline, the verdict, the row, the alert.

::

    view = conclude_sweep(target, run_id=12, flow_run_id="…", run_url="http://…")
    view["verdict"]  # ok | regression | recovered | outage | no_baseline

A regression also removes from the request cache what the drifted models (the prompt's and
its suite's judges, at their endpoints) answered since the last good sweep of this version
(``roles.sweep.drift``): a drifted answer is never served to a later run.
``view["cache_invalidated"]`` says how many entries went.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from integrations.db import session_scope
from integrations.evaluation import suite_of_run
from roles.data_scientist import build_scorecard
from roles.evaluation.records import get_run, load_results
from roles.sweep.baseline import find_baseline
from roles.sweep.drift import trusted_until
from roles.sweep.record import Announcement, Reading, record_sweep
from roles.sweep.targets import SweepTarget
from roles.sweep.verdict import Finding, read_scorecard
from roles.sweep.views import sweep_view

ATTEMPTS = 3  # a twin sweep writing the same alert at the same moment: read it, go on


def conclude_sweep(
    target: SweepTarget, *, run_id: int, flow_run_id: str | None, run_url: str | None
) -> dict[str, Any]:
    for attempt in range(ATTEMPTS):
        try:
            return _conclude(target, run_id=run_id, flow_run_id=flow_run_id, run_url=run_url)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _conclude(
    target: SweepTarget, *, run_id: int, flow_run_id: str | None, run_url: str | None
) -> dict[str, Any]:
    from integrations.slack.sweeps import post_sweep_alert

    drifted: list[str] = []  # the models a regression says drifted
    since: datetime | None = None
    with session_scope() as session:
        run = get_run(session, run_id)
        baseline, note = find_baseline(
            session,
            version_id=target.version_id,
            dataset_id=run.dataset_id,
            suite_hash=run.suite_hash,
        )
        finding = Finding(regressed=False, reasons=[], lines=[], moved=[])
        reading: Reading = "outage"
        reasons = [run.failure or f"eval run {run_id} is {run.status}"]
        if run.status == "finished":
            suite = suite_of_run(run)
            card = build_scorecard(
                load_results(session, run_id=run_id),
                load_results(session, run_id=baseline.run_id) if baseline else None,
                suite.metrics(),
                suite.statistics,
                suite.gated_metrics(),
            )
            finding = read_scorecard(card, suite.gate)
            reading = "regression" if finding.regressed and baseline else "clear"
            drifted = [run.model, *suite.judge_models()]
            reasons = [f"baseline: {note}" if baseline else note, *finding.reasons]

        def announce(announcement: Announcement) -> int:
            return post_sweep_alert(
                session,
                announcement=announcement,
                scorecard=finding.lines,
                moved=finding.moved,
                run_url=run_url,
            )

        row = record_sweep(
            session,
            target=target,
            eval_run_id=run_id,
            baseline=baseline,
            reading=reading,
            reasons=reasons,
            flow_run_id=flow_run_id,
            announce=announce,
        )
        if reading == "regression":
            assert row.id is not None
            since = trusted_until(session, version_id=target.version_id, before_sweep_id=row.id)
        view = sweep_view(session, row)
    # After the row is committed: a removed entry only costs a call again.
    view["cache_invalidated"] = _invalidate(drifted, since) if reading == "regression" else 0
    return view


def _invalidate(models: list[str], since: datetime | None) -> int:
    """Remove what ``models`` answered since ``since`` (None: ever) from the request cache."""
    from integrations.llm import RequestCache
    from integrations.llm.providers import cache_scope
    from integrations.settings import get_settings

    settings = get_settings()
    cache = RequestCache.of_home(settings.home)
    try:
        scopes = dict.fromkeys(cache_scope(m, settings) for m in models)
        return sum(cache.invalidate(scope=scope, since=since) for scope in scopes)
    finally:
        cache.close()


def sweep_schedule() -> Any:
    """The sweep deployment's schedule: PROMPTLOOP_SWEEP_CRON in UTC (checked by Prefect), or
    None when it is ``off``."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    from integrations.settings import get_settings
    from roles.errors import InputError

    cron = get_settings().sweep_cron
    if cron == "off":
        return None
    try:
        CronSchedule(cron=cron, timezone="UTC")
    except ValidationError:
        raise InputError(
            f"PROMPTLOOP_SWEEP_CRON={cron!r} is not a valid cron expression: five fields, "
            "minute (0-59) hour (0-23) day (1-31) month (1-12) weekday (0-6), e.g. "
            "'0 6 * * *' for daily at 06:00 UTC"
        ) from None
    from prefect.schedules import Cron

    return Cron(cron, timezone="UTC")
