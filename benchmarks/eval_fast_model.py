"""When the model is fast, how much does promptloop's runner add? Measured against the floor.

    .venv/bin/python benchmarks/eval_fast_model.py                  # 2,000 and 5,000 items, 20 and 50 ms
    .venv/bin/python benchmarks/eval_fast_model.py --items 2000 --latency-ms 20 --repeat 3
    .venv/bin/python benchmarks/eval_fast_model.py --regime sweep   # 20 prompts x 200 items

Every item is answered and then graded by an ``llm_judge`` (two model calls per item), at
concurrency 64, against the fake OpenAI-compatible server of ``eval_speed.py``. Two regimes:

eval   ``promptloop eval run bench-prompt --concurrency 64 --no-cache --json`` vs ``floor.py``
       (plain asyncio + the ``openai`` SDK, the same calls, the judge's included).
sweep  20 prompts of 200 items each, run at once in one process by the runner
       (``integrations.evaluation.execute`` x 20, one ``LLMClient``: one concurrency limit
       shared by all) vs ``floor.py`` over the same 4,000 items at the same concurrency.

The contenders run interleaved, ``--repeat`` times; each is its own process, timed from spawn
to exit (wall) with its CPU (user + system) from ``wait4()``. Prints, per configuration, the
median wall and CPU of each and the ratio of the medians, and the machine's load average.
Exits 0 whatever the ratio (this is a measurement), 2 on a broken set-up.
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
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import eval_speed as es  # noqa: E402  (the server, the inputs, the timing)

CONCURRENCY = 64
TARGET_RATIO = 1.15
SWEEP_PROMPTS = 20
SWEEP_ITEMS = 200
JUDGE = {
    "name": "llm_judge",
    "label": "correct",
    "args": {"rubric": "Is the ticket's category right?", "choices": {"yes": 1.0, "no": 0.0}},
}


def judge_for_floor() -> dict[str, Any]:
    """The judge call as promptloop sends it (its system text, params, JSON mode)."""
    from roles.data_scientist import Sample, judge_request

    args: dict[str, Any] = JUDGE["args"]  # type: ignore[assignment]
    request = judge_request(
        Sample(item_id="x", input={}, output=""),
        rubric=args["rubric"],
        choices=args["choices"],
        model=es.MODEL,
    )
    return {
        "model": es.MODEL,
        "system": request.messages[0]["content"],
        "params": request.params,
        "response_format": request.response_format,
    }


def add_judge(paths: dict[str, Path]) -> None:
    """The prompt gets a suite with an ``llm_judge``; the floor's copy says how to call it."""
    prompt = json.loads(paths["prompt"].read_text())
    prompt["suite"] = {"judge_model": es.MODEL, "scorers": ["exact_match", JUDGE]}
    paths["prompt"].write_text(json.dumps(prompt, indent=2) + "\n")
    floor_prompt = {**prompt, "judge": judge_for_floor()}
    paths["floor_prompt"] = paths["prompt"].with_name("floor_prompt.json")
    paths["floor_prompt"].write_text(json.dumps(floor_prompt, indent=2) + "\n")


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [*es.promptloop_cmd(), *args], env=env, cwd=es.REPO, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"promptloop {' '.join(args)} failed: {done.stderr or done.stdout}")


def setup_sweep(paths: dict[str, Path], env: dict[str, str]) -> None:
    """20 prompts, each with its own 200 of the items (no two prompts send the same call)."""
    rows = paths["dataset"].read_text().splitlines(keepends=True)
    prompt = json.loads(paths["prompt"].read_text())
    for k in range(SWEEP_PROMPTS):
        data = paths["dataset"].with_name(f"sweep{k}.jsonl")
        data.write_text("".join(rows[k * SWEEP_ITEMS : (k + 1) * SWEEP_ITEMS]))
        cli(env, "dataset", "push", str(data), "--name", f"sweep{k}")
        file = paths["prompt"].with_name(f"sweep{k}.yaml")
        file.write_text(json.dumps({**prompt, "name": f"sweep-{k}", "dataset": f"sweep{k}"}))
        cli(env, "prompt", "push", str(file), "--as", "bench")


