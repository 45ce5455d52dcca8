"""How long does a ledger-only command take, next to the interpreter doing nothing?

    .venv/bin/python benchmarks/cli_startup.py            # --repeat 7 --json

In a fresh ``PROMPTLOOP_HOME`` (the sample loaded and one change submitted beforehand,
not timed) it runs, interleaved, ``--repeat`` times each:

- ``python -c pass``: the baseline, the interpreter's own start-up;
- ``python -c "import sqlmodel"``: the floor of any command that reads the ledger;
- ``promptloop change list`` / ``team list`` / ``prompt show support-triage``, run as the
  console script runs them (``from promptloop.cli.app import main; main()``).

Each figure is the wall time from spawning the process to its exit; the table shows the
fastest and the median run, the median's ratio to the baseline's, and the median CPU time
(user + system) of the process, which other load on the machine disturbs less. The code measured is
the checkout this script sits in (it runs with the checkout as the working directory).
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

CLI = ["-c", "from promptloop.cli.app import main; main()"]  # what the console script runs
CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    'python -c "import sqlmodel"': ["-c", "import sqlmodel"],
    "promptloop change list": ["-m", "promptloop", "change", "list"],
    "promptloop team list": ["-m", "promptloop", "team", "list"],
    "promptloop prompt show support-triage": [
        "-m",
        "promptloop",
        "prompt",
        "show",
        "support-triage",
    ],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PROMPTLOOP_HOME": home, "PROMPTLOOP_AUTO_EVALUATE": "false"}
        env.pop("PROMPTLOOP_DATABASE_URL", None)
        run([*CLI, "init", "--sample"], env)
        run([*CLI, "change", "submit", "-f", str(CHANGE_FILE), "--as", "maya"], env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in CASES}
        for _ in range(options.repeat):
            for name, args in CASES.items():
                times[name].append(run(args, env))
    baseline = statistics.median(wall for wall, _ in times["python -c pass"])
    rows = []
    for name, runs in times.items():
        walls = [wall for wall, _ in runs]
        rows.append(
            {
                "command": name,
                "min_s": round(min(walls), 3),
                "median_s": round(statistics.median(walls), 3),
                "x_baseline": round(statistics.median(walls) / baseline, 1),
                "cpu_s": round(statistics.median(cpu for _, cpu in runs), 3),
            }
        )
    if options.json:
        print(
            json.dumps({"repeat": options.repeat, "python": sys.version.split()[0], "rows": rows})
        )
        return
    print(f"{'command':<40} {'min s':>7} {'median s':>9} {'× pass':>7} {'cpu s':>7}")
    for row in rows:
        print(
            f"{row['command']:<40} {row['min_s']:>7.3f} {row['median_s']:>9.3f} "
            f"{row['x_baseline']:>7.1f} {row['cpu_s']:>7.3f}"
        )
    print(f"({options.repeat} runs each, interleaved; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
