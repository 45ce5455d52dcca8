"""dev.py: its test tiers' pytest arguments, and a long compile that is never silent."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest

import dev

BUILD = """
import sys, time
print("Installing build dependencies: started", flush=True)
time.sleep(0.6)
print("[ 45%] Building C object vendor/llama.cpp/ggml/src/CMakeFiles/ggml-cpu.dir/a.c.o", flush=True)
time.sleep(0.6)
print("[79/80] Linking CXX shared library bin/libllama.so", flush=True)
time.sleep(0.6)
sys.exit(int(sys.argv[1]))
"""


def test_a_long_build_prints_how_long_and_what_it_is_doing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "build.log"
    code = dev.run_with_heartbeat(
        [sys.executable, "-c", BUILD, "0"], log, env={}, what="compiling x", every=0.25
    )
    assert code == 0
    beats = [line for line in capsys.readouterr().out.splitlines() if "still compiling x" in line]
    assert len(beats) >= 4, beats
    assert any("installing its build tools" in b for b in beats), beats
    assert any("cmake building ggml-cpu, 45%" in b for b in beats), beats
    assert any("cmake linking libllama.so, 99%" in b for b in beats), beats
    assert all(b.strip().startswith("still compiling x (") and " s; " in b for b in beats)
    assert "[ 45%] Building C object" in log.read_text()  # the whole output is kept


def test_a_failed_build_returns_its_exit_code(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    assert dev.run_with_heartbeat([sys.executable, "-c", BUILD, "3"], log, env={}, what="x") == 3
    assert "Linking CXX" in dev.tail(log)


def test_elapsed_reads_as_minutes_and_seconds() -> None:
    assert dev.elapsed(270.4) == "4 min 30 s"
    assert dev.elapsed(42) == "42 s"


def test_dev_py_examples_hold() -> None:
    """The examples in dev.py's docstrings (the tiers' pytest arguments) run as written."""
    failed, attempted = doctest.testmod(dev)
    assert attempted >= 4 and failed == 0
