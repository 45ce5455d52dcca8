"""Find, start and stop ``promptloop serve`` for this ``PROMPTLOOP_HOME``.

A serving process holds ``serve.lock`` (an OS file lock, released when it dies however it
dies) and writes ``serve.json`` (pid, URLs) once it is ready. So "is anything serving?"
is one non-blocking lock attempt: no pid guessing, no stale records.

    ensure_serving(say)   # commands that need it: start it detached if nothing serves
    status()              # the record, or None
    stop()                # SIGTERM, wait for the lock to free, then SIGKILL the group

While it starts, serve writes its pid and what it is doing (``starting(...)``) into the
lock file, so a command that waits for it can say so and can tell a start that works (its
process lives and uses CPU, its log grows) from one that hung. A serve serves one ledger,
named in its record: a command pointed at another ledger is told so (exit 5), never left
with a pipeline run that no serve picks up.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from integrations.settings import get_settings
from roles.errors import InputError, PromptloopError

STOP_TIMEOUT_S = 30.0
SAY_EVERY_S = 10.0  # while waiting for a start: a line on stderr this often


class ServeError(PromptloopError):
    exit_code = 1


class NotServingError(PromptloopError):
    """promptloop serve does not run for this ledger (exit 5): nothing was done here."""

    exit_code = 5


def home() -> Path:
    path = get_settings().home
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_path() -> Path:
    return home() / "serve.json"


def log_path() -> Path:
    logs = home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return logs / "serve.log"


@contextlib.contextmanager
def holding_lock() -> Iterator[IO[str]]:
    """Hold this home's serve lock for the caller's lifetime; refuse if another holds it."""
    handle = open(home() / "serve.lock", "a+")  # noqa: SIM115 (held while serving)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = status()
        pid = f" (pid {running['pid']})" if running else ""
        raise ServeError(
            f"promptloop serve is already running for {home()}{pid}; "
            "`promptloop serve status`, or `promptloop serve stop`"
        ) from None
    try:
        starting("starting")
        yield handle
    finally:
        record_path().unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def starting(phase: str) -> None:
    """Say, in the lock file, what this serve (which holds the lock) is doing now."""
    with open(home() / "serve.lock", "r+") as handle:  # the locked inode, not a new file
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "phase": phase}))


def _starting() -> dict[str, Any]:
    """What the serve holding the lock said it is doing ({} before it said anything)."""
    try:
        found = json.loads((home() / "serve.lock").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _lock_held() -> bool:
    path = home() / "serve.lock"
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def write_record(record: dict[str, Any]) -> None:
    path = record_path()
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=2))
    temporary.replace(path)


def status() -> dict[str, Any] | None:
    """The running serve's record (pid, api_url, ui_url, gateway_url, …), or None."""
    if not _lock_held():
        return None
    try:
        record: dict[str, Any] = json.loads(record_path().read_text())
    except (OSError, ValueError):
        said = _starting()  # starting: locked, not ready yet
        return {"pid": said.get("pid"), "ready": False, "phase": said.get("phase")}
    return {**record, "ready": True}


def use(record: dict[str, Any]) -> None:
    """Point this process's Prefect client at the server that serve uses."""
    from integrations.prefect_server import server_env

    os.environ.update(server_env(str(record["api_url"])))


def model_endpoint() -> str:
    """Where this process's model calls go: what serve's pipelines use is serve's."""
    return get_settings().openai_base_url or "the embedded model"


def serves_this_ledger(record: dict[str, Any]) -> bool:
    """Whether serve's record names this process's ledger (a record without one: yes)."""
    from integrations.db import ledger_tag

    theirs = record.get("ledger_tag")
    return theirs is None or theirs == ledger_tag()


def refuse_other_ledger(record: dict[str, Any]) -> None:
    """Raise ``NotServingError`` when serve serves another ledger than this process's."""
    if serves_this_ledger(record):
        return
    from integrations.db import shown_url

    raise NotServingError(
        f"promptloop serve (pid {record.get('pid')}) for PROMPTLOOP_HOME={home()} serves the "
        f"ledger {record.get('ledger')}, not {shown_url()} as PROMPTLOOP_DATABASE_URL says "
        "here: `promptloop serve stop`, then run this again (serve starts with this "
        "PROMPTLOOP_DATABASE_URL), or run it with serve's PROMPTLOOP_DATABASE_URL"
    )


