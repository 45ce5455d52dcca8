"""serve on a shared machine: it names the ledger it serves and a command pointed at
another ledger is told what to do (exit 5, never a bug); a start that loses the race for
the lock uses the serve that won; a home knows its own Prefect server (not another home's
answering on its recorded port); `serve status` with nothing serving exits 5."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import SAMPLES, invoke, serve_log

from integrations.db import ledger_tag, shown_url
from integrations.progress import alive
from integrations.settings import get_settings
from promptloop.runtime import control

PROMPTLOOP = Path(sys.executable).parent / "promptloop"


def test_serve_status_without_serve_exits_5_not_the_policy_code() -> None:
    assert invoke("init").code == 0
    shown = invoke("serve", "status")
    assert shown.code == 5, shown.stderr
    assert "not running" in shown.stdout
    as_json = invoke("serve", "status", "--json")
    assert as_json.code == 5
    assert as_json.json()["running"] is False


@pytest.mark.prefect
@pytest.mark.slow
def test_a_command_for_another_ledger_is_told_which_ledger_serve_serves(
    prefect_api: str, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    started = invoke("serve", "--detach", "--json")
    assert started.code == 0, started.stderr + serve_log()
    served = started.json()
    assert served["ledger"] == shown_url() and served["ledger_tag"] == ledger_tag()
    status = invoke("serve", "status", "--json").json()
    assert status["gateway_url"] and status["serves_this_ledger"] is True

    # the team moves to another ledger in the same home; serve still serves the first
    other = f"sqlite:///{tmp_path / 'moved.db'}"
    monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", other)
    monkeypatch.setenv("PROMPTLOOP_AUTO_EVALUATE", "true")  # submit starts the pipeline
    get_settings.cache_clear()
    assert invoke("init", "--sample").code == 0
    submitted = invoke(
        "change", "submit", "--file", str(SAMPLES / "support-triage-change.yaml"), "--as", "maya"
    )
    assert submitted.code == 5, submitted.stderr
    said = submitted.stderr
    assert f"serves the ledger {served['ledger']}, not {shown_url(other)}" in said
    assert "`promptloop serve stop`" in said
    assert "stays submitted" in said and "promptloop change evaluate 1" in said
    assert "ObjectNotFound" not in said and "internal error" not in said
    shown = invoke("serve", "status")
    assert shown.code == 0
    assert "not the ledger PROMPTLOOP_DATABASE_URL names here" in shown.stdout

    # as it says: stop serve, run it again, and serve serves this ledger
    assert invoke("serve", "stop").code == 0
    again = invoke("change", "evaluate", "1")
    assert again.code == 0, again.stderr + serve_log()
    assert control.status()["ledger_tag"] == ledger_tag()  # type: ignore[index]
    assert invoke("change", "show", "1", "--json").json()["flow_run_id"]


@pytest.mark.prefect
@pytest.mark.slow
def test_a_start_that_loses_the_lock_uses_the_serve_that_won(
    prefect_api: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    first = subprocess.Popen(
        [PROMPTLOOP, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while control.status() is None:  # it holds the lock: a start of ours now loses
            assert first.poll() is None and time.monotonic() < deadline, serve_log()
            time.sleep(0.05)
        said: list[str] = []
        record = control.detach(say=said.append)  # what a command that saw none starts
        assert record["pid"] == first.pid
        assert "already running" in serve_log()  # the second serve did lose the lock
        assert invoke("serve", "status", "--json").json()["pid"] == first.pid
    finally:
        first.terminate()
        first.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_home_never_takes_another_homes_prefect_server_for_its_own(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    homes = {name: tmp_path / name for name in ("a", "b")}
    env = {name: {**os.environ, "PROMPTLOOP_HOME": str(home)} for name, home in homes.items()}
    env["a"].pop("PREFECT_API_URL", None)
    env["b"].pop("PREFECT_API_URL", None)

    def run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PROMPTLOOP, *args], env=env[name], capture_output=True,
                              text=True, timeout=300)  # fmt: skip

    try:
        a = run("a", "server", "start", "--json")
        assert a.returncode == 0, a.stderr
        a_url = json.loads(a.stdout)["api_url"]
        # b recorded a server at the port a's now answers on (b's went away, a's took it)
        (homes["b"] / "prefect").mkdir(parents=True)
        (homes["b"] / "prefect" / "server.json").write_text(
            json.dumps({"api_url": a_url, "pid": 2**22 + 1})
        )
        shown = run("b", "server", "status", "--json")
        assert shown.returncode == 1
        assert json.loads(shown.stdout)["healthy"] is False
        assert json.loads(shown.stdout)["other_home"] == str((homes["a"] / "prefect").resolve())
        assert "another home's" in run("b", "server", "status").stdout

        b = run("b", "server", "start", "--json")
        assert b.returncode == 0, b.stderr
        b_url = json.loads(b.stdout)["api_url"]
        assert b_url != a_url  # its own server, not a's that answered
        assert run("b", "server", "status").returncode == 0
        assert run("a", "server", "status").returncode == 0
    finally:
        pids = []
        for name in homes:
            record = homes[name] / "prefect" / "server.json"
            if record.exists():
                pids.append(int(json.loads(record.read_text())["pid"]))
            run(name, "server", "stop")
    deadline = time.monotonic() + 30
    while [pid for pid in pids if alive(pid)]:  # no server left behind
        assert time.monotonic() < deadline, pids
        time.sleep(0.2)
