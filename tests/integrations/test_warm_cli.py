"""The warm process behind ``promptloop`` commands, driven as a user's shell drives it.

Each test gets its own warm process (its PYTHONPATH holds a folder of the test's own, and
the address is keyed on it), started by a first command exactly as on a user's machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptloop.cli import launcher

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="abstract Unix sockets")
# What a warm command returns: the client's own hand-over, or None when it ran nothing.
CLIENT = (
    "import sys; from promptloop.cli import launcher; "
    "code = launcher._run_warm(sys.argv[1:]); sys.exit(99 if code is None else code)"
)


@pytest.fixture
def warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    key = tmp_path / "warm-key"
    key.mkdir()
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{key}")
    monkeypatch.setenv("PROMPTLOOP_WARM_CLI", "1")
    monkeypatch.setenv("PROMPTLOOP_WARM_CLI_IDLE_S", "60")
    env = dict(os.environ)
    yield env
    for pid in _warm_pids(str(key)):
        os.kill(pid, signal.SIGTERM)


def _warm_pids(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"promptloop.cli.warm" in cmdline and marker.encode() in environ:
            pids.append(int(proc.name))
    return pids


def _listening() -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(launcher.address())  # the address of this test's PYTHONPATH
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _promptloop(*args: str, env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "promptloop", *args], env=env, capture_output=True, text=True,
        timeout=120, **kw,
    )  # fmt: skip


def _through_warm(
    *args: str, env: dict[str, str], **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", CLIENT, *args], env=env, capture_output=True, text=True,
        timeout=120, **kw,
    )  # fmt: skip


def _started(env: dict[str, str]) -> None:
    """A first command runs on its own and leaves a warm process for the next ones."""
    first = _promptloop("init", "--sample", env=env)
    assert first.returncode == 0, first.stderr
    deadline = time.monotonic() + 60
    while not _listening():
        assert time.monotonic() < deadline, "no warm process after the first command"
        time.sleep(0.2)


def test_a_warm_command_prints_and_exits_as_one_run_on_its_own_would(
    warm: dict[str, str],
) -> None:
    _started(warm)
    alone = _promptloop("team", "list", "--json", env={**warm, "PROMPTLOOP_WARM_CLI": "0"})
    handed = _through_warm("team", "list", "--json", env=warm)
    assert handed.returncode == 0, handed.stderr
    assert json.loads(handed.stdout) == json.loads(alone.stdout)
    assert {m["handle"] for m in json.loads(handed.stdout)} >= {"maya", "sam"}

    missing = _through_warm("change", "show", "99", env=warm)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "error: there is no change 99"
    assert missing.stdout == ""


def test_each_command_reads_its_own_environment_working_directory_and_stdin(
    warm: dict[str, str], tmp_path: Path
) -> None:
    _started(warm)
    other = tmp_path / "other-home"
    empty = _through_warm("team", "list", "--json", env={**warm, "PROMPTLOOP_HOME": str(other)})
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == []  # another ledger, though the same warm process

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "broken.yaml").write_text("name: x\ntemplate: [unclosed\n")
    relative = _through_warm("prompt", "push", "broken.yaml", "--as", "maya", env=warm,
                             cwd=elsewhere)  # fmt: skip
    assert relative.returncode == 2
    assert "broken.yaml" in relative.stderr

    piped = _through_warm("prompt", "push", "-", "--as", "maya", env=warm,
                          input="name: x\ntemplate: [unclosed\n")  # fmt: skip
    assert piped.returncode == 2
    assert "<stdin>" in piped.stderr


def _waiting_on_stdin(warm: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """A warm `prompt push -` waiting on its stdin (the warm process and its child up)."""
    _started(warm)
    waiting = subprocess.Popen(
        [sys.executable, "-c", CLIENT, "prompt", "push", "-", "--as", "maya"],
        env=warm, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    marker = warm["PYTHONPATH"].split(os.pathsep)[-1]
    deadline = time.monotonic() + 30
    while len(_warm_pids(marker)) < 2:  # the warm process and the child reading stdin
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    return waiting, marker


def test_ctrl_c_reaches_the_command(warm: dict[str, str]) -> None:
    waiting, _ = _waiting_on_stdin(warm)
    waiting.send_signal(signal.SIGINT)
    _, stderr = waiting.communicate(timeout=30)
    assert waiting.returncode == 130, stderr
    assert "interrupted" in stderr
    assert waiting.stdin is not None
    waiting.stdin.close()


def test_a_sigterm_ends_the_command_as_it_would_end_one_on_its_own(
    warm: dict[str, str],
) -> None:
    waiting, _ = _waiting_on_stdin(warm)
    waiting.send_signal(signal.SIGTERM)  # `timeout 3 promptloop ...`, a CI cancel
    _, stderr = waiting.communicate(timeout=30)
    assert waiting.returncode == 128 + signal.SIGTERM, stderr  # it said exit 3, a bug
    assert "internal error" not in stderr


def test_a_command_whose_caller_is_killed_ends_with_it(warm: dict[str, str]) -> None:
    waiting, marker = _waiting_on_stdin(warm)
    waiting.kill()  # SIGKILL: nothing to pass on; the command went on, and finished
    waiting.wait(timeout=30)
    deadline = time.monotonic() + 30
    while len(_warm_pids(marker)) > 1:  # only the warm process itself stays
        assert time.monotonic() < deadline, "the command outlived its caller"
        time.sleep(0.1)
    assert waiting.stdin is not None
    waiting.stdin.close()


def test_a_changed_file_sends_commands_back_to_their_own_process(warm: dict[str, str]) -> None:
    _started(warm)
    marker = warm["PYTHONPATH"].split(os.pathsep)[-1]
    assert _through_warm("team", "list", env=warm).returncode == 0
    [pid] = _warm_pids(marker)
    (Path(marker) / "shadow.py").write_text("")  # a new module on the import path

    stale = _through_warm("team", "list", env=warm)
    assert stale.returncode == 99  # nothing ran there: the caller runs it on its own
    deadline = time.monotonic() + 10
    while pid in _warm_pids(marker):
        assert time.monotonic() < deadline, "the stale warm process is still there"
        time.sleep(0.1)
    again = _promptloop("team", "list", "--json", env=warm)  # runs alone, starts a fresh one
    assert again.returncode == 0, again.stderr


def test_long_lived_commands_and_measurements_run_in_their_own_process(
    warm: dict[str, str],
) -> None:
    code = (
        "import sys; from promptloop.cli import launcher; "
        "print(launcher.enabled(), launcher._noun(['serve', '--detach']) in launcher.OWN_PROCESS)"
    )
    plain = subprocess.run([sys.executable, "-c", code], env=warm, capture_output=True, text=True)
    assert plain.stdout.split() == ["True", "True"]
    timed = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=warm,
                           capture_output=True, text=True)  # fmt: skip
    assert timed.stdout.split()[0] == "False"
    off = subprocess.run([sys.executable, "-c", code], env={**warm, "PROMPTLOOP_WARM_CLI": "0"},
                         capture_output=True, text=True)  # fmt: skip
    assert off.stdout.split()[0] == "False"
