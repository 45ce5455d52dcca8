"""How long do people wait on the runtime? serve's start-up, and the last vote to the next state.

    .venv/bin/python benchmarks/pipeline.py            # --repeat 3 --json

In a fresh ``PROMPTLOOP_HOME`` (its own Prefect server, started once and not timed; the
fake OpenAI server answering the model calls) it measures, ``--repeat`` times:

- **serve start-up**: from spawning ``promptloop serve --detach`` to its return (ready:
  the Prefect runner registered, the outbox loop and the reconciler running), against
  the baseline of spawning ``python -c "import prefect.runner"`` in the same run;
- **last vote → next state**: a change evaluated and suspended for review; the last
  expert's ``promptloop review vote`` (which concludes the review in the ledger and
  resumes the run); then the pipeline run's final state. Split into the vote command
  itself, the resume until the run runs again (Prefect: the runner's poll, the flow's
  process start), and the run from its top to Completed (our ledger reads). The baseline
  is Prefect's own floor in the same run: a flow served by the same kind of runner that
  suspends and is resumed, resume → Completed.

Ratios are to the baselines measured in the same run; the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
PROMPTLOOP = Path(sys.executable).parent / "promptloop"

FLOOR_FLOW = '''
import asyncio, sys
from prefect import flow
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput

class Nudge(RunInput):
    reason: str

@flow(name="floor-suspend")
async def floor_suspend() -> str:
    await asuspend_flow_run(wait_for_input=Nudge, key="floor-w0", timeout=None)
    return "done"

if __name__ == "__main__":
    floor_suspend.serve(name="floor", limit=2, pause_on_shutdown=False)
'''


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(PROMPTLOOP), *args], env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(f"promptloop {' '.join(args)} failed: {done.stderr}")
    return done


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def read_run(flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id))


def wait(flow_run_id: str, done: Any, timeout: float = 300) -> tuple[Any, float]:
    """The run once ``done(run)``; and when (perf_counter) that was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read_run(flow_run_id)
        if found.state is not None and done(found):
            return found, time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"flow run {flow_run_id} did not get there: {found.state}")


def serve_startup(env: dict[str, str]) -> float:
    seconds = timed([str(PROMPTLOOP), "serve", "--detach"], env)
    run("serve", "stop", env=env)
    return seconds


def last_vote(env: dict[str, str], index: int) -> dict[str, float]:
    """Submit the sample change (suspended for review), vote it through; the timings."""
    spec = ROOT / "roles" / "samples" / "support-triage-change.yaml"
    if index:  # each round another candidate version of the sample prompt
        text = spec.read_text().replace("description: ", f"description: round {index} ", 1)
        spec = Path(env["PROMPTLOOP_HOME"]) / f"change-{index}.yaml"
        spec.write_text(text)
    submitted = json.loads(
        run("change", "submit", "-f", str(spec), "--as", "maya", "--wait", "--json", env=env).stdout
    )
    flow_run_id = submitted["flow_run_id"]
    wait(flow_run_id, lambda r: r.state.is_paused())
    items = json.loads(run("review", "list", "--as", "omar", "--json", env=env).stdout)
    for item in items:
        run("review", "vote", str(item["review_item_id"]), "pass", "--as", "omar", env=env)
    last = json.loads(run("review", "list", "--as", "ines", "--json", env=env).stdout)[0]
    start = time.perf_counter()
    run("review", "vote", str(last["review_item_id"]), "pass", "--as", "ines", env=env)
    voted = time.perf_counter()
    _, running = wait(flow_run_id, lambda r: r.state.is_running() or r.state.is_final())
    _, final = wait(flow_run_id, lambda r: r.state.is_final())
    return {
        "vote command": voted - start,
        "resume → running": running - voted,
        "running → final": final - running,
        "last vote → final": final - start,
    }


def floor_resume(env: dict[str, str]) -> float:
    """Prefect alone: a served flow that suspends, resumed → Completed."""
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    run_ = run_deployment("floor-suspend/floor", timeout=0)
    wait(str(run_.id), lambda r: r.state.is_paused())
    start = time.perf_counter()
    resume_flow_run(run_.id, run_input={"reason": "benchmark"})
    _, final = wait(str(run_.id), lambda r: r.state.is_final())
    return final - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from fakes.openai_server import FakeOpenAIServer
    from support import judge_aware, right_answers

    from integrations.prefect_server import ensure_server, server_env

    home = Path(tempfile.mkdtemp(prefix="promptloop-bench-pipeline-"))
    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        env = {
            **os.environ,
            "PROMPTLOOP_HOME": str(home),
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "bench",
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith(("PROMPTLOOP", "OPENAI"))})
        api_url = ensure_server()
        env.update(server_env(api_url))
        os.environ.update(server_env(api_url))
        run("init", "--sample", env=env)

        rows: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            rows.setdefault('python -c "import prefect.runner"', []).append(
                timed([sys.executable, "-c", "import prefect.runner"], env)
            )
            rows.setdefault("promptloop serve --detach (ready)", []).append(serve_startup(env))

        floor_file = home / "floor_flow.py"
        floor_file.write_text(FLOOR_FLOW)
        floor = subprocess.Popen(
            [sys.executable, str(floor_file)], env={**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(8)  # the floor's deployment registered
            run("serve", "--detach", env=env)
            for index in range(args.repeat):
                rows.setdefault("Prefect floor: resume → final", []).append(floor_resume(env))
                for name, seconds in last_vote(env, index).items():
                    rows.setdefault(name, []).append(seconds)
        finally:
            floor.terminate()
            run("serve", "stop", env=env)
            run("server", "stop", env=env)  # the Prefect server it started for this home

    medians = {name: statistics.median(values) for name, values in rows.items()}
    startup_base = medians['python -c "import prefect.runner"']
    resume_base = medians["Prefect floor: resume → final"]
    bases = {
        "promptloop serve --detach (ready)": startup_base,
        "resume → running": resume_base,
        "running → final": resume_base,
        "last vote → final": resume_base,
        'python -c "import prefect.runner"': startup_base,
        "Prefect floor: resume → final": resume_base,
    }
    table = [
        {
            "measure": name,
            "median_s": round(median, 3),
            "min_s": round(min(rows[name]), 3),
            "x_baseline": round(median / bases[name], 2) if name in bases else None,
        }
        for name, median in medians.items()
    ]
    if args.json:
        print(json.dumps({"repeat": args.repeat, "rows": table}, indent=2))
        return
    print(f"{'measure':38} {'median s':>9} {'min s':>8} {'× baseline':>11}")
    for row in table:
        ratio = "-" if row["x_baseline"] is None else f"{row['x_baseline']:.2f}"
        print(f"{row['measure']:38} {row['median_s']:9.3f} {row['min_s']:8.3f} {ratio:>11}")
    print(
        "× baseline: serve's start-up ÷ `import prefect.runner`; the pipeline's rows ÷ "
        "Prefect's own suspend/resume floor (the vote command: the CLI alone)"
    )


if __name__ == "__main__":
    main()
