"""A home and its ledger are owner-only whatever the umask and whichever path created
them, and a command handed to the warm process runs with its caller's umask, resource
limits, working directory and environment (not the warm process's)."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_warm_cli import _listening, _promptloop, _warm_pids, warm  # noqa: F401

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="abstract Unix sockets")
# A warm command's exit code; 99: no warm process ran it, 98: it sent the command back.
CLIENT = (
    "import sys; from promptloop.cli import launcher; code = launcher._run_warm(sys.argv[1:]); "
    "sys.exit(99 if code is None else 98 if code == 'here' else code)"
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _with_umask(mask: int, *limits: tuple[int, tuple[int, int]]):  # type: ignore[no-untyped-def]
    def before() -> None:
        os.umask(mask)
        for which, wanted in limits:
            resource.setrlimit(which, wanted)

    return before


def _warm_run(*args: str, env: dict[str, str], umask: int, **kw: object):  # type: ignore[no-untyped-def]
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-c", CLIENT, *args], env=env, capture_output=True, text=True,
        timeout=120, preexec_fn=_with_umask(umask), **kw,
    )  # fmt: skip


def _start_warm(env: dict[str, str], tmp_path: Path, *limits: tuple[int, tuple[int, int]]) -> None:
    """A first command, in a home of its own under umask 022, leaves a warm process (which
    has that umask and those limits) for the next commands."""
    first = subprocess.run(
        [sys.executable, "-m", "promptloop", "init", "--sample"], capture_output=True,
        text=True, timeout=120, preexec_fn=_with_umask(0o022, *limits),
        env={**env, "PROMPTLOOP_HOME": str(tmp_path / "warm-home")},
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    deadline = time.monotonic() + 60
    while not _listening():
        assert time.monotonic() < deadline, "no warm process after the first command"
        time.sleep(0.2)


def _assert_owner_only(home: Path) -> None:
    assert _mode(home) == 0o700
    ledger = home / "promptloop.db"
    assert _mode(ledger) == 0o600
    # a connection that writes makes SQLite's -wal and -shm: they take the ledger's mode
    old = os.umask(0o022)
    try:
        with sqlite3.connect(ledger) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS probe (x)")
            conn.execute("INSERT INTO probe VALUES (1)")
            conn.commit()
            for suffix in ("-wal", "-shm"):
                assert _mode(Path(f"{ledger}{suffix}")) == 0o600, suffix
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_home_made_by_a_command_of_its_own_is_owner_only(
    umask: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "new-home"
    made = subprocess.run(
        [sys.executable, "-m", "promptloop", "init", "--sample"], capture_output=True,
        text=True, timeout=120, preexec_fn=_with_umask(umask),
        env={**os.environ, "PROMPTLOOP_HOME": str(home), "PROMPTLOOP_WARM_CLI": "0"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    _assert_owner_only(home)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_home_made_through_the_warm_process_is_owner_only(
    umask: int, warm: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    _start_warm(warm, tmp_path)
    home = tmp_path / "new-home"
    made = _warm_run("init", "--sample", env={**warm, "PROMPTLOOP_HOME": str(home)}, umask=umask)
    assert made.returncode == 0, made.stderr  # 0, not 99/98: the warm process ran it
    _assert_owner_only(home)


def test_a_warm_command_creates_files_with_its_callers_umask_in_its_cwd(
    warm: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    _start_warm(warm, tmp_path)  # the warm process's umask is 022
    home = tmp_path / "warm-home"
    env = {**warm, "PROMPTLOOP_HOME": str(home)}
    judges = json.loads(_promptloop("judge", "list", "--json", env=env).stdout)
    judge = judges[0]["id"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exported = _warm_run("judge", "export", judge, "-o", "pairs.jsonl", env=env, umask=0o077,
                         cwd=elsewhere)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert _mode(elsewhere / "pairs.jsonl") == 0o600  # 0644 with the warm process's umask

    # an environment variable only the caller has: its ledger, made owner-only
    other = tmp_path / "other.db"
    listed = _warm_run("team", "list", "--json", umask=0o022,
                       env={**env, "PROMPTLOOP_DATABASE_URL": f"sqlite:///{other}"})  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert _mode(other) == 0o600


def test_a_warm_command_runs_with_its_callers_umask_and_limits(
    warm: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    _start_warm(warm, tmp_path)
    env = {**warm, "PROMPTLOOP_HOME": str(tmp_path / "warm-home")}
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    waiting = subprocess.Popen(
        [sys.executable, "-c", CLIENT, "prompt", "push", "-", "--as", "maya"], env=env,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_with_umask(0o027, (resource.RLIMIT_NOFILE, (321, hard)),
                               (resource.RLIMIT_CORE, (0, 0))),
    )  # fmt: skip
    try:
        marker = warm["PYTHONPATH"].split(os.pathsep)[-1]
        deadline = time.monotonic() + 30
        while len(_warm_pids(marker)) < 2:  # the warm process and the child reading stdin
            assert waiting.poll() is None, waiting.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.1)
        child = max(_warm_pids(marker))
        status = Path(f"/proc/{child}/status").read_text()
        assert "Umask:\t0027" in status
        limits = Path(f"/proc/{child}/limits").read_text()
        assert [line.split()[3:5] for line in limits.splitlines()
                if line.startswith("Max open files")] == [["321", str(hard)]]  # fmt: skip
        assert [line.split()[4:6] for line in limits.splitlines()
                if line.startswith("Max core file size")] == [["0", "0"]]  # fmt: skip
    finally:
        waiting.send_signal(signal.SIGINT)
        waiting.communicate(timeout=30)
    assert waiting.returncode == 130


def test_a_limit_the_warm_process_cannot_give_sends_the_command_back(
    warm: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, 512)
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip("the hard limit on open files is too low to lower it")
    _start_warm(warm, tmp_path, (resource.RLIMIT_NOFILE, (low, low)))  # its hard limit: low
    env = {**warm, "PROMPTLOOP_HOME": str(tmp_path / "warm-home")}
    back = _warm_run("team", "list", "--json", env=env, umask=0o022)
    assert back.returncode == 98, back.stderr  # nothing ran there: the caller runs it
    assert back.stdout == ""
    alone = _promptloop("team", "list", "--json", env=env)  # the launcher runs it itself
    assert alone.returncode == 0, alone.stderr
    assert {m["handle"] for m in json.loads(alone.stdout)} >= {"maya", "sam"}
    again = _warm_run("team", "list", "--json", env=env, umask=0o022)
    assert again.returncode == 98  # the warm process lives on for callers it can serve