def ensure_serving(say: Callable[[str], None]) -> dict[str, Any]:
    """The running serve's record; starts ``serve --detach`` first if nothing serves.

    Raises ``NotServingError`` (exit 5) when this home's serve serves another ledger."""
    from integrations.prefect_server import ensure_server, ui_url

    running = status()
    if running is None and get_settings().pipeline_deployment:
        api_url = ensure_server()  # workers run the pipelines; this home needs no serve
        return {"pid": None, "ready": True, "api_url": api_url, "ui_url": ui_url(api_url)}
    if running is None:
        say(f"starting `promptloop serve` in the background (log: {log_path()}) ...")
        # PREFECT_API_URL down: that outage, said here (exit 4); ours started here if need be
        ensure_server(progress=lambda doing: say(f"before serve starts, {doing}…"))
        running = detach(say=say)
    elif not running["ready"]:
        running = _wait_ready(None, say=say)
    refuse_other_ledger(running)
    theirs = running.get("model_endpoint")
    if theirs and theirs != model_endpoint():
        say(
            f"note: promptloop serve (pid {running.get('pid')}) runs pipelines with its own "
            f"environment: model calls go to {theirs}, not to {model_endpoint()} as here; "
            "`promptloop serve stop` and run this again to use yours"
        )
    use(running)
    return running


def detach(
    extra: list[str] | None = None, *, say: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Start ``promptloop serve`` as a detached process; return its record once ready
    (or the record of the serve another command started at the same moment)."""
    command = [sys.executable, "-m", "promptloop", "serve", *(extra or [])]
    with open(log_path(), "ab") as log:
        start = log.tell()  # the log is appended to: this start's lines come after
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=os.getcwd(),
        )
    return _wait_ready(process, log_from=start, say=say)


def _wait_ready(
    process: subprocess.Popen[bytes] | None,
    log_from: int = 0,
    *,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Wait while the starting serve lives and makes progress, saying so every
    ``SAY_EVERY_S``; its record once ready."""
    from integrations.progress import Progress

    def starting_pid() -> int | None:
        if process is not None and process.poll() is None:
            return process.pid
        pid = _starting().get("pid")
        return pid if isinstance(pid, int) else None

    prefect_log = home() / "prefect" / "server.log"
    watch = Progress(starting_pid, [log_path(), prefect_log])
    said = 0.0
    while True:
        if process is not None and process.poll() is not None:
            if process.returncode != 0 and _lock_held():
                process = None  # another start won the lock meanwhile: wait for that one
                if say is not None:
                    say("another command is starting `promptloop serve`: waiting for it")
                continue
            said_there = _error_line(log_path(), log_from)
            if process.returncode == InputError.exit_code and said_there:
                raise InputError(said_there)  # bad input (a setting): as serve said it, exit 2
            raise ServeError(
                f"promptloop serve exited with code {process.returncode} while starting: "
                f"{said_there or _tail(log_path())}; its log: {log_path()}"
            )
        running = status()
        if running is not None and running["ready"]:
            return running
        if running is None and process is None:
            raise ServeError(
                f"promptloop serve stopped while starting: {_tail(log_path())}; "
                f"its log: {log_path()}"
            )
        if watch.stalled():
            pid = starting_pid()
            raise ServeError(
                f"promptloop serve (pid {pid}) did not become ready: {watch.why()}; "
                f"its log: {log_path()}"
            )
        if say is not None and watch.elapsed() - said >= SAY_EVERY_S:
            said = watch.elapsed()
            phase = _starting().get("phase") or "starting"
            say(f"waiting for serve to start ({phase}, {said:.0f} s)…")
        time.sleep(0.3)


def _error_line(path: Path, offset: int) -> str | None:
    """The last ``error: ...`` line serve wrote after ``offset``, without its prefix."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return None
    errors = [line[len("error: ") :] for line in text.splitlines() if line.startswith("error: ")]
    return errors[-1].strip() if errors else None


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "no output"


def stop() -> bool:
    """Stop this home's serve: SIGTERM, then SIGKILL its group after ``STOP_TIMEOUT_S``."""
    running = status()
    if running is None or not running.get("pid"):
        return False
    pid = int(running["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _lock_held():
        time.sleep(0.2)
    if _lock_held():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    return True
