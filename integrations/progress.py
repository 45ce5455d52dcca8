"""Whether a process that is starting still makes progress (for waits without a fixed limit).

A start on a loaded 2-core machine can take minutes (a Prefect server migrating its
database, imports competing for the CPU), so a fixed timeout either gives up on a start
that was about to finish or waits long for one that hung. ``Progress`` instead watches
what a live start changes: the CPU time of the process and its descendants, and the size
of the files it writes (its logs). A start is given up only when it died, or when none of
these moved for ``stall_s`` seconds (or past a generous hard limit).

    progress = Progress(lambda: pid, [log_file])
    while not ready():
        if progress.stalled():
            raise ...
        time.sleep(0.3)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

STALL_S = 60.0  # nothing moved for this long: the start hung
LIMIT_S = 900.0  # and however busy it keeps itself, a start ends by then


def cpu_ticks(pid: int) -> int:
    """CPU clock ticks used so far by ``pid`` and every live descendant (from /proc)."""
    stats: dict[int, tuple[int, int]] = {}  # pid -> (ppid, ticks)
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    total, frontier = 0, [pid]
    while frontier:
        current = frontier.pop()
        if current in stats:
            total += stats[current][1]
        frontier.extend(p for p, (ppid, _) in stats.items() if ppid == current)
    return total


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class Progress:
    """What a start has done so far; ``stalled()`` once nothing moved for ``stall_s``."""

    def __init__(
        self,
        pid: Callable[[], int | None],
        files: Iterable[Path],
        *,
        stall_s: float = STALL_S,
        limit_s: float = LIMIT_S,
    ) -> None:
        self._pid, self._files = pid, list(files)
        self.stall_s, self.limit_s = stall_s, limit_s
        self.started = self._moved = time.monotonic()
        self._sample: tuple[int, ...] | None = None
        self._sampled = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def stalled(self) -> bool:
        now = time.monotonic()
        if now - self._sampled >= 1.0:  # a /proc walk per second, not per poll
            self._sampled = now
            pid = self._pid()
            sizes = []
            for path in self._files:
                try:
                    sizes.append(path.stat().st_size)
                except OSError:
                    sizes.append(-1)
            sample = (cpu_ticks(pid) if pid else -1, *sizes)
            if sample != self._sample:
                self._sample, self._moved = sample, now
        return now - self._moved > self.stall_s or now - self.started > self.limit_s

    def why(self) -> str:
        """Why ``stalled()`` said so, for an error message."""
        if time.monotonic() - self.started > self.limit_s:
            return f"it was still starting after {self.limit_s:.0f} s"
        return f"it made no progress (no CPU time, no log line) for {self.stall_s:.0f} s"
