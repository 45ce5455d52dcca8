"""The evaluate_change flow on a real Prefect test server, the real openai SDK and a local
OpenAI-compatible server: a change moves to in_review, or to eval_failed with reasons."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, last_user_text
from support import CANDIDATE_MARK, SAMPLES, invoke, judge_aware, point_at, serve_log, submit_sample

from integrations.db import ledger_tag

pytestmark = pytest.mark.prefect

ANSWERS = {
    json.loads(line)["input"]["ticket"]: json.loads(line)["expected"]
    for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
}


def ticket_of(body: dict[str, Any]) -> str:
    return last_user_text(body).split("Ticket: ", 1)[-1].split("\n", 1)[0]


def sharper_candidate(body: dict[str, Any]) -> str:
    """Production answers 'billing' to everything; the candidate answers correctly."""
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    if CANDIDATE_MARK in system:
        return ANSWERS.get(ticket_of(body), "billing")
    return "billing"


def worse_candidate(body: dict[str, Any]) -> str:
    """Production is right; the candidate always says 'account'."""
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    return "account" if CANDIDATE_MARK in system else ANSWERS.get(ticket_of(body), "billing")


def _submit() -> int:
    return int(submit_sample()["id"])


def _evaluate(change_id: int) -> str:
    from flows.evaluate_change import evaluate_change

    return asyncio.run(evaluate_change(change_id, prompt="support-triage"))


def _artifact_keys(flow_run_id: str) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> set[str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )
        return {a.key for a in found if a.key}

    return asyncio.run(read())


def test_a_better_candidate_moves_to_in_review(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        change_id = _submit()
        assert _evaluate(change_id) == "in_review"
        # 30 answers + 30 judge calls per side; identical judge requests are paid once
        paid = server.requests_received
        assert 60 < paid <= 120

        shown = invoke("change", "show", str(change_id), "--json").json()
        assert [h["to_state"] for h in shown["history"]] == ["submitted", "evaluating", "in_review"]
        last = shown["history"][-1]
        assert (last["actor"], last["role"], last["note"]) == (
            "promptloop",
            "system",
            "gate passed",
        )
        runs = last["payload"]
        assert any(r.startswith("ok: target correct") for r in runs["reasons"]), runs["reasons"]
        assert runs["summary"] == "correct rose from 0.33 to 1"  # stored with the verdict
        candidate = invoke("eval", "show", str(runs["candidate_run"]), "--json").json()
        baseline = invoke("eval", "show", str(runs["baseline_run"]), "--json").json()
        assert candidate["scores"]["correct"]["mean"] == 1.0
        assert round(baseline["scores"]["correct"]["mean"], 3) == round(10 / 30, 3)
        # run on its own, the evaluation is not the change's pipeline run: one writer of that
        assert shown["flow_run_id"] is None and shown["evaluate_flow_run_id"]
        keys = _artifact_keys(shown["evaluate_flow_run_id"])
        tag = ledger_tag()
        assert {
            f"{tag}-change-{change_id}-scorecard",
            f"{tag}-change-{change_id}-comparison",
        } <= keys
        run = _flow_run(shown["evaluate_flow_run_id"])
        assert run.name == f"support-triage-change-{change_id}-eval-{tag}"
        # named for the gate's verdict, which stays true after the change moves on
        assert (run.state.name, run.state.message) == ("Gate passed", "gate passed: sent to review")

        # The same change evaluated again (a restarted flow) does nothing twice.
        assert _evaluate(change_id) == "in_review"
        assert server.requests_received == paid


def test_a_guardrail_loss_moves_to_eval_failed_with_reasons(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(worse_candidate)) as server:
        point_at(server, monkeypatch)
        change_id = _submit()
        assert _evaluate(change_id) == "eval_failed"
        shown = invoke("change", "show", str(change_id), "--json").json()
        last = shown["history"][-1]
        assert last["to_state"] == "eval_failed"
        assert last["note"].startswith("gate failed: FAIL") and "correct" in last["note"]
        checks = last["payload"]["failed_checks"]  # what `promptloop metrics` counts it under
        assert checks and all(f"FAIL: {c['reason']}" in last["payload"]["reasons"] for c in checks)
        reasons = invoke("metrics", "--json").json()["sent_back"]["reasons"]
        assert {(r["kind"], r["category"]) for r in reasons} == {
            ("eval_failed", c["check"]) for c in checks
        }
        told = [m for m in invoke("outbox", "list", "--json").json() if m["kind"] == "notice"]
        assert [m["channel"] for m in told] == ["U01MAYA"]  # the author, by direct message
        assert told[0]["text"] == f"Your change #{change_id} failed its evaluation"


def _flow_run(flow_run_id: str) -> Any:
    from uuid import UUID

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(flow_run_id))


def test_an_outage_is_no_verdict_and_a_rerun_pays_only_for_what_is_missing(
    prefect_api, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The endpoint fails the candidate's calls (HTTP 500 after the retries): the change
    stays evaluating with the error named, the run is an outage (never reused), the flow
    run ends Failed "Outage"; once the endpoint is back, evaluating again concludes it and
    pays only for the candidate's answers."""
    from flows.evaluate_change import evaluate_change

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        server.fail(500, times=1000, match=r"Category:\s*$")  # the candidate's user turn
        change_id = _submit()
        final = asyncio.run(evaluate_change(change_id, return_state=True))
        assert final.is_failed() and final.name == "Outage"
        assert "30/30 items could not be answered" in (final.message or "")
        shown = invoke("change", "show", str(change_id), "--json").json()
        assert shown["state"] == "evaluating"
        assert shown["evaluation_error"]["kind"] == "outage"
        assert "HTTP 500" in shown["evaluation_error"]["message"]
        assert [h["to_state"] for h in shown["history"]] == ["submitted", "evaluating"]
        printed = invoke("change", "show", str(change_id)).stdout
        assert "the evaluation could not run (an outage)" in printed and "HTTP 500" in printed

        server.recover()  # the endpoint is back
        paid = server.requests_received
        assert _evaluate(change_id) == "in_review"
        # the baseline's finished run is reused; the outage run is not: only the
        # candidate's 30 answers (and their judge calls) are paid for again
        assert server.requests_received - paid <= 60
        history = invoke("change", "show", str(change_id), "--json").json()["history"]
        candidate = invoke(
            "eval", "show", str(history[-1]["payload"]["candidate_run"]), "--json"
        ).json()
        assert candidate["status"] == "finished" and candidate["errors"] == 0


