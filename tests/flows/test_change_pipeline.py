"""The change pipeline as people meet it: `change submit` creates its run, `promptloop serve`
(started on demand) runs it, it suspends while the experts review, and wakes when they are
done, when the deadline passes, or when the change is withdrawn — on a real Prefect test
server, the real openai SDK against a local fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, invoke, judge_aware, point_at, right_answers, serve_log

pytestmark = pytest.mark.prefect


def flow_run(flow_run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id))


def wait_for(flow_run_id: str, name: str, *, message: str = "", timeout: float = 90) -> Any:
    """The run once its state is ``name`` with a message containing ``message``."""
    deadline = time.monotonic() + timeout
    run = flow_run(flow_run_id)
    while time.monotonic() < deadline:
        run = flow_run(flow_run_id)
        if run.state.name == name and message in (run.state.message or ""):
            return run
        time.sleep(0.5)
    raise AssertionError(
        f"run is {run.state.name} ({run.state.message}), not {name} ({message})\n{serve_log()}"
    )


def submit_in_review(server: FakeOpenAIServer, monkeypatch: Any, prefect_api: str) -> str:
    """The sample change submitted with --wait: its pipeline run, suspended for review."""
    point_at(server, monkeypatch)
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    assert invoke("init", "--sample").code == 0
    submitted = invoke(
        "change", "submit", "--file", str(SAMPLES / "support-triage-change.yaml"),
        "--as", "maya", "--wait", "--json",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr + serve_log()
    assert submitted.json()["state_after_evaluation"] == "in_review"
    # who votes and how, in the terminal
    assert "next: the experts vote on review 1 (ines, omar; not maya, the author)" in (
        submitted.stderr
    )
    assert "`promptloop review list --as ines`" in submitted.stderr
    return str(submitted.json()["flow_run_id"])


def vote_all(expert: str, verdict: str = "pass", limit: int = 100) -> list[dict[str, Any]]:
    votes = []
    for item in invoke("review", "list", "--as", expert, "--json").json()[:limit]:
        voted = invoke("review", "vote", str(item["review_item_id"]), verdict, "--as", expert)
        assert voted.code == 0, voted.stderr
        votes.append(item)
    return votes


def approve_from_a_terminal(change_id: int, handle: str, prefect_api: str, tmp: Path) -> Any:
    """`promptloop change approve` as typed in a shell: no PREFECT_API_URL, the home's
    recorded Prefect server (as a serve of this home records the server it started), and a
    HOME of its own, so that a temporary Prefect server of the command's own would show."""
    record = Path(os.environ["PROMPTLOOP_HOME"]) / "prefect" / "server.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"api_url": prefect_api, "pid": os.getpid()}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["HOME"] = str(tmp)
    argv = ["change", "approve", str(change_id), "--as", handle, "--json"]
    code = (  # the console script's own entry, then: did the wake need Prefect's client?
        "import sys\nfrom promptloop.cli.app import run_cli\n"
        f"code = run_cli({argv!r})\n"
        "print('prefect loaded' if 'prefect' in sys.modules else 'no prefect', file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_pipeline_waits_for_the_experts_and_goes_on_when_they_are_done(
    prefect_api: str, ledger: str, monkeypatch: Any, tmp_path: Path
) -> None:
    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        flow_run_id = submit_in_review(server, monkeypatch, prefect_api)
        run = wait_for(flow_run_id, "Suspended", message="awaiting expert review: 0/17 items")
        assert run.name == "support-triage-change-1"
        assert {"change:1", "prompt:support-triage", "pipeline"} <= set(run.tags)
        assert "deadline" in run.state.message and "UTC" in run.state.message
        paid = server.requests_received

        assert len(vote_all("omar")) == 17
        # the board follows the ledger: the run still waits, for the second expert now
        wait_for(flow_run_id, "Suspended", message="17/17 items have their votes, 1/2 experts")
        vote_all("ines", limit=1)  # the second expert completes the review
        wait_for(flow_run_id, "Suspended", message="awaiting approval (0/1)")
        refused = invoke("change", "approve", "1", "--as", "omar")  # an expert, not an engineer
        assert refused.code == 1 and "needs the engineer role" in refused.stderr
        approved = approve_from_a_terminal(1, "sam", prefect_api, tmp_path)
        assert approved.returncode == 0, approved.stderr
        assert json.loads(approved.stdout)["decision"] == "deployed"
        # the approval's door woke the run itself: not left for serve's next round, and
        # through this home's server, not a temporary one of its own (15 s, an ERROR line)
        assert not flow_run(flow_run_id).state.is_paused()
        made = sorted(p.name for p in (tmp_path / ".prefect").glob("*"))
        assert "prefect.db" not in made and "ERROR" not in approved.stderr, made
        assert "no prefect" in approved.stderr  # two HTTP requests, not 1.5-5 s of imports
        run = wait_for(flow_run_id, "Deployed")
        assert run.state.type.value == "COMPLETED"

    shown = invoke("change", "show", "1", "--json").json()
    assert [h["to_state"] for h in shown["history"]] == [
        "submitted", "evaluating", "in_review", "awaiting_approval", "approved", "deployed",
    ]  # fmt: skip
    assert shown["flow_run_id"] == flow_run_id
    assert [(d["who"], d["decision"], d["source"]) for d in shown["decisions"]] == [
        ("omar", "refused", "cli"), ("sam", "approve", "cli"),
    ]  # fmt: skip
    assert shown["decisions"][1]["os_user"] and shown["decisions"][1]["host"]
    text = invoke("change", "show", "1").stdout
    assert "refused: omar at" in text and "approved: sam at" in text
    assert server.requests_received == paid  # woken and run from its top: nothing paid twice
    kinds = [m["kind"] for m in invoke("outbox", "list", "--json").json()]
    assert kinds.count("review_parent") == 1 and kinds.count("review_item") == 17
    assert kinds.count("deploy_request") == 1  # posted once, updated in place
    production = invoke("prompt", "show", "support-triage", "--json").json()
    assert production["version"] == 2 and production["labels"] == {"production": 2}


