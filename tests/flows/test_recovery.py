"""A pipeline whose process died is found and run again: kill -9 of serve's process group
mid-evaluation, serve started again, and the change's evaluation concludes, with serve
status and the Prefect run saying what happened (a real serve, a real Prefect test server,
the real openai SDK against a slow local fake)."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import (
    invoke,
    judge_aware,
    point_at,
    right_answers,
    serve_log,
    submit_sample,
    wait_until,
)
from test_change_pipeline import flow_run, wait_for

pytestmark = pytest.mark.prefect


def _subflows(parent_id: str) -> list[Any]:
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(parent_id)])
                )
            )
        )


def test_a_pipeline_killed_mid_evaluation_is_run_again_by_the_next_serve(
    prefect_api: str, monkeypatch: Any
) -> None:
    from promptloop.runtime import control

    answered: Counter[str] = Counter()  # each distinct request, how often it was answered
    respond = judge_aware(right_answers)

    def counting(body: dict[str, Any]) -> str:
        answered[json.dumps(body["messages"], sort_keys=True)] += 1
        return respond(body)

    with FakeOpenAIServer(responder=counting, latency_s=0.4) as llm:
        point_at(llm, monkeypatch, PROMPTLOOP_CONCURRENCY="2")
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        change = submit_sample()
        started = invoke("change", "evaluate", str(change["id"]), "--json")
        assert started.code == 0, started.stderr + serve_log()
        first = str(started.json()["flow_run_id"])
        wait_until("the evaluation under way", lambda: llm.requests_received >= 20)
        evaluating = flow_run(first)
        assert evaluating.state.name == "Running"
        assert "promptloop.process" in evaluating.labels  # how serve finds it again
        pid = int(wait_until("serve's record", control.status)["pid"])
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # serve, its runner and the flow process
        wait_until("the serve lock released", lambda: control.status() is None)
        assert flow_run(first).state.name == "Running"  # nobody left to say otherwise
        assert invoke("change", "show", "1", "--json").json()["state"] == "evaluating"

        paid = llm.requests_received
        assert invoke("serve", "--detach").code == 0, serve_log()
        shown = wait_until(
            "the change re-run and reviewed",
            lambda: (
                (s := invoke("change", "show", "1", "--json").json())["state"] == "in_review" and s
            ),
            timeout=240,
        )
        second = shown["flow_run_id"]
        assert second != first
        crashed = flow_run(first)
        assert crashed.state.name == "Crashed" and "is gone" in crashed.state.message
        assert [s.state.name for s in _subflows(first)] == ["Crashed"]  # not Running forever
        rerun = wait_for(second, "Suspended", message="awaiting expert review")
        assert "recovery:1" in rerun.tags
        again = sorted(n for n in answered.values() if n > 1)
        # the answers received before the kill were reused; only those in flight then were
        # asked again (PROMPTLOOP_CONCURRENCY=2: an item's answer and its judge's, at most)
        assert len(again) <= 4 and paid >= 20, (again, paid, llm.requests_received)

        status = invoke("serve", "status", "--json").json()
        said = [r["what"] for r in status["recovered"] if r["change_id"] == 1]
        assert any("crashed: its process" in w for w in said), said
        assert any("re-ran as pipeline run" in w and second in w for w in said), said
        text = invoke("serve", "status").stdout
        assert "recovered " in text and "change 1: re-ran as pipeline run" in text
    history = [h["to_state"] for h in shown["history"]]
    assert history == ["submitted", "evaluating", "in_review"]  # one verdict, no repeat
