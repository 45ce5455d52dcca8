"""A persistent local Prefect server for promptloop's flows, started on demand.

Without ``PREFECT_API_URL`` every Prefect process would start a temporary server (6–9 s
each, and its runs vanish with it). promptloop instead keeps one server per
``PROMPTLOOP_HOME``, detached, with its state in ``PROMPTLOOP_HOME/prefect``; the UI is
at the printed URL. ``PREFECT_API_URL`` set by the user always wins.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from integrations.settings import get_settings
from roles.errors import OutageError, PromptloopError

DEFAULT_PORT = 4200
START_TIMEOUT_S = 90.0


class ServerError(PromptloopError):
    exit_code = 1


class ServerUnreachable(OutageError):
    """The Prefect server named by PREFECT_API_URL is down: an outage, exit 4."""


def _state_dir() -> Path:
    path = get_settings().home / "prefect"
    path.mkdir(parents=True, exist_ok=True)
    return path


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            # as the server binds it: a port in TIME_WAIT after `server stop` is free again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise ServerError("no free port for the Prefect server")


def server_env(api_url: str) -> dict[str, str]:
    """Environment for a process that should use this server."""
    return {
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }


def recorded_url() -> str | None:
    record = _state_dir() / "server.json"
    try:
        return str(json.loads(record.read_text())["api_url"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_server() -> str:
    """The API URL of a healthy Prefect server, starting ours if needed (under a file lock)."""
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        if not healthy(explicit):
            raise ServerUnreachable(
                f"the Prefect server at {explicit} (PREFECT_API_URL) does not answer"
            )
        return explicit
    state = _state_dir()
    with open(state / "server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        url = recorded_url()
        if url and healthy(url):
            return url
        return _start(state)


def _start(state: Path) -> str:
    port = _free_port(DEFAULT_PORT)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **server_env(api_url),
        "PREFECT_HOME": str(state),
        "PREFECT_UI_API_URL": api_url,
    }
    env.pop("PREFECT_API_URL", None)
    log = open(state / "server.log", "ab")  # noqa: SIM115 (the server keeps it open)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the Prefect server exited with code {process.returncode}; see {state / 'server.log'}"
            )
        if healthy(api_url, timeout=1.0):
            (state / "server.json").write_text(json.dumps({"api_url": api_url, "pid": process.pid}))
            return api_url
        time.sleep(0.5)
    process.terminate()
    raise ServerError(f"the Prefect server did not answer within {START_TIMEOUT_S:.0f} s")


def stop_server() -> bool:
    """Stop our recorded server, if running. Returns whether one was stopped."""
    record = _state_dir() / "server.json"
    try:
        pid = int(json.loads(record.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, 15)
    record.unlink(missing_ok=True)
    return True


def ui_url(api_url: str) -> str:
    return api_url.removesuffix("/api")
