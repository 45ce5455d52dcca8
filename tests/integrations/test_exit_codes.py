"""The README's exit codes where the fault is outside promptloop's code: the Prefect server
down, a read-only or full ledger (4, an outage); a dataset line nested 100,000 deep, an id
beyond any ledger's integers (2, invalid input). Each is one sentence on stderr, never
``internal error`` (3) and never a traceback; the real CLI, in process or as a process."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import SAMPLES, CliResult

from integrations.settings import get_settings
from roles.datasets import MAX_NESTING

Cli = Callable[..., CliResult]
SQLITE = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)
BIG = str(10**30)


def one_sentence(stderr: str) -> str:
    """The error line; fails on a traceback, an internal error or more than one line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    error = lines[-1]
    assert error.startswith("error: "), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert len(error) < 500, error
    return error


def jsonl(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def nested(depth: int) -> str:
    """An item whose input nests ``depth`` levels in all (the item and its input count)."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return '{"id": "deep", "input": {"q": ' + inner + "}}"


@SQLITE
def test_a_dataset_line_nested_100k_deep_is_invalid_input_naming_file_and_line(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("init", "--sample").code == 0
    plain = '{"id": "a", "input": {"q": "hello"}}'
    deep = '{"id": "b", "input": {"q": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    objects = '{"id": "c", "input": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001
    path = jsonl(tmp_path / "deep.jsonl", plain, deep, objects)
    pushed = cli("dataset", "push", str(path), "--name", "deep", "--as", "maya")
    assert pushed.code == 2, pushed.stderr
    error = one_sentence(pushed.stderr)
    assert str(path) in error and "nothing written" in error
    assert f"line 2: nested deeper than {MAX_NESTING} levels" in error
    assert f"line 3: nested deeper than {MAX_NESTING} levels" in error
    assert "line 1" not in error
    listed = cli("dataset", "list", "--json")
    assert "deep" not in {d["name"] for d in listed.json()}


@SQLITE
def test_a_line_nested_to_the_limit_is_kept_one_past_it_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("init", "--sample").code == 0
    at_limit = jsonl(tmp_path / "at.jsonl", nested(MAX_NESTING))
    assert cli("dataset", "push", str(at_limit), "--name", "at", "--as", "maya").code == 0
    past = jsonl(tmp_path / "past.jsonl", nested(MAX_NESTING + 1))
    refused = cli("dataset", "push", str(past), "--name", "past", "--as", "maya")
    assert refused.code == 2 and "line 1: nested deeper" in one_sentence(refused.stderr)


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (("change", "show", BIG), "id"),
        (("change", "show", "--json", "--", "-" + BIG), "id"),
        (("change", "approve", BIG, "--as", "sam"), "id"),
        (("change", "withdraw", BIG, "--as", "maya"), "id"),
        (("review", "show", BIG), "item"),
        (("change", "show", str(2**31)), "id"),  # past PostgreSQL's INTEGER, not SQLite's
    ],
    ids=["show", "show-negative", "approve", "withdraw", "review-show", "past-int32"],
)
def test_an_id_beyond_the_ledger_is_out_of_range(
    cli: Cli, ledger: str, command: tuple[str, ...], named: str
) -> None:
    assert cli("init", "--sample").code == 0
    result = cli(*command)
    assert result.code == 2, result.stderr
    error = one_sentence(result.stderr)
    value = int(next(word for word in command if word.lstrip("-").isdigit()))
    limit = 2**63 - 1 if ledger.startswith("sqlite") else 2**31 - 1
    if abs(value) > limit:
        assert f"{named} {value} is out of range (at most {limit})" in error
    else:
        assert "not found" in error or "no change" in error, error


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (nothing else can take it) and
    never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@SQLITE
def test_prefect_api_url_down_is_an_outage_naming_it(
    cli: Cli, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_id = str(_submitted(cli))
    api = f"http://127.0.0.1:{closed_port}/api"
    monkeypatch.setenv("PREFECT_API_URL", api)
    monkeypatch.setenv("PROMPTLOOP_AUTO_EVALUATE", "true")
    get_settings.cache_clear()
    result = cli("change", "evaluate", change_id)
    assert result.code == 4, result.stderr
    assert api in one_sentence(result.stderr)


@SQLITE
def test_serves_prefect_server_down_is_an_outage_naming_it_and_what_to_do(
    cli: Cli, home: Path, closed_port: int
) -> None:
    """serve runs (it holds this home's serve lock and wrote its record) but the Prefect
    server it uses is gone: the command meets the dead server on its first API call."""
    change_id = str(_submitted(cli))
    api = f"http://127.0.0.1:{closed_port}/api"
    env = {"PROMPTLOOP_AUTO_EVALUATE": "true", "PREFECT_API_URL": api}
    with serve_record(home, api):
        for command in (("change", "evaluate", change_id), _submit_again(home)):
            result = _cli_process(*command, env=env)
            assert result.returncode == 4, (command, result.stderr)
            error = one_sentence(result.stderr)
            assert f"the Prefect server at {api} did not answer (Connection refused)" in error
            assert "`promptloop server start`" in error and "`promptloop serve`" in error


def _submitted(cli: Cli) -> int:
    assert cli("init", "--sample").code == 0
    change = SAMPLES / "support-triage-change.yaml"
    result = cli("change", "submit", "--file", str(change), "--as", "maya", "--no-eval", "--json")
    assert result.code == 0, result.stderr
    return int(result.json()["id"])


def _submit_again(home: Path) -> tuple[str, ...]:
    """A second change, from the sample's with another system text."""
    text = (SAMPLES / "support-triage-change.yaml").read_text()
    other = home.parent / "other.yaml"
    other.write_text(text.replace("something broken", "something else broken", 1))
    assert other.read_text() != text
    return ("change", "submit", "--file", str(other), "--as", "maya")


class serve_record:
    """This home's serve lock held by another process, and serve's record naming ``api``."""

    def __init__(self, home: Path, api: str) -> None:
        self.home, self.api = home, api

    def __enter__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        hold = (
            "import fcntl, sys, time\n"
            f"f = open({str(self.home / 'serve.lock')!r}, 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.holder = subprocess.Popen(
            [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.holder.stdout is not None and self.holder.stdout.readline() == "held\n"
        record = {
            "pid": self.holder.pid,
            "host": socket.gethostname(),
            "api_url": self.api,
            "ui_url": self.api.removesuffix("/api"),
        }
        (self.home / "serve.json").write_text(json.dumps(record))

    def __exit__(self, *_: object) -> None:
        (self.home / "serve.json").unlink(missing_ok=True)
        assert self.holder.stdin is not None
        self.holder.stdin.close()
        self.holder.wait(10)


def _cli_process(
    *args: str, env: dict[str, str], fsize: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``promptloop ARGS`` as its own process; ``fsize``: no file it writes may grow past
    that many bytes (RLIMIT_FSIZE: a write past it fails as on a full disk)."""

    def limit() -> None:
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails, not the process
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "promptloop", *args],
        env={k: v for k, v in {**os.environ, **env}.items() if k != "PROMPTLOOP_DEBUG"},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )


@SQLITE
def test_a_read_only_ledger_is_an_outage_of_one_sentence(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    assert cli("init", "--sample").code == 0
    path = jsonl(tmp_path / "one.jsonl", '{"id": "a", "input": {"q": "hello"}}')
    read_only = f"sqlite:///file:{home / 'promptloop.db'}?mode=ro&uri=true"
    result = _cli_process(
        "dataset",
        "push",
        str(path),
        "--name",
        "new",
        "--as",
        "maya",
        env={"PROMPTLOOP_DATABASE_URL": read_only},
    )
    assert result.returncode == 4, result.stderr
    error = one_sentence(result.stderr)
    assert "could not be used (attempt to write a readonly database)" in error
    assert "it is read-only" in error
    assert "new" not in {d["name"] for d in cli("dataset", "list", "--json").json()}


@SQLITE
def test_a_full_disk_under_the_ledger_is_an_outage_of_one_sentence(
    cli: Cli, home: Path, tmp_path: Path
) -> None:
    assert cli("init", "--sample").code == 0
    big = [json.dumps({"id": str(n), "input": {"q": "x" * 400}}) for n in range(3000)]
    path = jsonl(tmp_path / "big.jsonl", *big)  # about 1.3 MB of rows to write
    ledger_size = (home / "promptloop.db").stat().st_size
    result = _cli_process(
        "dataset",
        "push",
        str(path),
        "--name",
        "big",
        "--as",
        "maya",
        env={},
        fsize=ledger_size + 256 * 1024,
    )
    assert result.returncode == 4, result.stderr
    error = one_sentence(result.stderr)
    assert "the ledger at sqlite:///" in error and "could not be used" in error
    assert "free some space" in error


@pytest.mark.parametrize(
    "ledger", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_read_only_postgresql_ledger_is_an_outage_of_one_sentence(
    cli: Cli, ledger: str, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from integrations.db import reset_engines

    assert cli("init", "--sample").code == 0
    database = make_url(ledger).database
    admin = create_engine(ledger, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # as a hot standby is, or a database an admin froze
        conn.execute(text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on'))
    admin.dispose()
    reset_engines()  # new connections, which take the setting
    path = jsonl(tmp_path / "one.jsonl", '{"id": "a", "input": {"q": "hello"}}')
    result = cli("dataset", "push", str(path), "--name", "new", "--as", "maya")
    assert result.code == 4, result.stderr
    error = one_sentence(result.stderr)
    assert "read-only transaction" in error and "it is read-only" in error
    assert "new" not in {d["name"] for d in cli("dataset", "list", "--json").json()}


@SQLITE
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_output_to_a_full_disk_is_an_outage_of_one_sentence(cli: Cli) -> None:
    assert cli("init", "--sample").code == 0
    with open("/dev/full", "w") as full:  # every write: ENOSPC, as on a full disk
        result = subprocess.run(
            [sys.executable, "-m", "promptloop", "change", "list", "--json"],
            env={k: v for k, v in os.environ.items() if k != "PROMPTLOOP_DEBUG"},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 4, result.stderr
    assert "could not be written: the disk is full" in one_sentence(result.stderr)