async def _sweep() -> None:
    """The sweep contender's process: 20 runs at once through one client."""
    from integrations.db import session_scope
    from integrations.evaluation import execute, make_plan
    from integrations.llm import model_client

    with session_scope() as session:
        plans = [make_plan(session, name=f"sweep-{k}") for k in range(SWEEP_PROMPTS)]
    with model_client(models=[es.MODEL], concurrency=CONCURRENCY, no_cache=True) as (client, _):
        settings = {"concurrency": CONCURRENCY, "no_cache": True}
        try:
            ids = await asyncio.gather(
                *(
                    execute(
                        p,
                        caller=client,
                        stats=client.stats,
                        concurrency=CONCURRENCY,
                        settings=settings,
                        purpose="sweep",
                    )
                    for p in plans
                )
            )
        finally:
            await client.aclose()
    print(json.dumps({"runs": ids, "model_calls": client.stats.model_calls}))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def measure_pair(
    label: str,
    contenders: dict[str, list[str]],
    *,
    env: dict[str, str],
    server: es.Server,
    workdir: Path,
    repeat: int,
    calls: int,
) -> dict[str, Any]:
    samples: dict[str, list[es.Run]] = {name: [] for name in contenders}
    for round_ in range(repeat):
        for name, argv in contenders.items():
            es.log(f"{label}: {name} [{round_ + 1}/{repeat}]...")
            run, _ = es.measure(name, argv, env=env, server=server, workdir=workdir, timeout_s=900)
            if run.error or run.model_calls != calls:
                raise SystemExit(f"{label}: {name}: {run.error or run.model_calls} calls")
            samples[name].append(run)
    out: dict[str, Any] = {"config": label, "calls": calls, "load_avg": os.getloadavg()}
    for name, runs in samples.items():
        out[name] = {
            "wall_s": median([r.wall_s or 0 for r in runs]),
            "cpu_s": median([r.cpu_s or 0 for r in runs]),
            "walls": [r.wall_s for r in runs],
            "cpus": [r.cpu_s for r in runs],
        }
    digests = {r.messages_digest for runs in samples.values() for r in runs}
    out["same_calls"] = len(digests) == 1  # the server's digest of every call's messages
    floor, ours = out["floor"], out["promptloop"]
    out["wall_ratio"] = round(ours["wall_s"] / floor["wall_s"], 3)
    out["cpu_ratio"] = round(ours["cpu_s"] / floor["cpu_s"], 3)
    # Per round, interleaved: the spread says how far to trust the median.
    out["round_ratios"] = [
        round((o.wall_s or 0) / (f.wall_s or 1), 3)
        for f, o in zip(samples["floor"], samples["promptloop"], strict=True)
    ]
    return out


def run_config(
    regime: str, items: int, latency_ms: float, repeat: int, keep: bool
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="promptloop-fast-"))
    server = es.Server(latency_ms, workdir)
    try:
        total = SWEEP_PROMPTS * SWEEP_ITEMS if regime == "sweep" else items
        paths = es.write_inputs(workdir, total, server.base_url)
        add_judge(paths)
        # The warm CLI would run the command in another process: time this one's CPU.
        env = {**es.base_env(server, workdir / "home"), "PROMPTLOOP_WARM_CLI": "0"}
        es.log(f"{regime}: setting up the ledger in {workdir} (not timed)...")
        es.setup_promptloop(paths, env)
        if regime == "sweep":
            setup_sweep(paths, env)
            ours = [es.PYTHON, str(Path(__file__).resolve()), "--sweep-child"]
        else:
            ours = [*es.promptloop_cmd(), "eval", "run", es.PROMPT_NAME, "--no-cache", "--json"]
            ours += ["--concurrency", str(CONCURRENCY)]
        floor = [es.PYTHON, str(BENCH / "floor.py"), "--prompt", str(paths["floor_prompt"])]
        floor += ["--dataset", str(paths["dataset"]), "--concurrency", str(CONCURRENCY)]
        label = (
            f"sweep {SWEEP_PROMPTS} prompts x {SWEEP_ITEMS} items"
            if regime == "sweep"
            else f"eval {items} items"
        ) + f", {latency_ms:g} ms, concurrency {CONCURRENCY}"
        return measure_pair(
            label,
            {"floor": floor, "promptloop": ours},
            env=env,
            server=server,
            workdir=workdir,
            repeat=repeat,
            calls=2 * total,
        )
    finally:
        server.stop()
        es._kill_all()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", choices=["eval", "sweep", "both"], default="both")
    parser.add_argument("--items", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[20.0, 50.0])
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--sweep-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sweep_child:
        asyncio.run(_sweep())
        return 0
    configs: list[tuple[str, int, float]] = []
    for latency in args.latency_ms:
        if args.regime in ("eval", "both"):
            configs += [("eval", n, latency) for n in args.items]
        if args.regime in ("sweep", "both"):
            configs.append(("sweep", SWEEP_PROMPTS * SWEEP_ITEMS, latency))
    results = [run_config(r, n, lat, args.repeat, args.keep) for r, n, lat in configs]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"\nload average at the end: {os.getloadavg()}; {os.cpu_count()} CPUs")
    print(
        f"{'configuration':52} {'calls':>6} {'floor wall/CPU s':>17} "
        f"{'promptloop wall/CPU s':>22} {'× wall':>7} {'× CPU':>6}  per round"
    )
    for r in results:
        f, o = r["floor"], r["promptloop"]
        mark = "PASS" if r["wall_ratio"] <= TARGET_RATIO else "FAIL"
        print(
            f"{r['config']:52} {r['calls']:>6} {f['wall_s']:>8.2f}/{f['cpu_s']:<8.2f} "
            f"{o['wall_s']:>13.2f}/{o['cpu_s']:<8.2f} {r['wall_ratio']:>7.2f} "
            f"{r['cpu_ratio']:>6.2f}  {r['round_ratios']} {mark} (≤ {TARGET_RATIO})"
        )
        if not r["same_calls"]:
            print("  WARNING: the contenders did not send the same calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
