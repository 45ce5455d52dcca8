"""What eval fan-out over Dask buys on this machine: one process against a Dask cluster.

    .venv/bin/python benchmarks/fan_out.py                       # 4,000 items, 20 ms, 2 workers
    .venv/bin/python benchmarks/fan_out.py --items 2000 --latency-ms 50 --workers 2 --repeat 3

Every item is answered and graded by an ``llm_judge`` (two model calls per item) at
concurrency 64 in all, against the fake OpenAI-compatible server of ``eval_speed.py``, with
the request cache off. Both contenders run the same code path inside a Prefect flow on a
Prefect server this benchmark starts: ``flows.batches.run_in_batches`` on a run opened in
the ledger, either here (the default: at most 4 batch tasks in one process) or fanned out
(``flows.fan_out``: one slice per worker, 64 / workers calls in flight each) to a local
Dask cluster started once, before the timing (``PROMPTLOOP_DASK_ADDRESS``). Starting a
cluster is timed separately: a run with ``PROMPTLOOP_DASK_WORKERS`` and no address pays it
each time.

The contenders run interleaved, ``--repeat`` times, each in its own process; the figure is
the child's own timing of ``run_in_batches`` (items, scores, totals), not its start-up.
Prints the median of each, the speed-up (one process over fanned out) and the load average.
Exits 0 whatever the figures (this is a measurement), 2 on a broken set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import eval_fast_model as fast  # noqa: E402  (the judge's suite)
import eval_speed as es  # noqa: E402  (the server, the inputs, the ledger's set-up)

CONCURRENCY = 64


async def _child(spread: bool) -> None:
    """One contender, in its own process: the run, timed, inside a flow."""
    from prefect import flow

    from flows.batches import run_in_batches
    from flows.fan_out import dask_runner
    from integrations.db import session_scope
    from integrations.evaluation import begin, make_plan
    from integrations.llm import model_client

    @flow(name="bench-fan-out")
    async def bench() -> dict[str, Any]:
        with session_scope() as session:
            plan = make_plan(session, name=es.PROMPT_NAME)
        with model_client(models=[es.MODEL], concurrency=CONCURRENCY, no_cache=True) as (
            client,
            _,
        ):
            runner = dask_runner(len(plan.items)) if spread else None
            ctx = begin(
                plan,
                caller=client,
                stats=client.stats,
                concurrency=CONCURRENCY,
                settings={"concurrency": CONCURRENCY, "bench": "fan-out" if spread else "one"},
                purpose="bench",
            )
            started = time.perf_counter()
            try:
                run_id = await run_in_batches(ctx, label="bench", spread=runner, no_cache=True)
            finally:
                await client.aclose()
            wall = time.perf_counter() - started
        with session_scope() as session:
            from roles.evaluation.records import get_run

            run = get_run(session, run_id)
            return {
                "run_id": run_id,
                "wall_s": round(wall, 3),
                "items": run.items,
                "errors": run.errors,
                "model_calls": run.model_calls,
                "scores": (run.summary or {}).get("scores"),
            }

    print(json.dumps(await bench()))


def _prefect_server(env: dict[str, str], workdir: Path) -> str:
    """The benchmark home's own Prefect server (``promptloop server start``); its API URL."""
    done = subprocess.run(
        [*es.promptloop_cmd(), "server", "start", "--json"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise SystemExit(f"the Prefect server did not start: {done.stderr[-2000:]}")
    return str(json.loads(done.stdout)["api_url"])


def _run(argv: list[str], env: dict[str, str], workdir: Path) -> dict[str, Any]:
    done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[-2:])} failed:\n{done.stderr[-3000:]}")
    return es.last_json(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--child", choices=["one", "fan-out"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_child(args.child == "fan-out"))
        return 0
    try:
        import distributed
    except ImportError:
        print("prefect-dask is not installed: pip install -e '.[dask]'", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="promptloop-fan-out-"))
    server = es.Server(args.latency_ms, workdir)
    env: dict[str, str] = {}
    try:
        paths = es.write_inputs(workdir, args.items, server.base_url)
        fast.add_judge(paths)
        env = {**es.base_env(server, workdir / "home"), "PROMPTLOOP_WARM_CLI": "0"}
        es.log(f"setting up the ledger and a Prefect server in {workdir} (not timed)...")
        es.setup_promptloop(paths, env)
        env["PREFECT_API_URL"] = _prefect_server(env, workdir)
        os.environ.update(env)  # the cluster's workers take this process's environment
        started = time.perf_counter()
        with distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            cluster_s = round(time.perf_counter() - started, 2)
            env.update(
                PROMPTLOOP_DASK_ADDRESS=cluster.scheduler_address,
                PROMPTLOOP_DASK_WORKERS=str(args.workers),
                PROMPTLOOP_DASK_MIN_ITEMS="1",
            )
            walls: dict[str, list[float]] = {"one": [], "fan-out": []}
            seen: dict[str, Any] = {}
            for round_ in range(args.repeat):
                for name in walls:
                    es.log(f"{name} [{round_ + 1}/{args.repeat}]...")
                    argv = [es.PYTHON, str(Path(__file__).resolve()), "--child", name]
                    got = _run(argv, env, workdir)
                    if (
                        got["items"] != args.items
                        or got["errors"]
                        or got["model_calls"] != 2 * args.items
                    ):
                        raise SystemExit(f"{name}: {got}")
                    walls[name].append(got["wall_s"])
                    # what was found, but how long the calls took
                    scores = {k: v for k, v in got["scores"].items() if k != "latency_s"}
                    seen.setdefault(name, scores)
        one, spread = statistics.median(walls["one"]), statistics.median(walls["fan-out"])
        result = {
            "items": args.items,
            "calls": 2 * args.items,
            "latency_ms": args.latency_ms,
            "workers": args.workers,
            "concurrency": CONCURRENCY,
            "one_process_s": walls["one"],
            "fanned_out_s": walls["fan-out"],
            "speed_up": round(one / spread, 2),
            "same_scores": seen["one"] == seen["fan-out"],
            "cluster_start_s": cluster_s,
            "items_per_hour_one": round(3600 * args.items / one),
            "items_per_hour_fanned_out": round(3600 * args.items / spread),
            "load_avg": os.getloadavg(),
            "cpus": os.cpu_count(),
        }
    finally:
        home_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"} if env else None
        if home_env:
            subprocess.run([*es.promptloop_cmd(), "server", "stop"], env=home_env, timeout=60)
        server.stop()
        es._kill_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"\n{args.items} items ({2 * args.items} calls) at {args.latency_ms:g} ms, concurrency "
        f"{CONCURRENCY}, {os.cpu_count()} CPUs, load {result['load_avg']}"
    )
    print(
        f"  one process          {one:8.2f} s  {result['items_per_hour_one']:>10,} items/h  {walls['one']}"
    )
    print(
        f"  {args.workers} Dask workers       {spread:8.2f} s  "
        f"{result['items_per_hour_fanned_out']:>10,} items/h  {walls['fan-out']}"
    )
    print(
        f"  speed-up             {result['speed_up']:8.2f}×   same scores: {result['same_scores']}"
    )
    print(
        f"  starting the cluster {cluster_s:8.2f} s (paid per run without PROMPTLOOP_DASK_ADDRESS)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
