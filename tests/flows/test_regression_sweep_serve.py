"""The sweep as a team runs it: `promptloop serve` schedules it (daily 06:00 UTC unless
PROMPTLOOP_SWEEP_CRON says otherwise), `prefect deploy --all` declares it for workers,
and `promptloop sweep --wait` after the demo (a deployed change) finds nothing to alert."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import invoke, judge_aware, point_at, serve_log

from integrations.db import ledger_tag

pytestmark = pytest.mark.prefect


def deployment(name: str) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_deployment_by_name(name)

    return asyncio.run(read())


def crons(found: Any) -> list[tuple[str, str, bool]]:
    return [(s.schedule.cron, s.schedule.timezone, s.active) for s in found.schedules]


def test_serve_schedules_the_sweep_as_configured(prefect_api: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("PROMPTLOOP_SWEEP_CRON", "30 5 * * 1")
    assert invoke("init", "--sample").code == 0
    started = invoke("serve", "--detach", "--json")
    assert started.code == 0, started.stderr + serve_log()
    try:
        found = deployment(f"regression-sweep/ledger-{ledger_tag()}")
        assert crons(found) == [("30 5 * * 1", "UTC", True)]
        limit = found.global_concurrency_limit  # one sweep at a time: one model concurrency
        assert limit is not None and limit.limit == 1, found
        # serve's other schedules are in UTC too, as prefect.yaml declares them
        calibrate = deployment(f"calibrate-judges/ledger-{ledger_tag()}")
        assert crons(calibrate) == [("30 3 * * *", "UTC", True)]
        digest = deployment(f"weekly-digest/ledger-{ledger_tag()}")
        assert crons(digest) == [("0 8 * * 1", "UTC", True)]
    finally:
        assert invoke("serve", "stop").code == 0


def test_prefect_deploy_all_declares_the_sweep_with_its_schedule(prefect_api: str) -> None:
    from test_deployments import test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation

    test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation(prefect_api)
    assert crons(deployment("regression-sweep/sweep")) == [("0 6 * * *", "UTC", True)]


def test_sweep_wait_after_the_demo_finds_nothing_to_alert(
    prefect_api: str, monkeypatch: Any
) -> None:
    from test_evaluate_change import sharper_candidate

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        demo = invoke("demo", "--json")
        assert demo.code == 0, demo.stderr
        change = demo.json()["change"]
        assert change["state"] == "deployed"
        before = server.requests_received
        swept = invoke("sweep", "--wait", "--json")
        assert swept.code == 0, swept.stderr + serve_log()
        assert server.requests_received - before >= 30  # answered anew, not from the cache
        # --wait says how far each prompt's run has got
        assert "(support-triage, sweep): finished, 30 items" in swept.stderr, swept.stderr
    result = swept.json()
    assert result["state"] == "Ok", result
    [view] = result["sweeps"]
    assert (view["prompt"], view["version"], view["verdict"]) == ("support-triage", 2, "ok")
    # the baseline is the run the deploying change's gate accepted
    assert view["baseline_source"] == "deploy"
    accepted = invoke("change", "show", str(change["id"]), "--json").json()
    verdict = next(h for h in accepted["history"] if h["to_state"] == "in_review")
    assert view["baseline_run_id"] == verdict["payload"]["candidate_run"]
    assert view["alert_id"] is None
    keys = [m["key"] or "" for m in invoke("outbox", "list", "--json").json()]
    assert not [k for k in keys if k.startswith("sweep:")]
    shown = invoke("sweep", "show", str(view["id"]))
    accepted_by = f"baseline: eval run {view['baseline_run_id']}, the one change #{change['id']}'s"
    assert shown.code == 0 and accepted_by in shown.stdout, shown.stdout


def test_a_bad_sweep_cron_stops_serve_before_anything_starts(monkeypatch: Any) -> None:
    """`serve --detach` with PROMPTLOOP_SWEEP_CRON='61 6 * * *': exit 2 with the setting
    named, and no Prefect server left behind (it was started before the check)."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # serve would start its own
    monkeypatch.setenv("PROMPTLOOP_SWEEP_CRON", "61 6 * * *")
    assert invoke("init").code == 0
    started = invoke("serve", "--detach")
    assert started.code == 2, started.stderr + serve_log()
    assert "PROMPTLOOP_SWEEP_CRON='61 6 * * *' is not a valid cron expression" in started.stderr
    assert invoke("server", "status").code == 1  # no server of this home's runs


def test_serve_status_says_when_its_prefect_server_is_gone(monkeypatch: Any) -> None:
    """`promptloop server stop` under a running serve: `serve status` says serve runs but
    its Prefect server does not answer (no pipeline runs until it does)."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # serve starts its own server
    monkeypatch.setenv("PROMPTLOOP_SWEEP_CRON", "off")
    assert invoke("init").code == 0
    started = invoke("serve", "--detach", "--json")
    assert started.code == 0, started.stderr + serve_log()
    try:
        assert invoke("serve", "status", "--json").json()["prefect_healthy"] is True
        assert invoke("server", "stop").code == 0
        deadline = time.monotonic() + 30  # the server takes a moment to go
        while invoke("serve", "status", "--json").json()["prefect_healthy"]:
            assert time.monotonic() < deadline, "the Prefect server still answers"
            time.sleep(0.5)
        status = invoke("serve", "status")
        assert "but its Prefect server does not answer at" in status.stdout, status.stdout
        assert invoke("serve", "status", "--json").json()["prefect_healthy"] is False
    finally:
        assert invoke("serve", "stop").code == 0
