"""The warm process behind ``promptloop`` commands (see ``promptloop.cli.launcher``).

It imports what ledger commands need (SQLModel, SQLAlchemy, Typer, Rich, the tables and
the command modules), then waits on an abstract Unix socket. Each connection is one
command: it forks a child that takes over the caller's stdin/stdout/stderr, environment,
working directory, umask, resource limits and arguments and runs the command as the
console script would (a child that cannot take a limit on, a hard limit above the warm
process's own, runs nothing and sends the command back to its caller). Before
forking it checks that no file it imported has changed since it started; if one has, it
tells the caller to run the command itself, and exits (the caller starts a fresh one).

It holds no database connection, settings or thread of its own, so a child starts as a
fresh process would, minus the imports. It exits after ``PROMPTLOOP_WARM_CLI_IDLE_S``
seconds (default 900) without a command, and refuses connections from other users.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from typing import NamedTuple

from promptloop.cli import launcher

ROOTS = tuple(str(launcher.PACKAGE_DIR.parent / name) for name in ("promptloop", "roles",
              "integrations", "flows"))  # fmt: skip
# Loaded by the commands that reach the warm process: importing them here is the point.
PRELOAD = ("team", "prompt", "dataset", "change", "eval", "suite", "review", "outbox")
# Never in the warm process: they start threads, and a fork copies no threads.
NOT_HERE = ("prefect", "openai", "slack_sdk", "slack_bolt", "httpx", "sklearn", "scipy")


def main() -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(launcher.address())
    except OSError:
        return  # another command started one first
    _after_parent()
    _preload()
    if threading.active_count() > 1 or any(name in sys.modules for name in NOT_HERE):
        return  # forking would copy a process with threads: commands run on their own
    listener.listen(64)
    listener.settimeout(float(os.environ.get("PROMPTLOOP_WARM_CLI_IDLE_S", "900")))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    imported = _fingerprint()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            return
        with conn:
            conn.settimeout(5)
            try:
                fds, request = _receive(conn)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if _fingerprint() != imported:
                conn.sendall(launcher.REPLY.pack(b"S", 0))
                return
            if os.fork() == 0:
                listener.close()
                _child(conn, fds, request)
            for fd in fds:
                os.close(fd)


def _after_parent(*, limit_s: float = 30.0) -> None:
    """Import nothing until the command that started this one has finished: on 2 cores the
    imports would otherwise slow that very command down."""
    parent, deadline = os.getppid(), time.monotonic() + limit_s
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.05)


def _preload() -> None:
    from promptloop.cli import app

    for noun in PRELOAD:
        app.register([noun])
    app.command()
    import sqlite3  # noqa: F401 - the drivers and dialects a ledger command opens

    import psycopg  # noqa: F401
    import rich.cells
    import sqlalchemy.dialects.postgresql.psycopg
    import sqlalchemy.dialects.sqlite.pysqlite
    import sqlalchemy.orm
    import typer._click.decorators  # noqa: F401 - what a command's first run loads

    from roles.ledger import load_all

    load_all()
    sqlalchemy.orm.configure_mappers()  # the tables' first query otherwise does this
    rich.cells.cell_len("promptloop")  # loads the Unicode width table


def _fingerprint() -> tuple[tuple[str, int], ...]:
    """What the commands would import, as it is on disk now: our modules' files and the
    folders that hold them (a new module), and every folder on the import path (an install,
    a module that would now shadow one)."""
    paths = {m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
    ours = {p for p in paths if p is not None and p.startswith(ROOTS)}
    watched = ours | {os.path.dirname(p) for p in ours} | {p for p in sys.path if p}
    stamps = []
    for path in sorted(watched):
        try:
            stamps.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            stamps.append((path, -1))
    return tuple(stamps)


class Request(NamedTuple):
    argv: list[str]
    argv0: str
    env: dict[str, str]
    cwd: str
    encoding: list[str]
    umask: int
    limits: dict[str, tuple[int, int]]

    @classmethod
    def parse(cls, body: bytes) -> Request:
        data = json.loads(body)
        request = cls(
            argv=[str(a) for a in data["argv"]],
            argv0=str(data["argv0"]),
            env={str(k): str(v) for k, v in data["env"].items()},
            cwd=str(data["cwd"]),
            encoding=[str(e) for e in data["encoding"]],
            umask=int(data["umask"]) & 0o777,
            limits={
                str(name): (int(soft), int(hard)) for name, (soft, hard) in data["limits"].items()
            },
        )
        if len(request.encoding) != 3:
            raise ValueError("three streams expected")
        return request


def _receive(conn: socket.socket) -> tuple[list[int], Request]:
    if launcher.peer_uid(conn) != os.getuid():
        raise ValueError("another user")
    data, fds, _flags, _addr = socket.recv_fds(conn, launcher.HEADER.size, 3)
    if len(fds) != 3 or len(data) != launcher.HEADER.size:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a promptloop command")
    (size,) = launcher.HEADER.unpack(data)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("the command went away")
        body += chunk
    return fds, Request.parse(body)


def _child(conn: socket.socket, fds: list[int], request: Request) -> None:
    """Become the command's process, run it, report its exit code; never return."""
    code = 3
    if not _become_caller(request):
        with contextlib.suppress(OSError):
            conn.sendall(launcher.REPLY.pack(b"H", 0))
        os._exit(0)
    try:
        conn.settimeout(None)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request.env)
        os.chdir(request.cwd)
        time.tzset()  # TZ is the caller's now
        sys.argv = [request.argv0, *request.argv]
        _streams(request.encoding)
        random.seed()  # not the warm process's sequence, shared by every child
        conn.sendall(launcher.REPLY.pack(b"P", os.getpid()))
        threading.Thread(target=_end_with_caller, args=(conn,), daemon=True).start()
        from promptloop.cli.app import flushed, run_cli
        from promptloop.cli.output import reset_consoles

        reset_consoles()
        code = flushed(run_cli(request.argv))
        if "prefect" in sys.modules:
            atexit._run_exitfuncs()  # Prefect ships logs and events at exit: let it finish
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            with contextlib.suppress(OSError):  # a reader gone: its exit code still goes back
                sys.stdout.flush()
                sys.stderr.flush()
            conn.sendall(launcher.REPLY.pack(b"X", code))
        finally:
            os._exit(code)


