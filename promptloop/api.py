"""``get_prompt``: read a prompt version from the ledger and render it for a model call."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from integrations.db import session_scope
from roles.errors import OutageError
from roles.published import PromptVersionView, read_version

_CACHE: dict[tuple[str, str | None, int | None], tuple[float, PromptVersionView]] = {}
log = logging.getLogger("promptloop")


def get_prompt(
    name: str,
    label: str | None = "production",
    *,
    version: int | None = None,
    max_age_s: float | None = None,
) -> PromptVersionView:
    """The version of ``name`` that ``label`` points at (or ``version``, when given).

    Read from the ledger at most every ``max_age_s`` seconds per (name, label, version)
    (default ``PROMPTLOOP_PROMPT_CACHE_TTL_S``, 60; 0 reads every time): an agent calls
    this on every request. When the ledger cannot be reached, the last copy read is served
    with a warning (a deploy is then seen late, never a prompt missing); with no copy yet,
    the error is raised.
    """
    import time

    from integrations.settings import get_settings

    key = (name, label if version is None else None, version)
    ttl = get_settings().prompt_cache_ttl_s if max_age_s is None else max_age_s
    cached = _CACHE.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    try:
        view = _read(name, label, version)
    except (OperationalError, OutageError) as exc:
        if cached is None:
            raise
        log.warning(
            "the ledger is unreachable (%s); serving %s v%s read %.0f s ago",
            str(exc).strip().splitlines()[0],
            name,
            cached[1].version,
            now - cached[0],
        )
        return cached[1]
    _CACHE[key] = (now, view)
    return view


def _read(name: str, label: str | None, version: int | None) -> PromptVersionView:
    with session_scope() as session:
        return read_version(session, name=name, label=label, version=version)
__all__ = ["PromptVersionView", "get_prompt"]