def test_an_expired_review_wakes_the_run_and_sends_the_change_back(
    prefect_api: str, monkeypatch: Any
) -> None:
    from integrations.db import session_scope
    from roles.clock import utcnow
    from roles.ledger import Review

    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        flow_run_id = submit_in_review(server, monkeypatch, prefect_api)
        wait_for(flow_run_id, "Suspended", message="awaiting expert review")
        with session_scope() as session:  # the deadline comes (serve checks it, not a CLI)
            review = session.get(Review, 1)
            assert review is not None
            review.deadline_at = utcnow()
            session.add(review)
        run = wait_for(flow_run_id, "Changes requested", timeout=60)
    assert "expired" in run.state.message
    assert invoke("change", "show", "1", "--json").json()["state"] == "changes_requested"


def test_a_nudge_for_nothing_suspends_again_and_a_withdrawal_ends_the_run(
    prefect_api: str, monkeypatch: Any
) -> None:
    """Anyone with the Prefect UI can resume a run: it reads the ledger, and waits again."""
    from prefect.flow_runs import resume_flow_run

    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        flow_run_id = submit_in_review(server, monkeypatch, prefect_api)
        first = wait_for(flow_run_id, "Suspended", message="awaiting expert review")
        assert first.state.state_details.pause_key == "review-1-w0"
        resume_flow_run(UUID(flow_run_id), run_input={"reason": "clicked in the UI"})
        again = wait_for(flow_run_id, "Suspended", message="awaiting expert review")
        assert again.state.state_details.pause_key == "review-1-w1"
        assert invoke("change", "show", "1", "--json").json()["state"] == "in_review"

        withdrawn = invoke("change", "withdraw", "1", "--as", "maya")
        assert withdrawn.code == 0, withdrawn.stderr
        wait_for(flow_run_id, "Withdrawn", timeout=60)


def test_evidence_against_an_old_production_sends_the_run_back_to_evaluate(
    prefect_api: str, monkeypatch: Any, tmp_path: Any
) -> None:
    """Two changes wait for approval against v1; the second deploys; approving the first
    sends it back, and its own run evaluates it again against the new production."""
    with FakeOpenAIServer(responder=judge_aware(right_answers)) as server:
        first = submit_in_review(server, monkeypatch, prefect_api)
        wait_for(first, "Suspended", message="awaiting expert review")
        vote_all("omar")
        vote_all("ines", limit=1)
        wait_for(first, "Suspended", message="awaiting approval (0/1)")
        text = (SAMPLES / "support-triage-change.yaml").read_text()
        other = tmp_path / "other.yaml"
        other.write_text(text.replace("description: ", "description: another take on ", 1))
        submitted = invoke("change", "submit", "-f", str(other), "--as", "maya", "--wait", "--json")
        assert submitted.code == 0, submitted.stderr
        second = str(submitted.json()["flow_run_id"])
        wait_for(second, "Suspended", message="awaiting expert review")
        vote_all("omar")
        vote_all("ines", limit=1)
        wait_for(second, "Suspended", message="awaiting approval (0/1)")
        assert invoke("change", "approve", "2", "--as", "sam").code == 0
        wait_for(second, "Deployed")

        late = invoke("change", "approve", "1", "--as", "lee", "--json")
        assert late.code == 0, late.stderr
        assert late.json()["decision"] == "sent_back"
        wait_for(first, "Suspended", message="awaiting expert review", timeout=120)
    history = invoke("change", "show", "1", "--json").json()["history"]
    assert [h["to_state"] for h in history][3:] == [
        "awaiting_approval", "submitted", "evaluating", "in_review",
    ]  # fmt: skip
    assert "production moved from v1 to v3" in history[4]["note"]
