"""Whether the process that claimed a piece of work is still alive.

A run or an evaluation records the pid and host of the process doing it; when that
process is gone (killed, crashed) the work is *abandoned*, whatever the ledger or
Prefect last heard. Only a process on this host can be checked; elsewhere the answer is
"not known to be gone".

    >>> import os, socket
    >>> gone(os.getpid(), socket.gethostname())
    False
"""

from __future__ import annotations

import os
import socket


def this_process() -> tuple[int, str]:
    return os.getpid(), socket.gethostname()


def gone(pid: int | None, host: str | None) -> bool:
    """True when ``pid`` ran on this host and no longer exists."""
    if not pid or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