def test_submit_starts_the_evaluation_in_the_background(
    prefect_api, monkeypatch, home: Path
) -> None:  # type: ignore[no-untyped-def]
    """The user's path: `change submit` returns at once; a detached flow run concludes it."""
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        monkeypatch.setenv("PROMPTLOOP_AUTO_EVALUATE", "true")
        assert invoke("init", "--sample").code == 0
        exe = Path(sys.executable).parent / "promptloop"
        submitted = subprocess.run(
            [
                exe,
                "change",
                "submit",
                "--file",
                str(SAMPLES / "support-triage-change.yaml"),
                "--as",
                "maya",
                "--json",
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=60,
        )
        assert submitted.returncode == 0, submitted.stderr
        change = json.loads(submitted.stdout)
        # the CLI returned before the evaluation concluded (it does not wait for it)
        assert invoke("change", "show", str(change["id"]), "--json").json()["state"] in (
            "submitted",
            "evaluating",
        )
        assert change["evaluation"] == "started"
        deadline = time.monotonic() + 120
        state = "submitted"
        while time.monotonic() < deadline and state in ("submitted", "evaluating"):
            time.sleep(1)
            state = invoke("change", "show", str(change["id"]), "--json").json()["state"]
        assert state == "in_review", serve_log()
        # the change's one pipeline run now waits for the experts, saying so
        shown = invoke("change", "show", str(change["id"]), "--json").json()
        assert shown["flow_run_id"] == change["flow_run_id"]
        run = _wait_for_state(change["flow_run_id"], "Suspended")
        assert run.name == f"support-triage-change-{change['id']}"
        assert {f"change:{change['id']}", "prompt:support-triage"} <= set(run.tags)
        assert run.state.message.startswith("gate passed; awaiting expert review: 0/17 items")


def _wait_for_state(flow_run_id: str, name: str, timeout: float = 60) -> Any:
    """The flow run once its state is ``name`` (and, for a waiting run, described)."""
    deadline = time.monotonic() + timeout
    run = _flow_run(flow_run_id)
    while time.monotonic() < deadline:
        run = _flow_run(flow_run_id)
        if run.state.name == name and (name != "Suspended" or run.state.message):
            return run
        time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} is {run.state.name}: {run.state.message}")


