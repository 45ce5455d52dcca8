"""``promptloop gateway`` as a person runs it: it prints its URL, answers /healthz, and
stops cleanly on Ctrl-C (the port free again); a missing setting is named, exit 2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fakes.slack_server import FakeSlackServer
from support import invoke

pytestmark = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]


def test_it_prints_its_url_serves_healthz_and_stops_on_ctrl_c(gateway_env: FakeSlackServer) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "promptloop", "gateway", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = ""
        while "listening on" not in line:  # notes go to stderr, after any log lines
            line = process.stderr.readline()
            assert line, "the gateway exited before it listened"
        assert "Slack gateway listening on http://127.0.0.1:" in line, line
        url = line.split()[4]
        assert httpx.get(f"{url}/healthz", timeout=10).json()["ok"] is True
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Slack gateway stopped" in err
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # free again


def test_a_missing_signing_secret_is_named(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.settings import get_settings

    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    get_settings.cache_clear()
    result = invoke("gateway", "--port", "0")
    assert result.code == 2
    assert (
        "SLACK_SIGNING_SECRET is not set: the gateway cannot check that requests come from Slack"
        in result.stderr
    )


def test_a_port_in_use_is_named(gateway_env: FakeSlackServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("gateway", "--port", str(port))
    assert result.code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
