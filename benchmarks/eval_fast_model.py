"""When the model is fast, how much does promptloop add? The sample suite against its own requests.

    .venv/bin/python benchmarks/eval_fast_model.py        # 5,000 items, 50 ms, concurrency 64, 3 rounds
    .venv/bin/python benchmarks/eval_fast_model.py --items 2000 --latency-ms 20 50 --rounds 3
    .venv/bin/python benchmarks/eval_fast_model.py --regime sweep   # 20 prompts x 200 items

The prompt and suite are the sample's, unchanged (``roles/samples/support-triage.yaml``: exact
match, contains, length and an ``llm_judge``, two model calls per item), over the sample
dataset (``roles/samples/support-tickets.jsonl``) repeated to ``--items`` items, each ticket
made distinct by a case number. The model is a local OpenAI-compatible server on 127.0.0.1
(``tests/fakes/openai_server.py`` with a fixed latency) that answers a category to the prompt
and a verdict in the judge's JSON to the judge, and keeps the body of every request.

promptloop runs once untimed; the server's bodies of that run, grouped by item (the answer's
request, then the judge's), are the floor's input: ``replay.py`` sends exactly those requests
with plain asyncio + ``AsyncOpenAI`` from ``--concurrency`` workers. Then ``--rounds`` paired
rounds, the order alternating: each contender is its own process, timed from spawn to exit
(wall) with its CPU (user + system) from ``wait4()``, and must send the very same request
bodies (a digest of them all is checked). Two regimes:

eval   ``promptloop eval run support-triage --concurrency C --no-cache --json``
sweep  20 copies of the sample prompt with 200 items each, run at once in one process by the
       runner (``integrations.evaluation.execute`` x 20, one ``LLMClient``: one limit shared)

Prints, per configuration, the median wall and CPU of each, the ratios of the medians, each
round's wall ratio and the load average. Exits 0 whatever the ratio (this is a measurement),
2 on a broken set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import eval_speed as es  # noqa: E402  (spawning, timing, the environment)

SAMPLES = es.REPO / "roles" / "samples"
SAMPLE_PROMPT = SAMPLES / "support-triage.yaml"
SAMPLE_DATASET = SAMPLES / "support-tickets.jsonl"
PROMPT_NAME = "support-triage"
DATASET_NAME = "support-tickets"
TARGET_RATIO = 1.15
SWEEP_PROMPTS = 20
SWEEP_ITEMS = 200
CATEGORIES = ("billing", "technical", "account", "Billing.")  # one in four needs normalizing


# --- the model server (its own process) --------------------------------------------------


def answer(body: dict[str, Any]) -> str:
    """A deterministic answer: a verdict in the judge's JSON to a judge, else a category."""
    messages = body.get("messages") or [{}]
    pick = zlib.crc32(str(messages[-1].get("content")).encode("utf-8"))
    if str(messages[0].get("content")).startswith("You grade"):
        choice = "no" if pick % 5 == 0 else "yes"
        return json.dumps({"rationale": "the category fits the ticket", "choice": choice})
    return CATEGORIES[pick % len(CATEGORIES)]


