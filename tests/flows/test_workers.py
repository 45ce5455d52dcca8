"""Beyond one machine: two `prefect worker`s on one process work pool share the runs of one
deployment (prefect.yaml's `weekly-digest`), and no run runs twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_deployments
from support import invoke

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
RUNS = 4


@pytest.fixture
def workers(prefect_api: str, tmp_path: Path) -> Iterator[list[Path]]:
    """Two process workers on the `promptloop` pool, polling every second; their logs."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    logs = [tmp_path / f"worker-{name}.log" for name in ("a", "b")]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for log in logs:
            with log.open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "prefect",
                            "worker",
                            "start",
                            "--pool",
                            "promptloop",
                            "--type",
                            "process",
                            "--name",
                            log.stem,
                        ],
                        cwd=test_deployments.ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        # its own process group: the worker and the flow runs it started
                        # stop together, even when the worker does not stop when asked
                        start_new_session=True,
                    )
                )
        yield logs
    finally:
        _stop_groups(started)


def _stop_groups(started: list[subprocess.Popen[bytes]], wait_s: float = 60) -> None:
    """SIGTERM each worker's process group, wait (a loaded machine takes a while), then
    SIGKILL whatever of the group is left."""
    for worker in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    for worker in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=max(0.1, deadline - time.monotonic()))
    for worker in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)  # the group: the flow runs it started too
        worker.wait()


def _create_runs(count: int) -> list[str]:
    from prefect.deployments import run_deployment

    async def create() -> list[str]:
        runs = [
            await run_deployment(
                "weekly-digest/weekly-digest", parameters={"days": days}, timeout=0
            )
            for days in range(1, count + 1)
        ]
        return [str(run.id) for run in runs]

    return asyncio.run(create())


def _finished(ids: list[str], timeout: float) -> dict[str, Any]:
    """Each run once it is final (or whatever it is at the timeout), by id."""
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            return {i: await client.read_flow_run(i) for i in ids}  # type: ignore[arg-type]

    deadline = time.monotonic() + timeout
    while True:
        runs = asyncio.run(read())
        if all(r.state.is_final() for r in runs.values()) or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def _state_names(run_id: str) -> list[str]:
    from prefect.client.orchestration import get_client

    async def read() -> list[str]:
        async with get_client() as client:
            return [s.name for s in await client.read_flow_run_states(run_id)]  # type: ignore[arg-type]

    return asyncio.run(read())


def _ran(log: str) -> list[str]:
    """The flow runs a worker submitted and the server did not abort (the other won)."""
    submitted = re.findall(r"submitting flow run '([0-9a-f-]+)'", log)
    aborted = set(re.findall(r"Aborted submission of flow run '([0-9a-f-]+)'", log))
    return [i for i in submitted if i not in aborted]


def test_two_workers_share_a_pool_without_running_a_flow_twice(
    prefect_api: str, workers: list[Path]
) -> None:
    assert invoke("init").code == 0  # the ledger the digest reads (the workers get our env)
    test_deployments.test_prefect_deploy_all_registers_the_pipeline_and_the_evaluation(prefect_api)
    started = time.monotonic()
    ids = _create_runs(RUNS)
    runs = _finished(ids, timeout=80)
    elapsed = time.monotonic() - started
    logs = {log.stem: log.read_text(errors="replace") for log in workers}
    assert all(r.state.name == "Completed" for r in runs.values()), (
        {i: r.state.name for i, r in runs.items()},
        logs,
    )
    for run_id in ids:
        names = _state_names(run_id)
        assert names.count("Running") == 1 and names.count("Pending") == 1, (run_id, names)
    digests = [m for m in invoke("outbox", "list", "--json").json() if m["kind"] == "notice"]
    assert len(digests) == 1, digests  # every run in one week: the ledger's one digest
    ran = {name: _ran(text) for name, text in logs.items()}
    assert sorted(i for picked in ran.values() for i in picked) == sorted(ids), ran
    lost = sum(text.count("Aborted submission of flow run") for text in logs.values())
    print(
        f"{RUNS} runs in {elapsed:.1f} s; ran per worker {[len(v) for v in ran.values()]}; "
        f"{lost} submissions lost the race and were aborted by the server"
    )