def test_submit_wait_prints_the_verdict_and_every_reason(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(worse_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        invoke("init", "--sample")
        result = invoke(
            "change",
            "submit",
            "--file",
            str(SAMPLES / "support-triage-change.yaml"),
            "--as",
            "maya",
            "--wait",
        )
        assert result.code == 0, result.stderr
        assert "evaluation: eval_failed" in result.stdout
        assert "FAIL: target correct" in result.stdout
        # what is still bad, in plain words, before the verdict and its reasons
        summary = (
            "correct fell from 1 to 0.33, and the candidate answers 'account' for every item "
            "and gets 10 of 10 'billing' items wrong"
        )
        assert result.stdout.index(summary) < result.stdout.index("evaluation: eval_failed")
        assert summary in invoke("change", "show", "1").stdout
        # how to revise, in the terminal (not only in the author's Slack message)
        assert "next: maya revises it: `promptloop change revise 1 --file FILE --as maya`" in (
            result.stderr
        )
        as_json = invoke("change", "show", "1", "--json").json()
        assert as_json["state"] == "eval_failed"
        # the board: a failed gate is red, and the run and its artifact say which and why
        run = _flow_run(as_json["flow_run_id"])
        assert (run.state.type.value, run.state.name) == ("FAILED", "Eval failed")
        assert "gate failed: FAIL: target correct" in run.state.message
        assert run.name == "support-triage-change-1: eval failed"
        pinned = pinned_artifact(1)
        assert pinned.flow_run_id == run.id
        assert "**The gate:** gate failed: FAIL: target correct" in pinned.data
        assert "| evaluating | eval_failed | promptloop (system) |" in pinned.data
        sub = _flow_run(as_json["evaluate_flow_run_id"])
        assert sub.state.name == "Gate failed" and sub.parent_task_run_id is not None


def pinned_artifact(change_id: int) -> Any:
    """The latest version of the change's pinned artifact."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from integrations.pipeline_runs import artifact_key

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(change_id)]))
        )
    assert found, f"no artifact {artifact_key(change_id)}"
    return sorted(found, key=lambda a: str(a.created))[-1]


def test_wait_with_an_unreachable_prefect_server_is_one_clear_error(home: Path) -> None:
    """In a process of its own: this test process may hold the Prefect test server's settings."""
    invoke("init", "--sample")
    env = {
        **os.environ,
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
        "PREFECT_CLIENT_MAX_RETRIES": "0",
    }
    result = subprocess.run(
        [
            Path(sys.executable).parent / "promptloop",
            "change",
            "submit",
            "--file",
            str(SAMPLES / "support-triage-change.yaml"),
            "--as",
            "maya",
            "--wait",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stderr  # an outage (of Prefect), not bad input
    assert "(PREFECT_API_URL) does not answer" in result.stderr
    assert "change 1 stays submitted" in result.stderr
    assert "retry with `promptloop change evaluate 1`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert invoke("change", "show", "1", "--json").json()["state"] == "submitted"
    shown = invoke("change", "show", "1").stdout
    assert "the evaluation could not run" in shown and "promptloop change evaluate 1" in shown


def test_a_change_is_not_evaluated_twice_at_once(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A live flow run already evaluating the change: refused; --force overrides a dead one."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    from integrations.db import session_scope
    from roles.states import State
    from roles.transitions import get_change, transition

    @flow(name="stand-in-evaluation")
    def stand_in() -> None:
        pass

    async def live_run() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(stand_in, state=Running())
        return str(run.id)

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        change_id = _submit()
        with session_scope() as session:
            transition(session, change_id=change_id, target=State.EVALUATING, actor="promptloop")
            get_change(session, change_id).flow_run_id = asyncio.run(live_run())
        refused = invoke("change", "evaluate", str(change_id), "--wait")
        assert refused.code == 1 and "already in its pipeline" in refused.stderr
        assert server.requests_received == 0
        forced = invoke("change", "evaluate", str(change_id), "--wait", "--force")
        assert forced.code == 0, forced.stderr
        assert invoke("change", "show", str(change_id), "--json").json()["state"] == "in_review"


def test_the_author_cannot_loosen_the_gate_that_judges_their_change(
    prefect_api, monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A candidate that drops its suite is still judged by production's suite."""
    with FakeOpenAIServer(responder=judge_aware(worse_candidate)) as server:
        point_at(server, monkeypatch)
        invoke("init", "--sample")
        text = (SAMPLES / "support-triage-change.yaml").read_text()
        (tmp_path / "loose.yaml").write_text(text.split("suite:")[0] + "suite: {scorers: []}\n")
        change = invoke(
            "change", "submit", "--file", str(tmp_path / "loose.yaml"), "--as", "maya", "--json"
        ).json()
        assert _evaluate(change["id"]) == "eval_failed"
        last = invoke("change", "show", str(change["id"]), "--json").json()["history"][-1]
        assert "FAIL: target correct" in last["note"]
        assert any("judged by production's suite" in r for r in last["payload"]["reasons"])


def test_a_withdrawn_change_stops_its_evaluation(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading

    from integrations.db import session_scope
    from roles.pm import withdraw_change

    with FakeOpenAIServer(latency_s=0.2, responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch, PROMPTLOOP_CONCURRENCY="2")
        change_id = _submit()

        def withdraw_soon() -> None:
            deadline = time.monotonic() + 30
            while server.requests_received < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            with session_scope() as session:
                withdraw_change(session, change_id=change_id, author="maya", note="never mind")

        withdrawer = threading.Thread(target=withdraw_soon)
        withdrawer.start()
        assert _evaluate(change_id) == "withdrawn"
        withdrawer.join()
        assert server.requests_received < 30  # stopped well before the 60+ calls of a full run


def test_a_finished_baseline_is_reused_only_from_the_same_endpoint(
    prefect_api, monkeypatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    def baseline_of(change_id: int) -> int:
        history = invoke("change", "show", str(change_id), "--json").json()["history"]
        return int(history[-1]["payload"]["baseline_run"])

    def submit_variant(suffix: str) -> int:
        text = (SAMPLES / "support-triage-change.yaml").read_text()
        path = tmp_path / f"{suffix}.yaml"
        path.write_text(text.replace("Category:", f"Category ({suffix}):"))
        result = invoke("change", "submit", "--file", str(path), "--as", "maya", "--json")
        assert result.code == 0, result.stderr
        return int(result.json()["id"])

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        first = _submit()
        _evaluate(first)
        second = submit_variant("again")
        before = server.requests_received
        _evaluate(second)
        assert baseline_of(second) == baseline_of(first)  # same endpoint: reused
        assert server.requests_received - before <= 60  # only the candidate was paid for
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as other:
        point_at(other, monkeypatch)
        third = submit_variant("elsewhere")
        _evaluate(third)
        assert baseline_of(third) != baseline_of(first)  # another endpoint: run again


def test_a_lost_pipeline_run_does_not_block_a_new_evaluation(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The change names a run this Prefect server does not know (another server, deleted):
    `change evaluate` starts a new one rather than waiting for it forever."""
    from integrations.db import session_scope
    from roles.states import State
    from roles.transitions import get_change, transition

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        change_id = _submit()
        with session_scope() as session:
            transition(session, change_id=change_id, target=State.EVALUATING, actor="promptloop")
            get_change(session, change_id).flow_run_id = "00000000-0000-0000-0000-000000000000"
        resumed = invoke("change", "evaluate", str(change_id), "--wait")
        assert resumed.code == 0, resumed.stderr
        assert invoke("change", "show", str(change_id), "--json").json()["state"] == "in_review"


def test_wait_in_an_outage_is_one_true_sentence_and_exit_4(prefect_api, home: Path) -> None:
    """`change submit --wait` with the model endpoint down: no traceback, the change stays
    evaluating (and says so), exit 4; `change show` names the error."""
    invoke("init", "--sample")
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # nothing listens there
        "PROMPTLOOP_MAX_RETRIES": "0",
    }
    result = subprocess.run(
        [
            Path(sys.executable).parent / "promptloop",
            "change", "submit", "--file", str(SAMPLES / "support-triage-change.yaml"),
            "--as", "maya", "--wait",
        ],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "change 1 stays evaluating" in error[0] and "connection error" in error[0]
    assert "promptloop change evaluate 1 --wait" in error[0]
    assert invoke("change", "show", "1", "--json").json()["state"] == "evaluating"


def test_an_eval_failed_verdict_from_an_outage_can_be_evaluated_again_by_its_author(
    prefect_api, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A ledger from before outages were told apart: the change went eval_failed on runs
    now marked outage. Its author (only) may evaluate it again."""
    from sqlmodel import select

    from integrations.db import session_scope
    from roles.ledger import EvalRun

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch, PROMPTLOOP_MAX_OUTAGE_SHARE="1")  # as the old code did
        server.fail(500, times=1000, match=r"Category:\s*$")
        change_id = _submit()
        assert _evaluate(change_id) == "eval_failed"  # on error rate, from an outage
        refused = invoke("change", "evaluate", str(change_id))
        assert refused.code == 1 and "only submitted or evaluating" in refused.stderr
        with session_scope() as session:  # what migration 0003 does to such runs
            for run in session.exec(select(EvalRun).where(EvalRun.purpose == "candidate")):
                run.status = "outage"
                session.add(run)
        asked = invoke("change", "evaluate", str(change_id))
        assert asked.code == 2 and "--as AUTHOR" in asked.stderr
        stranger = invoke("change", "evaluate", str(change_id), "--as", "lee")
        assert stranger.code == 1 and "only the author" in stranger.stderr
        server.recover()
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        again = invoke("change", "evaluate", str(change_id), "--as", "maya", "--wait")
        assert again.code == 0, again.stderr
        shown = invoke("change", "show", str(change_id), "--json").json()
        assert shown["state"] == "in_review"
        back = [h for h in shown["history"] if h["from_state"] == "eval_failed"]
        assert back and "the verdict came from an outage" in back[0]["note"]


def test_two_ledgers_name_their_flow_runs_apart(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from integrations.settings import get_settings

    tags = set()
    for name in ("a", "b"):
        monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", f"sqlite:///{tmp_path / name}.db")
        get_settings.cache_clear()
        tags.add(ledger_tag())
    assert len(tags) == 2
