"""A persistent local Prefect server for promptloop's flows, started on demand.

Without ``PREFECT_API_URL`` every Prefect process would start a temporary server (6–9 s
each, and its runs vanish with it). promptloop instead keeps one server per
``PROMPTLOOP_HOME``, detached, with its state in ``PROMPTLOOP_HOME/prefect``; the UI is
at the printed URL. ``PREFECT_API_URL`` set by the user always wins.

Several homes on one machine each have their own server: a server counts as this home's
only when it answers *and* says (``GET /api/admin/settings``) that its ``PREFECT_HOME`` is
this home's ``prefect`` folder, so a healthy server of another home on a recorded port is
never taken for ours. A start that finds its port taken by the time the server binds it
(another home starting at the same moment) tries the next free port.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from integrations.settings import get_settings
from roles.errors import OutageError, PromptloopError

DEFAULT_PORT = 4200
BIND_ATTEMPTS = 5
PORT_TAKEN = re.compile(r"already in use|errno 98", re.IGNORECASE)


class ServerError(PromptloopError):
    exit_code = 1


class ServerUnreachable(OutageError):
    """The Prefect server named by PREFECT_API_URL is down: an outage, exit 4."""


class _PortTaken(Exception):
    """The server could not bind its port: someone bound it since it was found free."""


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


def server_home(api_url: str, timeout: float = 5.0) -> Path | None:
    """The ``PREFECT_HOME`` of the server answering at ``api_url`` (None: no answer)."""
    try:
        with urllib.request.urlopen(
            f"{api_url.rstrip('/')}/admin/settings", timeout=timeout
        ) as reply:
            home = json.loads(reply.read()).get("home")
    except (urllib.error.URLError, OSError, ValueError, AttributeError):
        return None
    return Path(home) if isinstance(home, str) else None


def is_ours(api_url: str) -> bool:
    """Whether the server at ``api_url`` is this home's (its state is in our folder)."""
    return other_home(api_url) is None


def other_home(api_url: str) -> str | None:
    """The ``PREFECT_HOME`` of the server at ``api_url`` unless it is this home's ("unknown"
    when it does not say, or does not answer); None when it is ours."""
    theirs = server_home(api_url)
    if theirs is not None and _same_path(theirs, _state_dir()):
        return None
    return str(theirs or "unknown")


def _same_path(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.resolve() == b.resolve()
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


def our_url() -> str | None:
    """The recorded URL of this home's server when it answers as ours, else None."""
    url = recorded_url()
    return url if url and healthy(url) and is_ours(url) else None


def ensure_server(progress: Callable[[str], None] | None = None) -> str:
    """The API URL of a healthy Prefect server, starting ours if needed (under a file lock).

    ``progress`` hears, every few seconds of a start, what it waits for."""
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
        url = our_url()
        if url:
            return url
        return _start(state, progress)


def _start(state: Path, progress: Callable[[str], None] | None) -> str:
    port = DEFAULT_PORT
    for _attempt in range(BIND_ATTEMPTS):
        port = _free_port(port)
        try:
            return _launch(state, port, progress)
        except _PortTaken:
            port += 1  # taken between our look and its bind: the next one
    raise ServerError(
        f"the Prefect server could not bind a port ({BIND_ATTEMPTS} tried, each taken by the "
        f"time it bound it); see {state / 'server.log'}"
    )


def _launch(state: Path, port: int, progress: Callable[[str], None] | None) -> str:
    from integrations.progress import Progress

    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **server_env(api_url),
        "PREFECT_HOME": str(state),
        "PREFECT_UI_API_URL": api_url,
    }
    env.pop("PREFECT_API_URL", None)
    log_file = state / "server.log"
    log = open(log_file, "ab")  # noqa: SIM115 (the server keeps it open)
    offset = log.tell()
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
    log.close()
    watch = Progress(lambda: process.pid, [log_file, state / "prefect.db"])
    said = 0.0
    while True:
        if process.poll() is not None:
            written = _since(log_file, offset)
            if PORT_TAKEN.search(written):
                raise _PortTaken(port)
            raise ServerError(
                f"the Prefect server exited with code {process.returncode}; see {log_file}"
            )
        # another home's server may answer on this port before ours fails to bind it
        if healthy(api_url, timeout=1.0) and is_ours(api_url):
            (state / "server.json").write_text(json.dumps({"api_url": api_url, "pid": process.pid}))
            return api_url
        if watch.stalled():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            raise ServerError(f"the Prefect server did not start: {watch.why()}; see {log_file}")
        if progress is not None and watch.elapsed() - said >= 10:
            said = watch.elapsed()
            progress(f"its Prefect server is starting on port {port}, {said:.0f} s")
        time.sleep(0.5)


def _since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


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
