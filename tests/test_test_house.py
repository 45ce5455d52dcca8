"""The test suite's own house rules: each home starts with a ledger at head (copied, not
migrated), and a process a test leaves running is found, whoever its parent now is."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from process_support import left_behind


def test_each_home_starts_with_a_ledger_at_head_owner_only(home: Path) -> None:
    from sqlalchemy import create_engine

    from integrations.db import current_revision
    from integrations.migrations import HEAD

    ledger = home / "promptloop.db"
    assert ledger.stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o777 == 0o700
    engine = create_engine(f"sqlite:///{ledger}")
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


@pytest.mark.fresh_home
def test_a_fresh_home_has_no_ledger(home: Path) -> None:
    assert not (home / "promptloop.db").exists()


def test_a_process_left_running_is_found_also_once_reparented(
    home: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = str(tmp_path_factory.getbasetemp())
    child = subprocess.Popen(["sleep", "60"])
    # the shell exits at once: its `sleep` is an orphan that only its environment ties to us
    orphan = subprocess.run(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        env={**os.environ, "PROMPTLOOP_HOME": str(home)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    orphan_pid = int(orphan.stdout)
    try:
        left = left_behind(base, set())
        assert child.pid in left and "sleep 60" in left[child.pid]
        assert orphan_pid in left
    finally:
        child.kill()
        child.wait()
        os.kill(orphan_pid, signal.SIGKILL)
    assert child.pid not in left_behind(base, set())


def test_a_process_of_a_tests_home_is_found_by_its_home(home: Path) -> None:
    from process_support import homed_at

    other = home.parent / "other-home"
    mine = subprocess.Popen(["sleep", "60"], env={**os.environ, "PROMPTLOOP_HOME": str(home)})
    theirs = subprocess.Popen(["sleep", "60"], env={**os.environ, "PROMPTLOOP_HOME": str(other)})
    try:
        found = homed_at(str(home))
        assert mine.pid in found and theirs.pid not in found
    finally:
        for process in (mine, theirs):
            process.kill()
            process.wait()
    assert mine.pid not in homed_at(str(home))
