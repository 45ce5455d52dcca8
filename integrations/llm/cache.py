"""Model answers already paid for, in ``PROMPTLOOP_HOME/cache.sqlite``.

Keyed by a string the caller computes: ``LLMClient.cache_key`` hashes the endpoint's base
URL with ``ChatRequest.cache_key()`` (model, messages, parameters, seed), so the same model
name at two endpoints is two models. Only successful results are stored; ``LLMClient``
writes them in small batches (``put_many``: one transaction per batch, within half a
second of arriving, and when it closes), so a run that crashed half-way resumes from what
it already has. WAL mode lets several processes read while one writes; a lookup by primary
key costs tens of microseconds, so it runs on the event loop directly (a thread hop would
cost more than the read).

    >>> cache = RequestCache(Path("/tmp/cache.sqlite"))  # doctest: +SKIP
    >>> cache.put(key, result); cache.get(key).cached  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
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
    created_at TEXT NOT NULL
)
"""


class RequestCache:
    """A SQLite table of successful results; safe across threads and processes."""

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

    def put(self, key: str, result: ChatResult) -> None:
        """Store a successful result under ``key`` (failures are never cached)."""
        self.put_many([(key, result)])

    def put_many(self, entries: Iterable[tuple[str, ChatResult]]) -> None:
        """Store the successful results among ``entries`` in one transaction."""
        now = datetime.now(UTC).isoformat()
        rows = [
            (
                key,
                result.model,
                result.model_copy(update={"cached": False}).model_dump_json(),
                result.input_tokens,
                result.output_tokens,
                result.cost_usd,
                now,
            )
            for key, result in entries
            if result.ok
        ]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            with conn:  # one transaction (the connection autocommits otherwise)
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
