"""A `serve` with Slack marks its ledger, so the default identity policy becomes `slack` for
every later CLI command, whatever that command's own environment (issue 17's case:
`env -u SLACK_BOT_TOKEN promptloop change approve … --as sam` passed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deploy_support import awaiting_approval
from fakes.slack_server import FakeSlackServer
from sqlmodel import Session, select
from support import invoke, serve_log

from integrations.db import get_engine
from integrations.settings import get_settings
from roles.ledger import Approval

pytestmark = pytest.mark.prefect
ROOT = Path(__file__).resolve().parents[2]


def test_after_a_serve_with_slack_the_cli_without_the_token_cannot_approve(
    prefect_api: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    assert invoke("team", "policy", "--json").json()["identity"] == "cli"
    with FakeSlackServer() as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret")
        monkeypatch.setenv("PROMPTLOOP_SLACK_API_URL", slack.api_url)
        monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "CREVIEW")
        monkeypatch.setenv("PROMPTLOOP_SLACK_DEPLOY_CHANNEL", "CDEPLOY")
        get_settings.cache_clear()
        started = invoke("serve", "--detach", "--json")
        try:
            assert started.code == 0, started.stderr + serve_log()
        finally:
            assert invoke("serve", "stop").code == 0
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "PROMPTLOOP_SLACK_API_URL"):
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    policy = invoke("team", "policy", "--json").json()
    assert (policy["identity"], policy["explicit"]) == ("slack", False)
    assert policy["slack_serve_host"] == socket.gethostname()

    change_id = awaiting_approval()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PROMPTLOOP_SLACK"))}
    done = subprocess.run(
        [sys.executable, "-m", "promptloop", "change", "approve", str(change_id), "--as", "sam"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the team's identity policy is slack" in done.stderr
    with Session(get_engine()) as session:
        rows = session.exec(select(Approval)).all()
    assert [(r.decision, r.source) for r in rows] == [("refused", "cli")]
