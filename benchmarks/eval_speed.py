"""How fast is ``promptloop eval run``? Measured against a floor and a peer in the same run.

    .venv/bin/python benchmarks/eval_speed.py            # N=1000, concurrency 32, 200 ms, 3 rounds
    .venv/bin/python benchmarks/eval_speed.py --items 200 --repeat 1 --skip-promptfoo --json

One fake OpenAI-compatible server (``tests/fakes/openai_server.py``, its own process,
deterministic answers, a fixed latency per request) serves every contender in turn:

(a) floor      plain asyncio + the ``openai`` SDK, the same rendered calls (``floor.py``)
(b) promptloop ``promptloop eval run <prompt> --concurrency C --no-cache --json``
(c) promptfoo  ``promptfoo eval`` (npm, pinned in ``package.json``), ``--max-concurrency C``
(d) promptloop the same command again without ``--no-cache``: the cache is warm

Each contender is its own process (it pays its own start-up), timed from spawn to exit.
Peak memory is ``ru_maxrss`` from ``wait4()`` on that process (it includes any children it
waited for). Model calls are the chat requests the server counted during the contender's
run (``GET /stats``, reset before each run), which also reports the most requests in
flight at once and a digest of the calls' content: every contender must send the same calls.

Prints a table and the targets (PASS/FAIL); writes the figures to ``benchmarks/results/``.
Exits 0 when a target is missed (this is a measurement), 2 on a broken set-up.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent
PROMPTFOO_PIN = json.loads((BENCH / "package.json").read_text())["dependencies"]["promptfoo"]
PROMPTFOO_BIN = BENCH / "node_modules" / ".bin" / "promptfoo"

MODEL = "bench-model"
PROMPT_NAME = "bench-prompt"
DATASET_NAME = "bench"
SYSTEM = "You sort customer support tickets into billing, technical or account."
TEMPLATE = "Ticket: {{ ticket }}\nCategory:"
PARAMS = {"temperature": 0, "max_tokens": 16}

TARGET_RATIO = 1.10

# Every process group we started and have not reaped yet: killed on any exit.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _kill_all() -> None:
    for pid, proc in list(_LIVE.items()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=3)
        except ChildProcessError:
            pass
        _LIVE.pop(pid, None)


def _on_signal(signum: int, _frame: Any) -> None:
    _kill_all()
    sys.exit(128 + signum)


def spawn(
    argv: list[str], *, env: dict[str, str], cwd: Path, stdout: Any, stderr: Any
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: killing it kills its children
    )
    _LIVE[proc.pid] = proc
    return proc


# --- the fake server ----------------------------------------------------------------------


class Server:
    def __init__(self, latency_ms: float, workdir: Path) -> None:
        self.log_path = workdir / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = spawn(
            [
                PYTHON,
                str(REPO / "tests" / "fakes" / "openai_server.py"),
                "--port",
                "0",
                "--latency-ms",
                f"{latency_ms:g}",
            ],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            match = re.search(r"(http://[\d.]+:\d+)/v1", self.log_path.read_text())
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the fake server did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)
        self.base_url = self.url + "/v1"
        self._get("/v1/models")  # up and answering
        if "messages_digest" not in self.stats():
            raise SystemExit("tests/fakes/openai_server.py has no GET /stats: update it")

    def _get(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return dict(self._get("/stats"))

    def reset(self) -> None:
        self._get("/stats/reset", method="POST")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        _LIVE.pop(self.proc.pid, None)
        self._log.close()


# --- the inputs -----------------------------------------------------------------------------

_SUBJECTS = [
    "I was charged twice for order {n}",
    "The app crashes when I open report {n}",
    "Please change the email on account {n}",
    "Refund request for invoice {n} from last month",
    "Error 500 when exporting project {n} to CSV",
    "I cannot reset the password for user {n}",
    "Why did my plan price go up on bill {n}",
    "Sync has been stuck for hours on device {n}",
]


def write_inputs(workdir: Path, items: int, server_base_url: str) -> dict[str, Path]:
    """The dataset, the prompt, the team and the promptfoo config: one set for everyone.

    Tickets hold no quotes, backslashes or newlines, so promptfoo's JSON chat prompt renders
    the same messages as Jinja2 does (the server's digest checks it).
    """
    categories = [
        "billing",
        "technical",
        "account",
        "billing",
        "technical",
        "account",
        "billing",
        "technical",
    ]
    rows: list[dict[str, Any]] = []
    for i in range(items):
        k = i % len(_SUBJECTS)
        ticket = _SUBJECTS[k].format(n=10_000 + i) + f" (case {i})."
        rows.append({"id": f"t{i:05d}", "input": {"ticket": ticket}, "expected": categories[k]})
    paths = {
        "dataset": workdir / "data.jsonl",
        "prompt": workdir / "prompt.yaml",
        "team": workdir / "team.yaml",
        "promptfoo": workdir / "promptfooconfig.json",
    }
    paths["dataset"].write_text("".join(json.dumps(r) + "\n" for r in rows))
    # JSON is YAML: no quoting surprises in the template.
    paths["prompt"].write_text(
        json.dumps(
            {
                "name": PROMPT_NAME,
                "description": "The eval_speed benchmark's prompt.",
                "model": MODEL,
                "dataset": DATASET_NAME,
                "params": PARAMS,
                "system": SYSTEM,
                "template": TEMPLATE,
            },
            indent=2,
        )
        + "\n"
    )
    paths["team"].write_text(
        json.dumps(
            {
                "people": [
                    {
                        "handle": "bench",
                        "name": "Bench Runner",
                        "roles": ["pm", "admin"],  # a first sync makes the admins
                        "email": "bench@example.com",
                    }
                ]
            },
            indent=2,
        )
        + "\n"
    )
    chat_prompt = json.dumps(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TEMPLATE}]
    )
    paths["promptfoo"].write_text(
        json.dumps(
            {
                "description": "promptloop eval_speed benchmark",
                "prompts": [chat_prompt],
                "providers": [
                    {
                        "id": f"openai:chat:{MODEL}",
                        "config": {"apiBaseUrl": server_base_url, "apiKey": "x", **PARAMS},
                    }
                ],
                "tests": [{"vars": {"ticket": r["input"]["ticket"]}} for r in rows],
            },
            indent=1,
        )
        + "\n"
    )
    return paths


# --- running one contender -------------------------------------------------------------------


@dataclass
class Run:
    contender: str
    wall_s: float | None = None
    cpu_s: float | None = None  # user + system CPU of the process (and children it waited for)
    model_calls: int | None = None
    peak_rss_mb: float | None = None
    max_in_flight: int | None = None
    messages_digest: str | None = None
    params_sent: dict[str, Any] = field(default_factory=dict)  # distinct values the server saw
    exit_code: int | None = None
    reported: dict[str, Any] = field(
        default_factory=dict
    )  # what the contender printed about itself
    skipped: str | None = None
    error: str | None = None


def measure(
    name: str,
    argv: list[str],
    *,
    env: dict[str, str],
    server: Server,
    workdir: Path,
    timeout_s: float,
) -> tuple[Run, str]:
    """Run ``argv`` once: wall time from spawn to exit, ru_maxrss, the server's counts."""
    server.reset()
    slug = re.sub(r"\W+", "_", name)
    out_path, err_path = workdir / f"{slug}.out", workdir / f"{slug}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = spawn(argv, env=env, cwd=workdir, stdout=out, stderr=err)
        # A blocking wait4() in a thread: no polling that would steal CPU from the contender.
        reaped: dict[str, Any] = {}

        def reap() -> None:
            _, reaped["status"], reaped["rusage"] = os.wait4(proc.pid, 0)
            reaped["wall"] = time.perf_counter() - started

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        waiter.join(timeout_s)
        if waiter.is_alive():
            os.killpg(proc.pid, signal.SIGKILL)
            waiter.join()
        status, rusage, wall = reaped["status"], reaped["rusage"], reaped["wall"]
    proc.returncode = os.waitstatus_to_exitcode(status)
    _LIVE.pop(proc.pid, None)
    with contextlib.suppress(ProcessLookupError):  # anything it left behind in its group
        os.killpg(proc.pid, signal.SIGKILL)
    stats = server.stats()
    run = Run(
        contender=name,
        wall_s=round(wall, 3),
        cpu_s=round(rusage.ru_utime + rusage.ru_stime, 3),
        model_calls=stats["chat_requests"],
        peak_rss_mb=round(rusage.ru_maxrss / 1024, 1),  # KiB on Linux
        max_in_flight=stats["max_in_flight"],
        messages_digest=stats["messages_digest"],
        params_sent={k: v for k, v in stats.get("params", {}).items() if v != ["null"]},
        exit_code=proc.returncode,
    )
    stdout = out_path.read_text(errors="replace")
    if wall >= timeout_s:
        run.error = f"timed out after {timeout_s:g} s"
    elif proc.returncode != 0:
        tail = err_path.read_text(errors="replace").strip().splitlines()[-5:]
        run.error = f"exit {proc.returncode}: " + " | ".join(tail)
    return run, stdout


def last_json(stdout: str) -> dict[str, Any]:
    """The JSON document a contender printed (the last line that parses, or the whole text)."""
    with contextlib.suppress(json.JSONDecodeError):
        value = json.loads(stdout)
        if isinstance(value, dict):
            return value
    for line in reversed(stdout.strip().splitlines()):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    return {}


# --- the contenders --------------------------------------------------------------------------


def base_env(server: Server, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMPTLOOP_", "OPENAI_"))}
    env.update(
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="x",
        PROMPTLOOP_HOME=str(home),
        NO_COLOR="1",
        PYTHONPATH=str(REPO),
    )
    return env


def promptloop_cmd() -> list[str]:
    exe = VENV_BIN / "promptloop"
    return [str(exe)] if exe.exists() else [PYTHON, "-m", "promptloop.cli.app"]


def promptloop_has_eval_run(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [*promptloop_cmd(), "eval", "run", "--help"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )
    return done.returncode == 0


def setup_promptloop(paths: dict[str, Path], env: dict[str, str]) -> None:
    """The ledger (not timed): init, the team, the dataset, the prompt."""
    steps = [
        ["init"],
        ["team", "sync", str(paths["team"])],
        ["dataset", "push", str(paths["dataset"]), "--name", DATASET_NAME],
        ["prompt", "push", str(paths["prompt"]), "--as", "bench"],
    ]
    for step in steps:
        done = subprocess.run(
            [*promptloop_cmd(), *step],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"promptloop {' '.join(step)} failed: {done.stderr.strip() or done.stdout.strip()}"
            )


def ensure_promptfoo() -> str | None:
    """None when promptfoo (the pinned version) is ready; else why it is skipped."""
    if shutil.which("node") is None:
        return "node is not installed"
    installed = BENCH / "node_modules" / "promptfoo" / "package.json"
    version = json.loads(installed.read_text())["version"] if installed.exists() else None
    if version == PROMPTFOO_PIN and PROMPTFOO_BIN.exists():
        return None
    if shutil.which("npm") is None:
        return f"npm is not installed (needed once to install promptfoo@{PROMPTFOO_PIN})"
    verb = "ci" if (BENCH / "package-lock.json").exists() else "install"
    log(
        f"installing promptfoo@{PROMPTFOO_PIN} into benchmarks/node_modules (npm {verb}, once; "
        "about two minutes)..."
    )
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1", "PUPPETEER_SKIP_DOWNLOAD": "1"}
    done = subprocess.run(
        ["npm", verb, "--prefix", str(BENCH), "--no-audit", "--no-fund"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0 or not PROMPTFOO_BIN.exists():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return f"npm {verb} failed: {tail}"
    return None


def promptfoo_env(env: dict[str, str], workdir: Path) -> dict[str, str]:
    return {
        **env,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_DISABLE_SHARING": "1",
        "PROMPTFOO_CONFIG_DIR": str(workdir / "promptfoo-home"),  # not ~/.promptfoo
    }


def promptfoo_reported(stdout: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("Successes", "Failures", "Errors", "Pass Rate"):
        match = re.search(rf"{key}:\s*([\d.]+%?)", re.sub(r"\x1b\[[\d;]*m", "", stdout))
        if match:
            found[key.lower().replace(" ", "_")] = match.group(1)
    return found


# --- the report ------------------------------------------------------------------------------


def summarize(runs: list[Run]) -> Run:
    """Repeats of one contender: the median wall time, the largest memory and call count."""
    ok = [r for r in runs if r.wall_s is not None and not r.skipped]
    if len(runs) == 1 or not ok:
        return runs[0]
    walls = [r.wall_s for r in ok if r.wall_s is not None]
    best = min(ok, key=lambda r: abs((r.wall_s or 0) - statistics.median(walls)))
    merged = Run(**{**asdict(best), "reported": dict(best.reported)})
    merged.wall_s = round(statistics.median(walls), 3)
    merged.peak_rss_mb = max(r.peak_rss_mb or 0 for r in ok)
    merged.model_calls = max(r.model_calls or 0 for r in ok)
    merged.reported["walls_s"] = walls
    errors = [r.error for r in runs if r.error]
    merged.error = errors[0] if errors else None
    return merged


def table(rows: list[Run], floor: float | None, calls_expected: int) -> str:
    head = [
        "contender",
        "wall s",
        "× floor",
        "in-process s",
        "model calls",
        "peak RSS MB",
        "max in flight",
        "note",
    ]
    body = []
    for r in rows:
        if r.skipped:
            body.append([r.contender, "-", "-", "-", "-", "-", "-", f"skipped: {r.skipped}"])
            continue
        inner = r.reported.get("wall_s")
        inner_s = f"{inner:.2f}" if isinstance(inner, (int, float)) else "-"
        ratio = f"{r.wall_s / floor:.2f}" if floor and r.wall_s else "-"
        note = r.error or ""
        if not note and r.model_calls not in (calls_expected, 0):
            note = f"expected {calls_expected} calls"
        body.append(
            [
                r.contender,
                f"{r.wall_s:.2f}",
                ratio,
                inner_s,
                str(r.model_calls),
                f"{r.peak_rss_mb:.0f}",
                str(r.max_in_flight),
                note,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        padded = (
            c.ljust(w) if i in (0, 7) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in body)])


def targets(by_name: dict[str, Run], floor: float | None) -> list[dict[str, Any]]:
    """The issue's three targets; ``ok`` is None when a figure is missing."""

    def measured(name: str) -> Run | None:
        r = by_name.get(name)
        ok = r is not None and not r.skipped and not r.error and r.wall_s is not None
        return r if ok else None

    def target(text: str, value: str | None, ok: bool | None) -> dict[str, Any]:
        return {"target": text, "value": value or "not measured", "ok": ok}

    cold, warm = measured("promptloop"), measured("promptloop (warm cache)")
    peer = measured("promptfoo")
    out = []
    name = f"promptloop ≤ {TARGET_RATIO:.2f}× the floor"
    if cold and cold.wall_s and floor:
        ratio = cold.wall_s / floor
        out.append(target(name, f"{ratio:.3f}×", ratio <= TARGET_RATIO))
    else:
        out.append(target(name, None, None))
    name = "promptloop faster than promptfoo"
    if cold and peer and cold.wall_s and peer.wall_s:
        value = f"{cold.wall_s:.2f} s vs {peer.wall_s:.2f} s"
        out.append(target(name, value, cold.wall_s < peer.wall_s))
    else:
        out.append(target(name, None, None))
    name = "0 model calls on the warm re-run"
    if warm:
        out.append(target(name, str(warm.model_calls), warm.model_calls == 0))
    else:
        out.append(target(name, None, None))
    return out


def versions() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "promptfoo": PROMPTFOO_PIN,
    }
    with contextlib.suppress(Exception):
        import openai

        info["openai"] = openai.__version__
    with contextlib.suppress(Exception):
        info["node"] = subprocess.run(
            ["node", "--version"], capture_output=True, text=True
        ).stdout.strip()
    return info


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description="promptloop eval run vs plain asyncio vs promptfoo."
    )
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="run (a)-(c) this many times, interleaved; report the median wall time "
        "(this machine is noisy: one sample varies by ±10%%)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="per contender run, seconds")
    parser.add_argument("--skip-promptfoo", action="store_true")
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON, not a table"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, inputs)"
    )
    args = parser.parse_args()

    atexit.register(_kill_all)
    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # ctrl-C, even if started with it ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    workdir = Path(tempfile.mkdtemp(prefix="promptloop-bench-"))
    server: Server | None = None
    try:
        server = Server(args.latency_ms, workdir)
        paths = write_inputs(workdir, args.items, server.base_url)
        env = base_env(server, workdir / "promptloop-home")
        c = str(args.concurrency)
        log(
            f"fake server {server.base_url}, {args.items} items, concurrency {c}, "
            f"latency {args.latency_ms:g} ms; work dir {workdir}"
        )

        floor_argv = [
            PYTHON,
            str(BENCH / "floor.py"),
            "--prompt",
            str(paths["prompt"]),
            "--dataset",
            str(paths["dataset"]),
            "--concurrency",
            c,
        ]
        subprocess.run(
            [PYTHON, str(BENCH / "floor.py"), "--help"], env=env, capture_output=True
        )  # warm the disk cache

        promptloop_skip = None
        if not promptloop_has_eval_run(env):
            promptloop_skip = "`promptloop eval run` does not exist yet"
        else:
            log("setting up the promptloop ledger (not timed)...")
            setup_promptloop(paths, env)
        pl_argv = [*promptloop_cmd(), "eval", "run", PROMPT_NAME, "--concurrency", c, "--json"]

        promptfoo_skip = "--skip-promptfoo" if args.skip_promptfoo else ensure_promptfoo()
        pf_env = promptfoo_env(env, workdir)
        pf_argv = [
            str(PROMPTFOO_BIN),
            "eval",
            "-c",
            str(paths["promptfoo"]),
            "--no-cache",
            "--max-concurrency",
            c,
            "--no-write",
            "--no-table",
            "--no-progress-bar",
        ]
        if not promptfoo_skip:
            subprocess.run(
                [str(PROMPTFOO_BIN), "--version"], env=pf_env, capture_output=True
            )  # warm the disk cache

        runs: dict[str, list[Run]] = {
            "floor (asyncio + openai)": [],
            "promptloop": [],
            "promptfoo": [],
            "promptloop (warm cache)": [],
        }
        for round_ in range(args.repeat):
            tag = f" [{round_ + 1}/{args.repeat}]" if args.repeat > 1 else ""
            log(f"(a) floor{tag}...")
            run, out = measure(
                "floor (asyncio + openai)",
                floor_argv,
                env=env,
                server=server,
                workdir=workdir,
                timeout_s=args.timeout,
            )
            run.reported = last_json(out)
            runs["floor (asyncio + openai)"].append(run)

            if promptloop_skip:
                runs["promptloop"] = [Run("promptloop", skipped=promptloop_skip)]
            else:
                log(f"(b) promptloop eval run --no-cache{tag}...")
                run, out = measure(
                    "promptloop",
                    [*pl_argv, "--no-cache"],
                    env=env,
                    server=server,
                    workdir=workdir,
                    timeout_s=args.timeout,
                )
                run.reported = {
                    k: v
                    for k, v in last_json(out).items()
                    if k in ("id", "items", "errors", "model_calls", "cache_hits", "wall_s")
                }
                runs["promptloop"].append(run)

            if promptfoo_skip:
                runs["promptfoo"] = [Run("promptfoo", skipped=promptfoo_skip)]
            else:
                log(f"(c) promptfoo@{PROMPTFOO_PIN} eval{tag}...")
                run, out = measure(
                    "promptfoo",
                    pf_argv,
                    env=pf_env,
                    server=server,
                    workdir=workdir,
                    timeout_s=args.timeout,
                )
                run.reported = promptfoo_reported(out)
                runs["promptfoo"].append(run)

        if promptloop_skip:
            runs["promptloop (warm cache)"] = [
                Run("promptloop (warm cache)", skipped=promptloop_skip)
            ]
        else:
            log("(d) promptloop eval run, warm cache...")
            run, out = measure(
                "promptloop (warm cache)",
                pl_argv,
                env=env,
                server=server,
                workdir=workdir,
                timeout_s=args.timeout,
            )
            run.reported = {
                k: v
                for k, v in last_json(out).items()
                if k in ("id", "items", "errors", "model_calls", "cache_hits", "wall_s")
            }
            runs["promptloop (warm cache)"].append(run)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if server is not None:
            server.stop()
        _kill_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = [summarize(v) for v in runs.values()]
    by_name = {r.contender: r for r in rows}
    floor_row = by_name["floor (asyncio + openai)"]
    floor = floor_row.wall_s if not floor_row.error else None
    # Did everyone send the same calls? (the warm run sends none)
    digests = {
        r.contender: r.messages_digest
        for r in rows
        if not r.skipped
        and not r.error
        and r.model_calls
        and r.contender != "promptloop (warm cache)"
    }
    same_calls = len(set(digests.values())) <= 1
    ideal = args.items / args.concurrency * args.latency_ms / 1000
    result: dict[str, Any] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {
            "items": args.items,
            "concurrency": args.concurrency,
            "latency_ms": args.latency_ms,
            "repeat": args.repeat,
            "ideal_wall_s": round(ideal, 3),
        },
        "versions": versions(),
        "rows": [
            {
                **asdict(r),
                "ratio_to_floor": round(r.wall_s / floor, 3) if floor and r.wall_s else None,
            }
            for r in rows
        ],
        "same_calls": same_calls,
        "targets": targets(by_name, floor),
    }
    results_dir = BENCH / "results"
    results_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_file = results_dir / f"eval_speed-{stamp}.json"
    out_file.write_text(json.dumps(result, indent=2) + "\n")

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"\n{args.items} items, concurrency {args.concurrency}, {args.latency_ms:g} ms per call "
            f"(ideal {ideal:.2f} s); {result['versions']}"
        )
        print(table(rows, floor, args.items))
        if not same_calls:
            print("WARNING: the contenders did not send the same calls: " + json.dumps(digests))
        print()
        for t in result["targets"]:
            mark = {True: "PASS", False: "FAIL", None: "n/a "}[t["ok"]]
            print(f"  {mark}  {t['target']}: {t['value']}")
        print(f"\nfigures: {out_file.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
