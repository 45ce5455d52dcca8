"""prefect.yaml stays deployable: `prefect deploy --all` registers the flows it names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.prefect


def test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation(prefect_api: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    async def make_pool() -> None:
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(name="promptloop", type="process"), overwrite=True
            )

    asyncio.run(make_pool())
    env = {**os.environ, "PREFECT_API_URL": prefect_api}
    deployed = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    async def names() -> set[str]:
        async with get_client() as client:
            return {d.name for d in await client.read_deployments()}

    assert {"workers", "evaluate-change"} <= asyncio.run(names())


def test_a_change_pipeline_runs_on_a_prefect_worker(prefect_api: str, monkeypatch: Any) -> None:
    """At scale: prefect.yaml's deployment on a process work pool, a `prefect worker`, and
    PROMPTLOOP_PIPELINE_DEPLOYMENT pointing submit at it (no serve runs the pipeline)."""
    from fakes.openai_server import FakeOpenAIServer
    from support import invoke, judge_aware, point_at, right_answers
    from test_change_pipeline import submit_in_review, wait_for

    test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation(prefect_api)
    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        point_at(server, monkeypatch, PROMPTLOOP_PIPELINE_DEPLOYMENT="change-pipeline/workers")
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", "promptloop",
             "--type", "process"],
            cwd=ROOT, env={**os.environ, "PREFECT_API_URL": prefect_api},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            flow_run_id = submit_in_review(server, monkeypatch, prefect_api)
            run = wait_for(flow_run_id, "Suspended")  # (serve's reconciler writes the message)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert invoke("serve", "status", "--json").json()["running"] is False
    assert run.deployment_id is not None and run.state.state_details.pause_key == "review-1-w0"
