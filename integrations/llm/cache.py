"""Model answers already paid for, in ``PROMPTLOOP_HOME/cache.sqlite``.

Keyed by a string the caller computes: ``LLMClient.cache_key`` hashes the endpoint's base
URL with ``ChatRequest.cache_key()`` (model, messages, parameters, seed), so the same model
name at two endpoints is two models. Only successful results are stored; ``LLMClient``
writes them in small batches (``put_many``: one transaction per batch, within half a
second of arriving, and when it closes), so a run that crashed half-way resumes from what
it already has. WAL mode lets several processes read while one writes; a lookup by primary
key costs tens of microseconds, so it runs on the event loop directly (a thread hop would
cost more than the read).

Each entry names where it came from: ``scope`` (the model at its endpoint, as
``LLMClient.scope`` says it), ``snapshot`` (the model the API said answered, e.g.
``gpt-4o-2024-08-06``) and ``created_at`` (when it was stored, UTC). A regression sweep
writes nothing here (a drifted answer must not be served to anyone later), and when one
finds a drift it calls ``invalidate``: every entry of that model at that endpoint stored
since the last good sweep is removed, whatever snapshot it names (the key is the model's
name, and the name is what drifted). A cache file from before these columns is widened
in place; its old entries name no scope, and any drift removes them.

    >>> cache = RequestCache(Path("/tmp/cache.sqlite"))  # doctest: +SKIP
    >>> cache.put(key, result); cache.get(key).cached  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from roles.calls import ChatResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    response TEXT NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    created_at TEXT NOT NULL,
    scope TEXT,
    snapshot TEXT
)
"""
# Columns added since the first cache files: added in place to an older file.
_ADDED = {"scope": "TEXT", "snapshot": "TEXT"}


@dataclass(frozen=True)
class CacheEntry:
    """Where a stored answer came from (``RequestCache.entries``)."""

    key: str
    model: str
    scope: str | None
    snapshot: str | None
    created_at: str  # ISO 8601, UTC


def _stamp(moment: datetime) -> str:
    # One fixed format (microseconds always written), so stored times compare as strings.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class RequestCache:
    """A SQLite table of successful results; safe across threads and processes."""

    @classmethod
    def of_home(cls, home: Path) -> RequestCache:
        """The cache of a ``PROMPTLOOP_HOME``."""
        return cls(home / "cache.sqlite")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork; a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a committed entry survives a crash of this process;
            # only a power loss may lose the last few, and those are re-bought, not corrupted.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
            have = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
            for column, kind in _ADDED.items():
                if column not in have:
                    try:
                        conn.execute(f"ALTER TABLE responses ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:
                        if "duplicate column" not in str(exc):
                            raise  # else another process added it meanwhile
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get(self, key: str) -> ChatResult | None:
        """The result stored under ``key``, marked ``cached=True``, or None."""
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT response FROM responses WHERE key = ?", (key,))
                .fetchone()
            )
        if row is None:
            return None
        return ChatResult.model_validate_json(row[0]).model_copy(update={"cached": True})

    def put(self, key: str, result: ChatResult, scope: str | None = None) -> None:
        """Store a successful result under ``key`` (failures are never cached)."""
        self.put_many([(key, result, scope)])

    def put_many(self, entries: Iterable[tuple[str, ChatResult, str | None]]) -> None:
        """Store the successful results among ``entries`` (key, result, scope) in one
        transaction."""
        now = _stamp(datetime.now(UTC))
        rows = [
            (
                key,
                result.model,
                result.model_copy(update={"cached": False}).model_dump_json(),
                result.input_tokens,
                result.output_tokens,
                result.cost_usd,
                now,
                scope,
                result.snapshot,
            )
            for key, result, scope in entries
            if result.ok
        ]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            with conn:  # one transaction (the connection autocommits otherwise)
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT OR REPLACE INTO responses (key, model, response, input_tokens, "
                    "output_tokens, cost_usd, created_at, scope, snapshot) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def invalidate(self, *, scope: str, since: datetime | None) -> int:
        """Remove what the model at ``scope`` answered since ``since`` (None: ever), and
        every entry that names no scope; how many were removed."""
        query = "DELETE FROM responses WHERE scope IS NULL OR (scope = ?"
        params: tuple[str, ...] = (scope,)
        if since is not None:
            query += " AND created_at >= ?"
            params += (_stamp(since),)
        query += ")"
        with self._lock:
            return self._connection().execute(query, params).rowcount

    def entries(self) -> list[CacheEntry]:
        """Every entry's origin, oldest first (answers themselves are read with ``get``)."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT key, model, scope, snapshot, created_at FROM responses "
                "ORDER BY created_at, key"
            )
            return [CacheEntry(*row) for row in rows]

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
