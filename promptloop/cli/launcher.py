"""The ``promptloop`` console script: hand the command to a warm process, or run it here.

Importing SQLModel, SQLAlchemy, Typer and Rich costs a ledger command about 0.4 s on a
2-core machine, before it reads a row. So the first command starts, in the background, a
*warm* process (``promptloop.cli.warm``) that has imported them once; every later command
connects to it over a Unix socket, hands over its arguments, environment, working
directory, umask, resource limits (every ``RLIMIT_*``) and its own stdin/stdout/stderr,
and the warm process forks a child that takes all of them on, then runs the command
exactly as this process would have, printing to this process's terminal. A child that
cannot take them on (a hard limit above the warm process's own) runs nothing: the
command runs here.
This module imports only the standard library, so the hand-over costs milliseconds.

Any doubt means running here, as if there were no warm process: it is off
(``PROMPTLOOP_WARM_CLI=0``), not running yet, built from other code (a file changed since
it started, another interpreter or checkout), or the command is long-lived (``serve``,
``server``, ``gateway``, ``demo``). Ctrl-C and ``kill`` reach the child; its exit code is
this process's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path

# Commands that stay in their own process: they run for minutes or days, own signals, or
# start servers whose lifetime should follow this process, not the warm one.
OWN_PROCESS = frozenset({"serve", "server", "gateway", "demo"})
PACKAGE_DIR = Path(__file__).resolve().parents[1]
HEADER = struct.Struct("!I")  # the length of the JSON request that follows
REPLY = struct.Struct("!ci")  # b"P" + child pid, b"X" + exit code, b"S" + 0 (stale),
# b"H" + 0: the child could not become this process (its limits): run the command here


def enabled(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    value = (environ or os.environ).get("PROMPTLOOP_WARM_CLI", "1").strip().lower()
    if value in {"0", "false", "no", "off"} or sys.platform != "linux":
        return False
    # `python -X importtime -m promptloop …` and the like measure this process: run here.
    return not (sys._xoptions or sys.flags.dev_mode)


def address() -> str:
    """One warm process per user, interpreter and checkout (an abstract Unix socket)."""
    path = os.environ.get("PYTHONPATH", "")
    key = f"{os.getuid()}\0{sys.executable}\0{PACKAGE_DIR}\0{path}"
    return "\0promptloop-cli-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def main() -> None:
    argv = sys.argv[1:]
    if enabled() and _noun(argv) not in OWN_PROCESS:
        code = _run_warm(argv)
        if isinstance(code, int):
            os._exit(code)
        if code is None:
            _start_warm()  # none runs, or it was stale and exits: a fresh one for next time
    from promptloop.cli.app import main as run_here

    run_here()


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _noun(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def umask() -> int:
    """This process's umask, read without changing it (Linux ≥ 4.7), else set back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o077)
    os.umask(current)
    return current


def limits() -> dict[str, list[int]]:
    """Every resource limit of this process: ``{"RLIMIT_NOFILE": [soft, hard], …}``."""
    import resource

    found = {}
    for name in dir(resource):
        if name.startswith("RLIMIT_"):
            with contextlib.suppress(OSError, ValueError):
                found[name] = list(resource.getrlimit(getattr(resource, name)))
    return found


def _run_warm(argv: list[str]) -> int | str | None:
    """The command's exit code from the warm process; None to run it here (and start a
    warm process), ``"here"`` to run it here only (the warm one cannot run it)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(address())
        if peer_uid(conn) != os.getuid():
            raise PermissionError("the address is held by another user")
    except OSError:
        conn.close()
        return None
    request = json.dumps(
        {
            "argv": argv,
            "argv0": sys.argv[0],
            "env": dict(os.environ),
            "cwd": os.getcwd(),
            "umask": umask(),
            "limits": limits(),
            "encoding": [getattr(s, "encoding", None) or "utf-8" for s in _streams()],
        }
    ).encode()
    with conn:
        try:
            socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])
            conn.sendall(request)
            kind, value = _reply(conn)
        except OSError:
            return None  # it went away between connect and hand-over: nothing ran
        if kind == b"H":
            return "here"  # the warm process lives on, for commands it can run
        if kind != b"P":
            return None  # stale: it exits, and the next command starts a fresh one
        child = value
        forwarded = _forward_signals(child)
        try:
            kind, value = _reply(conn)
        except OSError:
            kind = b""
        if kind == b"X":
            return value
        if forwarded:  # it died of the signal passed on, as it would have here
            return 128 + forwarded[-1]
        sys.stderr.write(
            f"internal error: the command's process (pid {child}) ended without an exit code; "
            "run it again with PROMPTLOOP_WARM_CLI=0 to see it in this process\n"
        )
        return 3


def _streams() -> tuple[object, ...]:
    return (sys.stdin, sys.stdout, sys.stderr)


def _reply(conn: socket.socket) -> tuple[bytes, int]:
    data = b""
    while len(data) < REPLY.size:
        chunk = conn.recv(REPLY.size - len(data))
        if not chunk:
            raise ConnectionError("the warm process closed the connection")
        data += chunk
    kind, value = REPLY.unpack(data)
    return kind, value


def _forward_signals(child: int) -> list[int]:
    """Ctrl-C in this terminal (or a SIGTERM, SIGHUP, SIGQUIT) reaches this process only:
    pass it on to the command. The signals passed on, in order."""
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    return forwarded


def _start_warm() -> None:
    """Start the warm process in the background for the next command (races are fine:
    of two, one binds the address and the other exits)."""
    import subprocess

    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-P", "-m", "promptloop.cli.warm"],  # -P: no cwd on sys.path
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
