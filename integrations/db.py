"""The ledger's database: one engine per URL, sessions, and the schema kept at head.

The schema is created or upgraded on first use (Alembic, under a lock on PostgreSQL);
a process that finds the schema current pays one small query, not an Alembic import.

Every write is one transaction, on SQLite as on PostgreSQL. pysqlite's own transaction
handling is off (it began one only before INSERT/UPDATE/DELETE, so a first SAVEPOINT was the
outermost transaction and its RELEASE committed); this module emits ``BEGIN IMMEDIATE``
itself before a session's first write (SQLAlchemy's pysqlite recipe, with the BEGIN moved
from the "begin" event to the first write). Taking the write lock at the start of the write
transaction, waiting up to the busy timeout for it, means a transaction that read and then
writes never meets SQLITE_BUSY at once (a deferred one does, in WAL mode, without waiting);
reads before the first write run as PostgreSQL's READ COMMITTED runs them, each seeing what
is committed, and a session that only reads never takes the lock nor blocks a writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError
from sqlmodel import Session

from integrations.migrations import HEAD
from integrations.settings import get_settings
from roles.errors import InputError, OutageError

# How long a writer waits for another's transaction to end before it gives up.
BUSY_TIMEOUT_S = 20
# Statements that leave the database as it was (anything else begins the write transaction).
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "VALUES")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # No BEGIN from pysqlite: the statements below run outside any transaction (journal_mode
    # cannot change inside one), and _begin_before_first_write emits the only BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_before_first_write(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
    """BEGIN IMMEDIATE before the first statement of a SQLAlchemy transaction that writes
    (a SAVEPOINT included); the commit or rollback SQLAlchemy sends then ends it."""
    if cursor.connection.in_transaction or not conn.in_transaction():
        return
    if statement.lstrip()[:7].upper().startswith(_READS):
        return
    cursor.execute("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` (already normalised), with SQLite made safe for several writers."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"PROMPTLOOP_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _create_private(Path(parsed.database).expanduser())
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "before_cursor_execute", _begin_before_first_write)
        return engine
    try:
        if parsed.get_backend_name() == "postgresql":
            return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # an unknown dialect or a missing driver
        raise InputError(f"PROMPTLOOP_DATABASE_URL cannot be used: {exc}") from None


def _create_private(path: Path) -> None:
    """A new SQLite file is created owner-only (0600) whatever the umask; SQLite gives its
    -wal and -shm files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


_ENGINES: dict[str, Engine] = {}


def get_engine() -> Engine:
    """The ledger engine for the current settings, schema at head."""
    url = get_settings().resolved_database_url
    engine = _ENGINES.get(url)
    if engine is None:
        engine = make_engine(url)
        ensure_schema(engine)
        _ENGINES[url] = engine
    return engine


def reset_engines() -> None:
    """Forget cached engines (tests, or after changing PROMPTLOOP_DATABASE_URL)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError) as exc:
        if _is_missing_table(exc):
            return None
        # The database did not answer: an outage (exit 4), not something the user typed.
        raise OutageError(f"cannot reach the ledger database: {_first_line(exc)}") from None
    return row[0] if row else None


def ensure_schema(engine: Engine) -> None:
    """Create or upgrade the schema to head, unless it is there already.

    Two processes meeting a new ledger at once: on PostgreSQL an advisory lock inside
    the migration serialises them; on SQLite a lock file beside the database does.
    """
    if current_revision(engine) == HEAD:
        return
    from integrations.migrations.runner import upgrade

    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        upgrade(engine)
        return
    import fcntl

    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current_revision(engine) != HEAD:
            upgrade(engine)


def _is_missing_table(exc: Exception) -> bool:
    """A reachable database without our schema yet (as opposed to no database at all)."""
    message = str(exc).lower()
    return "no such table" in message or ("relation" in message and "does not exist" in message)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def shown_url(url: str | None = None) -> str:
    """A database URL (default: this ledger's) as it may be shown: without its password."""
    return make_url(url or get_settings().resolved_database_url).render_as_string(
        hide_password=True
    )


def ledger_tag() -> str:
    """A short name for this ledger (a hash of its URL, no password), so that two ledgers
    sharing one Prefect server give their flow runs and artifacts distinct names."""
    import hashlib

    return hashlib.sha256(shown_url().encode()).hexdigest()[:6]
