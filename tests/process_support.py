"""The processes a test run started, found from /proc: its descendants, and those that
were reparented (to init) but carry a PROMPTLOOP_HOME of this run in their environment."""

from __future__ import annotations

import os
from pathlib import Path


def processes() -> dict[int, tuple[int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, state)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):
            found[int(entry.name)] = (int(ppid), state)
    return found


def descendants(root: int, table: dict[int, tuple[int, str]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def homed_under(base: str, pid: int) -> bool:
    """Whether the process's environment has a PROMPTLOOP_HOME of this test run's."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    prefix = b"PROMPTLOOP_HOME=" + base.encode()
    return any(item.startswith(prefix) for item in environ)


def left_behind(base: str, before: set[int]) -> dict[int, str]:
    """Processes this test process started (its descendants, or, reparented to init, any
    with a home of this run) still alive, with their command lines."""
    table = processes()
    ours = descendants(os.getpid(), table) | {p for p in table if homed_under(base, p)}
    return _named(ours - before - {os.getpid()})


# Helpers of the test process itself, which end with it (multiprocessing's, e.g. joblib's).
_OWN_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _named(pids: set[int]) -> dict[int, str]:
    left = {}
    for pid in sorted(pids):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        text = command.decode(errors="replace").strip()
        if not any(helper in text for helper in _OWN_HELPERS):
            left[pid] = text[:200]
    return left


def homed_at(home: str) -> dict[int, str]:
    """Live processes whose PROMPTLOOP_HOME is ``home`` (one test's), with command lines."""
    wanted = b"PROMPTLOOP_HOME=" + home.encode()
    found = set()
    for pid in processes():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ:
            found.add(pid)
    return _named(found - {os.getpid()})
