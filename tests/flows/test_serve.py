"""`promptloop serve` as a team runs it: one per home, --detach/status/stop, Ctrl-C stops
everything it started, and two serves on one ledger run each change and deliver each
Slack message once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from fakes.slack_server import FakeSlackServer
from support import invoke, judge_aware, point_at, right_answers, serve_log
from test_change_pipeline import submit_in_review, vote_all, wait_for

from integrations.progress import alive
from integrations.settings import get_settings

pytestmark = pytest.mark.prefect
PROMPTLOOP = Path(sys.executable).parent / "promptloop"


def children(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent:
                found.append(int(entry.name))
                frontier.append(int(entry.name))
    return found


def test_one_serve_per_home_detached_status_and_stop(prefect_api: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    assert invoke("serve", "status", "--json").json()["running"] is False

    started = invoke("serve", "--detach", "--json")
    assert started.code == 0, started.stderr + serve_log()
    pid = started.json()["pid"]
    status = invoke("serve", "status", "--json").json()
    assert status["running"] and status["pid"] == pid and status["prefect_healthy"] is True
    assert status["ui_url"] == prefect_api.removesuffix("/api")
    assert status["deployment"].startswith("change-pipeline/ledger-")

    again = invoke("serve", "--detach")
    assert again.code == 1 and "already running" in again.stderr
    foreground = subprocess.run(
        [PROMPTLOOP, "serve"], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert foreground.returncode == 1 and "already running" in foreground.stderr

    assert invoke("serve", "stop").code == 0
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    assert invoke("serve", "status", "--json").json()["running"] is False


def test_ctrl_c_stops_serve_and_everything_it_started(prefect_api: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    serve = subprocess.Popen(
        [PROMPTLOOP, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while not invoke("serve", "status", "--json").json().get("ready"):
        assert serve.poll() is None and time.monotonic() < deadline, serve_log()
        time.sleep(0.3)
    spawned = children(serve.pid)
    serve.send_signal(signal.SIGINT)
    output, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, output
    assert "promptloop serve: stopped" in output
    assert not [pid for pid in spawned if alive(pid)]
    assert invoke("serve", "status", "--json").json()["running"] is False


def all_delivered(deadline: float) -> None:
    """Until every outbox message is delivered (by the deadline): a round of any serve then
    finds none to post, so a message posted twice would have been posted by now."""
    from sqlmodel import Session, select

    from integrations.db import get_engine
    from roles.ledger import OutboxMessage

    while True:
        with Session(get_engine()) as session:
            statuses = {m.status for m in session.exec(select(OutboxMessage)).all()}
        if statuses == {"delivered"} or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def test_two_serves_on_one_ledger_run_each_change_once_and_post_each_message_once(
    prefect_api: str, monkeypatch: Any, tmp_path: Path
) -> None:
    with FakeSlackServer() as slack, FakeOpenAIServer(responder=judge_aware(right_answers)) as llm:
        ledger = f"sqlite:///{tmp_path / 'shared.db'}"
        monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", ledger)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret")
        monkeypatch.setenv("PROMPTLOOP_SLACK_API_URL", slack.api_url)
        monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "CREVIEW")
        monkeypatch.setenv("PROMPTLOOP_SLACK_DEPLOY_CHANNEL", "CDEPLOY")
        point_at(llm, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        other_home = tmp_path / "other-home"
        other = subprocess.run(
            [PROMPTLOOP, "serve", "--detach"], capture_output=True, text=True, timeout=120,
            env={**os.environ, "PROMPTLOOP_HOME": str(other_home)},
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        try:
            flow_run_id = submit_in_review(llm, monkeypatch, prefect_api)  # starts our serve
            wait_for(flow_run_id, "Suspended", message="awaiting expert review")
            deadline = time.monotonic() + 60
            while len(slack.calls_to("chat.postMessage")) < 18 and time.monotonic() < deadline:
                time.sleep(0.5)
            vote_all("omar")
            vote_all("ines", limit=1)
            wait_for(flow_run_id, "Suspended", message="awaiting approval (0/1)")
            deadline = time.monotonic() + 60  # the deploy request and the review's close
            while len(slack.calls_to("chat.postMessage")) < 20 and time.monotonic() < deadline:
                time.sleep(0.5)
            all_delivered(deadline)  # no round of either serve has anything left to post
        finally:
            subprocess.run(
                [PROMPTLOOP, "serve", "stop"], timeout=60,
                env={**os.environ, "PROMPTLOOP_HOME": str(other_home)},
            )  # fmt: skip
            invoke("serve", "stop")  # ours too: each finishes its round before it exits
    get_settings.cache_clear()
    posts = slack.calls_to("chat.postMessage")
    ids = [p.params["metadata"]["event_payload"]["outbox_id"] for p in posts]
    # the review's parent, its 17 items (15 drawn, 2 picks), the close in its thread, the
    # deploy request: once each
    assert len(ids) == 20 and len(set(ids)) == 20, ids
    shown = invoke("change", "show", "1", "--json").json()
    assert [h["to_state"] for h in shown["history"]] == [
        "submitted", "evaluating", "in_review", "awaiting_approval",
    ]  # fmt: skip
    runs = invoke("eval", "list", "--json").json()
    assert sorted(r["purpose"] for r in runs) == ["baseline", "candidate"]
