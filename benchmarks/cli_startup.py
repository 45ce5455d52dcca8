"""How long does a ledger-only command take, next to the interpreter doing nothing?

    .venv/bin/python benchmarks/cli_startup.py            # --repeat 7 --json

In a fresh ``PROMPTLOOP_HOME`` (the sample loaded and one change submitted beforehand,
not timed) it runs, interleaved, ``--repeat`` times each:

- ``python -c pass``: the baseline, the interpreter's own start-up;
- ``python -c "import sqlalchemy"`` and ``python -c "import sqlmodel"``: the floor of any
  command that reads the ledger (each ends with ``os._exit``, as the console script does,
  so that the interpreter's teardown is not counted against the floor alone);
- the ledger commands (``change list``, ``change show 1``, ``team list``,
  ``prompt show support-triage``, ``review list``, ``outbox list``), run as
  ``python -m promptloop …``, each twice: handed to the warm process a first command
  leaves behind (``promptloop.cli.launcher``; started before timing), and in its own
  process (``PROMPTLOOP_WARM_CLI=0``: the first command of a day, or warm process off).

Each figure is the wall time from spawning the process to its exit; the table shows the
fastest and the median run, the median's ratios to the two baselines (``python -c pass``
and ``import sqlalchemy``), and the median CPU time (user + system) of the process, which
other load on the machine disturbs less (for a warm command, the CPU of the caller only:
the work is done in the warm process's child). The load average before and after is printed:
figures from a busy machine are not comparable. The code measured is the checkout this
script sits in (its directory is the working directory and ``PYTHONPATH``).

Where the time of one command goes: ``python -X importtime -m promptloop change list``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHANGE_FILE = ROOT / "roles" / "samples" / "support-triage-change.yaml"

CLI = ["-m", "promptloop"]
BASELINE = "python -c pass"
FLOOR = 'python -c "import sqlalchemy"'
COMMANDS = (
    "change list",
    "change show 1",
    "team list",
    "prompt show support-triage",
    "review list",
    "outbox list",
)
OWN = {"PROMPTLOOP_WARM_CLI": "0"}
# name → (python arguments, environment overrides)
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    BASELINE: (["-c", "pass"], {}),
    FLOOR: (["-c", "import sqlalchemy, os; os._exit(0)"], {}),
    'python -c "import sqlmodel"': (["-c", "import sqlmodel, os; os._exit(0)"], {}),
    **{f"promptloop {c} (warm)": ([*CLI, *c.split()], {}) for c in COMMANDS},
    **{f"promptloop {c} (own process)": ([*CLI, *c.split()], OWN) for c in COMMANDS},
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``python ARGS``."""
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, _children_cpu() - cpu


def measure(repeat: int) -> dict[str, list[tuple[float, float]]]:
    """``repeat`` interleaved runs of every case, in a scratch home made for them."""
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "PROMPTLOOP_HOME": home,
            "PROMPTLOOP_AUTO_EVALUATE": "false",
            "PYTHONPATH": str(ROOT),
            "PROMPTLOOP_WARM_CLI": "1",
            "PROMPTLOOP_WARM_CLI_IDLE_S": "60",  # it goes away a minute after the benchmark
        }
        env.pop("PROMPTLOOP_DATABASE_URL", None)
        run([*CLI, "init", "--sample"], env)  # leaves the warm process behind
        run([*CLI, "change", "submit", "-f", str(CHANGE_FILE), "--as", "maya"], env)
        _wait_warm()
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
        for _ in range(repeat):
            for name, (args, overrides) in CASES.items():
                times[name].append(run(args, {**env, **overrides}))
    return times


def _wait_warm() -> None:
    import socket

    os.environ["PYTHONPATH"] = str(ROOT)  # the warm process's address is keyed on it
    sys.path.insert(0, str(ROOT))
    from promptloop.cli import launcher

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(launcher.address())
                return
            except OSError:
                time.sleep(0.2)
    raise SystemExit("no warm process a minute after the first command")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    times = measure(options.repeat)
    load_after = os.getloadavg()[0]
    medians = {name: statistics.median(wall for wall, _ in runs) for name, runs in times.items()}
    rows = [
        {
            "command": name,
            "min_s": round(min(wall for wall, _ in runs), 3),
            "median_s": round(medians[name], 3),
            "x_pass": round(medians[name] / medians[BASELINE], 1),
            "x_sqlalchemy": round(medians[name] / medians[FLOOR], 2),
            "cpu_s": round(statistics.median(cpu for _, cpu in runs), 3),
        }
        for name, runs in times.items()
    ]
    python = sys.version.split()[0]
    load = {"before": round(load_before, 2), "after": round(load_after, 2)}
    if options.json:
        print(json.dumps({"repeat": options.repeat, "python": python, "load": load, "rows": rows}))
        return
    print(f"{'command':<52} {'min s':>7} {'median s':>9} {'× pass':>7} {'× sqla':>7} {'cpu s':>7}")
    for row in rows:
        print(
            f"{row['command']:<52} {row['min_s']:>7.3f} {row['median_s']:>9.3f} "
            f"{row['x_pass']:>7.1f} {row['x_sqlalchemy']:>7.2f} {row['cpu_s']:>7.3f}"
        )
    print(
        f"({options.repeat} runs each, interleaved; Python {python}; "
        f"load average {load['before']} before, {load['after']} after)"
    )


if __name__ == "__main__":
    main()