def _end_with_caller(conn: socket.socket) -> None:
    """End this command when its caller is gone (killed with SIGKILL, which it cannot pass
    on): the caller sends nothing more, so the connection reads empty only then. As the
    command would have died with its own process, it dies here; its transaction, not
    committed, leaves nothing."""
    with contextlib.suppress(OSError):
        if conn.recv(1) == b"":
            os.kill(os.getpid(), signal.SIGKILL)


def _become_caller(request: Request) -> bool:
    """Take on the caller's umask and resource limits; False if a limit cannot be had
    (nothing else of the command's has happened in this process then)."""
    import resource

    os.umask(request.umask)
    for name, wanted in request.limits.items():
        which = getattr(resource, name, None)
        if not isinstance(which, int):
            return False
        try:
            if resource.getrlimit(which) != wanted:
                resource.setrlimit(which, wanted)
        except (ValueError, OSError):
            return False  # a hard limit above this process's: only the caller has it
    return True


def _streams(encodings: list[str]) -> None:
    """Text streams over the caller's descriptors, buffered as Python buffers a terminal."""
    stdin, stdout, stderr = (
        open(  # noqa: SIM115 - they are the process's streams until it exits
            fd,
            "r" if fd == 0 else "w",
            buffering=1 if fd == 2 or os.isatty(fd) else -1,
            encoding=encodings[fd],
            errors="backslashreplace" if fd == 2 else "strict",
            closefd=False,
        )
        for fd in range(3)
    )
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr


if __name__ == "__main__":
    main()
