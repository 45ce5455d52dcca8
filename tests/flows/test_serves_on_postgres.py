"""Beyond one machine: two `promptloop serve`s (two homes, as two machines) on one
PostgreSQL ledger and one Prefect server deliver every outbox message exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fakes.slack_server import FakeSlackServer
from sqlmodel import Session, select

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]
PROMPTLOOP = Path(sys.executable).parent / "promptloop"
CHANNELS = ("CREVIEW", "CDEPLOY", "CALERTS", "CDIGEST")
PER_CHANNEL = 4  # Slack's pace is one post a second per channel: ~4 s of delivery


def _serve(home: Path, *action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMPTLOOP, "serve", *action], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PROMPTLOOP_HOME": str(home)},
    )  # fmt: skip


def _wait_ready(home: Path) -> None:
    deadline = time.monotonic() + 60
    while not json.loads(_serve(home, "status", "--json").stdout).get("ready"):
        assert time.monotonic() < deadline, (home / "logs" / "serve.log").read_text()
        time.sleep(0.5)


def test_two_serves_on_a_postgresql_ledger_post_each_message_once(
    prefect_api: str, pg_url: str, monkeypatch: Any, tmp_path: Path
) -> None:
    from integrations.db import get_engine
    from integrations.settings import get_settings
    from roles.ledger import OutboxMessage
    from roles.outbox import enqueue

    monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", pg_url)
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    get_settings.cache_clear()
    homes = [tmp_path / "machine-a", tmp_path / "machine-b"]
    with FakeSlackServer() as slack:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret")
        monkeypatch.setenv("PROMPTLOOP_SLACK_API_URL", slack.api_url)
        monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "CREVIEW")
        monkeypatch.setenv("PROMPTLOOP_SLACK_DEPLOY_CHANNEL", "CDEPLOY")
        try:
            for home in homes:
                started = _serve(home, "--detach")
                assert started.returncode == 0, started.stderr
            for home in homes:  # both deliver before any message is written
                _wait_ready(home)
            with Session(get_engine()) as session:
                for n in range(PER_CHANNEL):
                    for channel in CHANNELS:
                        text = f"{channel} {n}"
                        enqueue(session, channel=channel, kind="notice", text=text, blocks=[])
                session.commit()
            total = PER_CHANNEL * len(CHANNELS)
            deadline = time.monotonic() + 60
            while len(slack.calls_to("chat.postMessage")) < total and time.monotonic() < deadline:
                time.sleep(0.5)
            while time.monotonic() < deadline:  # until no round of either has one to post
                with Session(get_engine()) as session:
                    pending = list(session.exec(select(OutboxMessage)).all())
                if {m.status for m in pending} == {"delivered"}:
                    break
                time.sleep(0.2)
            # then both stop (below), each finishing its round: a double post is made by then
        finally:
            for home in homes:
                _serve(home, "stop")
    posts = slack.calls_to("chat.postMessage")
    ids = Counter(p.params["metadata"]["event_payload"]["outbox_id"] for p in posts)
    assert len(ids) == total and set(ids.values()) == {1}, ids
    for channel in CHANNELS:  # in order per channel, whichever serve posted
        texts = [p.params["text"] for p in posts if p.params["channel"] == channel]
        assert texts == [f"{channel} {n}" for n in range(PER_CHANNEL)], texts
    with Session(get_engine()) as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert {r.status for r in rows} == {"delivered"}
    by = Counter(str(r.claimed_by).split(":")[1] for r in rows)  # host:pid:loop
    print(f"{total} messages, delivered per serve: {dict(by)}")
