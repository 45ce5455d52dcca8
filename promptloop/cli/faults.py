"""Errors from outside promptloop's own code, said as the exit code they are (README):
4 when a service or the disk did not do its part (the Prefect server, the ledger database,
a full or read-only disk), 2 when the input was out of range; anything else stays a bug.

    translated = translate(exc, argv)   # a PromptloopError to report, or None (a bug: 3)

Only modules already imported are looked at: a command that never loaded httpx or
SQLAlchemy does not load them to be told its error is not theirs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import Any

from roles.errors import InputError, OutageError, PromptloopError

BIGGEST_ID = 2**63 - 1  # an INTEGER on SQLite
BIGGEST_PG_INTEGER = 2**31 - 1  # an INTEGER on PostgreSQL (the ledger's ids)
_DISK = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up"}
_DISK[errno.EROFS] = "the file system is read-only"
_DISK[errno.EFBIG] = "the file is larger than this process may write (ulimit -f)"


def translate(exc: BaseException, argv: list[str]) -> PromptloopError | None:
    """The one-sentence error ``exc`` is, with its exit code, or None if it is a bug."""
    for reader in (_prefect_or_http, _ledger, _disk, _out_of_range):
        found = reader(exc, argv)
        if found is not None:
            return found
    return None


def _prefect_or_http(exc: BaseException, _argv: list[str]) -> PromptloopError | None:
    httpx = sys.modules.get("httpx")
    if httpx is None or not isinstance(exc, httpx.TransportError):
        return None
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode()}"
    except RuntimeError:  # an error raised without its request
        where = "a service"
    reason = _reason(exc)
    api = next((url for url in _prefect_urls() if url.startswith(where)), None)
    if api is not None:
        return OutageError(
            f"the Prefect server at {api} did not answer ({reason}), so nothing was started: "
            "start it (`promptloop server start`, or `promptloop serve stop` then "
            "`promptloop serve`) and run the command again"
        )
    return OutageError(
        f"{where} did not answer ({reason}): nothing was concluded; run the command again "
        "once it answers"
    )


def _prefect_urls() -> list[str]:
    """The API URL Prefect's client used (its settings, read when it was imported), and
    the one in the environment now."""
    urls = [os.environ.get("PREFECT_API_URL") or ""]
    settings = sys.modules.get("prefect.settings")
    if settings is not None:
        with contextlib.suppress(Exception):  # an older Prefect: the environment's is enough
            urls.insert(0, str(settings.get_current_settings().api.url or ""))
    return [url for url in urls if url]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]  # "[Errno 111] Connection refused"
    return text


# What SQLite says (sqlite3.OperationalError) when the database is fine but cannot be used.
_SQLITE = {
    "readonly database": "it is read-only; make its file and directory writable",
    "database or disk is full": "its disk is full; free some space",
    "disk i/o error": "its disk failed a write (full, or failing); free some space",
    "unable to open database file": "its file cannot be opened; check the path and permissions",
    "database is locked": "another process held it locked for 10 s; wait for it",
}


def _ledger(exc: BaseException, _argv: list[str]) -> PromptloopError | None:
    sa = sys.modules.get("sqlalchemy.exc")
    if sa is None or not isinstance(exc, sa.DBAPIError):
        return None
    orig: Any = exc.orig
    said = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None) or ""
    what: str | None = None
    if type(orig).__module__.startswith("sqlite3"):
        what = next((w for key, w in _SQLITE.items() if key in said.lower()), None)
    elif sqlstate == "25006":  # read_only_sql_transaction: a standby, or read-only by setting
        what = (
            "it is read-only (a standby, or default_transaction_read_only); point "
            "PROMPTLOOP_DATABASE_URL at a writable primary"
        )
    elif sqlstate.startswith(("08", "53", "57P")):  # connection, resources (disk full), shutdown
        what = "it did not answer, or ran out of disk, memory or connections; check its server"
    if what is None:
        return None
    from integrations.db import shown_url

    return OutageError(
        f"the ledger at {shown_url()} could not be used ({said}): {what}, then run the "
        "command again (what this command was writing was rolled back)"
    )


def _disk(exc: BaseException, _argv: list[str]) -> PromptloopError | None:
    if not isinstance(exc, OSError) or exc.errno not in _DISK:
        return None
    where = f"{exc.filename} " if exc.filename else "what the command printed or saved "
    return OutageError(
        f"{where}could not be written: {_DISK[exc.errno]}; free some space (or make it "
        "writable) and run the command again"
    )


def _out_of_range(exc: BaseException, argv: list[str]) -> PromptloopError | None:
    """An id or number no ledger column holds: invalid input, named. SQLite cannot bind
    one past 64 bits (OverflowError); PostgreSQL refuses one past its INTEGER (22003)."""
    if isinstance(exc, OverflowError):
        limit = BIGGEST_ID
    elif getattr(getattr(exc, "orig", None), "sqlstate", None) == "22003":
        limit = BIGGEST_PG_INTEGER  # numeric_value_out_of_range
    else:
        return None
    try:
        named = _big_numbers(argv, limit)
    except Exception:  # reading the command line again is a courtesy, never a second error
        return None
    if not named:
        return None
    what, value = named[0]
    return InputError(f"{what} {value} is out of range (at most {limit})")


def _big_numbers(argv: list[str], limit: int) -> list[tuple[str, int]]:
    """The command's parameters given an integer beyond ``limit``, as (name, value):
    its arguments by their metavar (``id``), its options by their flag (``--limit``)."""
    import typer._click as click

    from promptloop.cli.app import command

    cmd: Any = command()
    rest, name = list(argv), "promptloop"
    while hasattr(cmd, "get_command"):  # a group: find its subcommand among the words
        words = [word for word in rest if not word.startswith("-")]
        if not words:
            return []
        name = words[0]
        sub = cmd.get_command(click.Context(cmd, info_name="promptloop"), name)
        if sub is None:
            return []
        rest = rest[rest.index(name) + 1 :]
        cmd = sub
    ctx = cmd.make_context(name, rest, resilient_parsing=True)
    found = []
    for param in cmd.params:
        value = ctx.params.get(param.name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for each in values:
            if isinstance(each, int) and not isinstance(each, bool) and abs(each) > limit:
                label = param.opts[0] if param.param_type_name == "option" else param.metavar
                found.append((str(label or param.name).lower(), each))
    return found