def serve(latency_ms: float) -> None:
    """The server child: the fake OpenAI server with ``answer`` and ``GET /bodies``."""
    sys.path.insert(0, str(es.REPO / "tests" / "fakes"))
    import openai_server as fake

    class Handler(fake._Handler):  # type: ignore[misc]  # (found at run time)
        def do_GET(self) -> None:
            if self.path == "/bodies":  # the bodies since the last reset (not counted)
                self._send(200, list(self.server.fake.chat_bodies))
            else:
                super().do_GET()

    server = fake.FakeOpenAIServer(latency_s=latency_ms / 1000, responder=answer, port=0)
    server._httpd.RequestHandlerClass = Handler
    print(f"fake OpenAI server on {server.base_url}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server._httpd.serve_forever()
    finally:
        server._httpd.server_close()


class SampleServer(es.Server):
    """``es.Server``'s interface (stats, reset, stop) over this file's server child."""

    def __init__(self, latency_ms: float, workdir: Path) -> None:
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = es.spawn(
            [es.PYTHON, str(Path(__file__).resolve()), "--serve", "--latency-ms", f"{latency_ms}"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=es.REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not (found := re.search(r"(http://127\.0\.0\.1:\d+)/v1", self.log_path.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the model server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.url = found.group(1)
        self.base_url = self.url + "/v1"
        self.stats()

    def bodies(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/bodies", timeout=60) as response:
            return list(json.loads(response.read()))


def digest(bodies: list[dict[str, Any]]) -> str:
    """The same for two runs that sent the same request bodies, in any order."""
    lines = sorted(json.dumps(b, sort_keys=True, ensure_ascii=False) for b in bodies)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


# --- the inputs --------------------------------------------------------------------------


def scaled_dataset(items: int) -> list[dict[str, Any]]:
    """The sample's tickets over and over, each copy's ticket made distinct by a case number."""
    rows = [json.loads(line) for line in SAMPLE_DATASET.read_text().splitlines() if line.strip()]
    out = []
    for i in range(items):
        row = rows[i % len(rows)]
        ticket = f"{row['input']['ticket']} (case {i})"
        out.append(
            {**row, "id": f"{row['id']}-{i:05d}", "input": {**row["input"], "ticket": ticket}}
        )
    return out


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*es.promptloop_cmd(), *args], env=env, cwd=es.REPO, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"promptloop {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def set_up(workdir: Path, env: dict[str, str], regime: str, items: int) -> list[dict[str, Any]]:
    """The ledger (not timed): the team, the scaled dataset(s), the sample prompt(s)."""
    team = workdir / "team.json"
    person = {"handle": "bench", "name": "Bench", "roles": ["pm", "admin"], "email": "b@x.org"}
    team.write_text(json.dumps({"people": [person]}))
    cli(env, "init")
    cli(env, "team", "sync", str(team))
    rows = scaled_dataset(items)
    if regime == "eval":
        cli(
            env,
            "dataset",
            "push",
            str(write_jsonl(workdir / "data.jsonl", rows)),
            "--name",
            DATASET_NAME,
        )
        cli(env, "prompt", "push", str(SAMPLE_PROMPT), "--as", "bench")
        return rows
    import yaml

    prompt = yaml.safe_load(SAMPLE_PROMPT.read_text())
    for k in range(SWEEP_PROMPTS):
        part = rows[k * SWEEP_ITEMS : (k + 1) * SWEEP_ITEMS]
        cli(
            env,
            "dataset",
            "push",
            str(write_jsonl(workdir / f"data{k}.jsonl", part)),
            "--name",
            f"sweep{k}",
        )
        copy = workdir / f"prompt{k}.yaml"  # JSON is YAML
        copy.write_text(json.dumps({**prompt, "name": f"sweep-{k}", "dataset": f"sweep{k}"}))
        cli(env, "prompt", "push", str(copy), "--as", "bench")
    return rows


def chains_of(
    bodies: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """The captured bodies grouped by item: its answer's request, then its judges' in the
    order they arrived. Every body must belong to exactly one item."""
    import yaml

    from roles.templates import render_messages

    prompt = yaml.safe_load(SAMPLE_PROMPT.read_text())
    by_messages: dict[str, int] = {}
    by_input: dict[str, int] = {}
    for i, row in enumerate(rows):
        messages = render_messages(
            system=prompt.get("system"),
            template=prompt["template"],
            examples=prompt.get("examples") or [],
            variables=row["input"],
        )
        by_messages[json.dumps(messages, sort_keys=True)] = i
        by_input[json.dumps(row["input"], sort_keys=True)] = i
    answers: dict[int, dict[str, Any]] = {}
    judged: dict[int, list[dict[str, Any]]] = {}
    for body in bodies:
        index: int | None = by_messages.get(json.dumps(body["messages"], sort_keys=True))
        if index is not None and index not in answers:
            answers[index] = body
            continue
        index = None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            document = json.loads(body["messages"][-1]["content"])
            index = by_input.get(json.dumps(document["input"], sort_keys=True))
        if index is None:
            raise SystemExit(f"a request that belongs to no item: {json.dumps(body)[:300]}")
        judged.setdefault(index, []).append(body)
    if len(answers) != len(rows):
        raise SystemExit(f"{len(rows)} items but {len(answers)} answer requests were sent")
    return [[answers[i], *judged.get(i, [])] for i in range(len(rows))]


# --- the sweep contender's process -------------------------------------------------------


async def _sweep(concurrency: int) -> None:
    """20 runs at once through one client."""
    from integrations.db import session_scope
    from integrations.evaluation import execute, make_plan
    from integrations.llm import model_client

    with session_scope() as session:
        plans = [make_plan(session, name=f"sweep-{k}") for k in range(SWEEP_PROMPTS)]
    models = sorted({m for p in plans for m in (p.prompt.model, *p.suite.judge_models())})
    with model_client(models=models, concurrency=concurrency, no_cache=True) as (client, _):
        settings = {"concurrency": concurrency, "no_cache": True}
        try:
            ids = await asyncio.gather(
                *(
                    execute(
                        p,
                        caller=client,
                        stats=client.stats,
                        concurrency=concurrency,
                        settings=settings,
                        purpose="sweep",
                    )
                    for p in plans
                )
            )
        finally:
            await client.aclose()
    print(json.dumps({"runs": ids, "model_calls": client.stats.model_calls}))


# --- measuring ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def timed(
    name: str, argv: list[str], *, env: dict[str, str], server: SampleServer, workdir: Path
) -> tuple[es.Run, str]:
    """One run of a contender, and the digest of the request bodies it sent."""
    run, _ = es.measure(name, argv, env=env, server=server, workdir=workdir, timeout_s=1800)
    if run.error:
        raise SystemExit(f"{name}: {run.error}")
    return run, digest(server.bodies())


def run_config(
    regime: str, items: int, latency_ms: float, concurrency: int, rounds: int, keep: bool
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="promptloop-fast-"))
    server = SampleServer(latency_ms, workdir)
    try:
        total = SWEEP_PROMPTS * SWEEP_ITEMS if regime == "sweep" else items
        # The warm CLI would run the command in another process: time this one's CPU.
        env = {**es.base_env(server, workdir / "home"), "PROMPTLOOP_WARM_CLI": "0"}
        es.log(f"{regime}: setting up the ledger in {workdir} (not timed)...")
        rows = set_up(workdir, env, regime, total)
        c = str(concurrency)
        if regime == "sweep":
            ours = [es.PYTHON, str(Path(__file__).resolve()), "--sweep-child", "--concurrency", c]
        else:
            ours = [*es.promptloop_cmd(), "eval", "run", PROMPT_NAME, "--no-cache", "--json"]
            ours += ["--concurrency", c]
        es.log(f"{regime}: capturing promptloop's requests (not timed)...")
        timed("capture", ours, env=env, server=server, workdir=workdir)
        captured = server.bodies()
        chains = chains_of(captured, rows)
        expected = digest(captured)
        floor = [es.PYTHON, str(BENCH / "replay.py"), "--concurrency", c]
        floor += ["--chains", str(write_jsonl(workdir / "chains.jsonl", chains))]
        label = (
            f"sweep {SWEEP_PROMPTS} prompts x {SWEEP_ITEMS} items"
            if regime == "sweep"
            else f"eval {items} items"
        ) + f", {latency_ms:g} ms, concurrency {concurrency}"
        contenders = {"floor": floor, "promptloop": ours}
        samples: dict[str, list[es.Run]] = {name: [] for name in contenders}
        loads = []
        for round_ in range(rounds):
            order = list(contenders) if round_ % 2 == 0 else list(reversed(contenders))
            loads.append(round(os.getloadavg()[0], 2))
            for name in order:
                es.log(f"{label}: {name} [{round_ + 1}/{rounds}]...")
                run, sent = timed(name, contenders[name], env=env, server=server, workdir=workdir)
                if run.model_calls != len(captured) or sent != expected:
                    raise SystemExit(
                        f"{label}: {name} sent {run.model_calls} requests, not the "
                        f"{len(captured)} captured ones"
                    )
                samples[name].append(run)
        out: dict[str, Any] = {"config": label, "calls": len(captured), "load_avg": loads}
        for name, runs in samples.items():
            out[name] = {
                "wall_s": median([r.wall_s or 0 for r in runs]),
                "cpu_s": median([r.cpu_s or 0 for r in runs]),
                "walls": [r.wall_s for r in runs],
                "cpus": [r.cpu_s for r in runs],
            }
        f, o = out["floor"], out["promptloop"]
        out["wall_ratio"] = round(o["wall_s"] / f["wall_s"], 3)
        out["cpu_ratio"] = round(o["cpu_s"] / f["cpu_s"], 3)
        out["round_ratios"] = [
            round((po.wall_s or 0) / (fo.wall_s or 1), 3)
            for fo, po in zip(samples["floor"], samples["promptloop"], strict=True)
        ]
        return out
    finally:
        server.stop()
        es._kill_all()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", choices=["eval", "sweep", "both"], default="eval")
    parser.add_argument("--items", type=int, nargs="+", default=[5000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[50.0])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", "--repeat", type=int, default=3, help="paired rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--sweep-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.latency_ms[0])
        return 0
    if args.sweep_child:
        asyncio.run(_sweep(args.concurrency))
        return 0
    for value, what in ((min(args.items), "--items"), (args.concurrency, "--concurrency")):
        if not 1 <= value <= 100_000:
            parser.error(f"{what} must be between 1 and 100000")
    if args.rounds < 1 or min(args.latency_ms) < 0:
        parser.error("--rounds must be at least 1 and --latency-ms at least 0")
    configs: list[tuple[str, int, float]] = []
    for latency in args.latency_ms:
        if args.regime in ("eval", "both"):
            configs += [("eval", n, latency) for n in args.items]
        if args.regime in ("sweep", "both"):
            configs.append(("sweep", SWEEP_PROMPTS * SWEEP_ITEMS, latency))
    results = [
        run_config(r, n, lat, args.concurrency, args.rounds, args.keep) for r, n, lat in configs
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"\n{os.cpu_count()} CPUs; load average (1 min) at each round's start per row")
    print(
        f"{'configuration':48} {'calls':>6} {'floor wall/CPU s':>17} "
        f"{'promptloop wall/CPU s':>22} {'× wall':>7} {'× CPU':>6}  per round; load"
    )
    for r in results:
        f, o = r["floor"], r["promptloop"]
        mark = "PASS" if r["wall_ratio"] <= TARGET_RATIO else "FAIL"
        print(
            f"{r['config']:48} {r['calls']:>6} {f['wall_s']:>8.2f}/{f['cpu_s']:<8.2f} "
            f"{o['wall_s']:>13.2f}/{o['cpu_s']:<8.2f} {r['wall_ratio']:>7.2f} "
            f"{r['cpu_ratio']:>6.2f}  {r['round_ratios']}; {r['load_avg']} "
            f"{mark} (≤ {TARGET_RATIO})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
