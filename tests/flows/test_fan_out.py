"""Eval fan-out through prefect-dask: a local Dask cluster of two worker processes runs a
change's evaluation in slices, on a real Prefect test server, the real openai SDK against
a local fake endpoint, and the ledger on SQLite and PostgreSQL. The scores, counts and
verdict are the default runner's; an outage in the slices is still an outage."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import invoke, judge_aware, point_at, submit_sample
from test_evaluate_change import sharper_candidate

from integrations.db import ledger_tag

pytestmark = pytest.mark.prefect

TWO_WORKERS = {"PROMPTLOOP_DASK_WORKERS": "2", "PROMPTLOOP_DASK_MIN_ITEMS": "1"}


def _evaluate(change_id: int) -> Any:
    from flows.evaluate_change import evaluate_change

    return asyncio.run(evaluate_change(change_id, prompt="support-triage", return_state=True))


def _runs(change_id: int) -> dict[str, dict[str, Any]]:
    """The change's two eval runs as `eval show --json` prints them, by side."""
    payload = invoke("change", "show", str(change_id), "--json").json()["history"][-1]["payload"]
    return {
        side: invoke("eval", "show", str(payload[f"{side}_run"]), "--json").json()
        for side in ("baseline", "candidate")
    }


def _measured(run: dict[str, Any]) -> dict[str, Any]:
    """What a run found and paid, but for how long its calls took (``latency_s``)."""
    keys = ("status", "items", "errors", "model_calls", "input_tokens", "output_tokens")
    scores = {k: v for k, v in run["scores"].items() if k != "latency_s"}
    return {**{key: run[key] for key in keys}, "scores": scores}


def _item_scores(run_id: int) -> dict[str, dict[str, Any]]:
    """Every item's answer and scores (but its latency), as recorded."""
    from integrations.db import session_scope
    from roles.evaluation.records import load_results

    with session_scope() as session:
        results = load_results(session, run_id=run_id)
    return {
        r.sample.item_id: {
            "output": r.sample.output,
            **{m: s.value for m, s in r.scores.items() if m != "latency_s"},
        }
        for r in results
    }


def _in_own_home(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.db import reset_engines
    from integrations.settings import get_settings

    monkeypatch.setenv("PROMPTLOOP_HOME", str(path))
    monkeypatch.delenv("PROMPTLOOP_DATABASE_URL", raising=False)
    reset_engines()
    get_settings.cache_clear()


def _task_runs(flow_run_name: str) -> list[tuple[str, str]]:
    """The task runs of the flow run named ``flow_run_name``: (name, state), sorted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name]))
        )
        tasks = client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run.id]))
        )
    return sorted((t.name, t.state.name if t.state else "?") for t in tasks)


def test_two_dask_workers_give_the_default_runner_s_scores(
    prefect_api: str, ledger: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        fixture_home = Path(os.environ["PROMPTLOOP_HOME"])
        fixture_url = os.environ.get("PROMPTLOOP_DATABASE_URL")
        # The default runner, in a home (and SQLite ledger) of its own.
        _in_own_home(tmp_path / "default-runner", monkeypatch)
        point_at(server, monkeypatch)
        default_change = int(submit_sample()["id"])
        assert _evaluate(default_change).result() == "in_review"
        default = _runs(default_change)
        default_items = {side: _item_scores(run["id"]) for side, run in default.items()}

        # The same change on the test's ledger, fanned out to two Dask worker processes.
        _in_own_home(fixture_home, monkeypatch)
        if fixture_url:
            monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", fixture_url)
        point_at(server, monkeypatch, **TWO_WORKERS)
        change_id = int(submit_sample()["id"])
        assert _evaluate(change_id).result() == "in_review"
        spread = _runs(change_id)
        spread_items = {side: _item_scores(run["id"]) for side, run in spread.items()}

    for side in ("baseline", "candidate"):
        assert _measured(spread[side]) == _measured(default[side]), side
        assert spread_items[side] == default_items[side] and len(spread_items[side]) == 30
        assert spread[side]["settings"]["runner"] == "dask, 2 slices"
        assert "runner" not in default[side]["settings"]
        assert spread[side]["items"] == 30 and spread[side]["errors"] == 0
        run_id = spread[side]["id"]
        assert _task_runs(f"{side}-fan-out-run-{run_id}-{ledger_tag()}") == [
            (f"{side}-slice-1", "Completed"),
            (f"{side}-slice-2", "Completed"),
        ]
    assert spread["candidate"]["scores"]["correct"]["mean"] == 1.0


def test_an_outage_in_the_slices_is_an_outage(
    prefect_api: str, ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The endpoint fails the candidate's calls: its slices record the failures, the run is
    an outage (no verdict), the change stays evaluating with the error named."""
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch, **TWO_WORKERS)
        server.fail(500, times=1000, match=r"Category:\s*$")  # the candidate's user turn
        change_id = int(submit_sample()["id"])
        final = _evaluate(change_id)
    assert final.is_failed() and final.name == "Outage"
    assert "30/30 items could not be answered" in (final.message or "")
    shown = invoke("change", "show", str(change_id), "--json").json()
    assert shown["state"] == "evaluating"
    assert shown["evaluation_error"]["kind"] == "outage"


def test_small_runs_stay_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.fan_out import dask_runner
    from integrations.settings import get_settings

    assert dask_runner(5000) is None  # nothing configured
    monkeypatch.setenv("PROMPTLOOP_DASK_WORKERS", "3")
    get_settings.cache_clear()
    assert dask_runner(1999) is None  # under PROMPTLOOP_DASK_MIN_ITEMS
    runner, slices = dask_runner(2000) or (None, 0)
    assert slices == 3 and runner.cluster_kwargs["n_workers"] == 3
    monkeypatch.setenv("PROMPTLOOP_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    get_settings.cache_clear()
    runner, slices = dask_runner(2000) or (None, 0)
    assert runner.address == "tcp://10.0.0.5:8786" and slices == 3


def test_a_bad_dask_address_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.settings import get_settings
    from roles.errors import InputError

    monkeypatch.setenv("PROMPTLOOP_DASK_ADDRESS", "10.0.0.5:8786")
    get_settings.cache_clear()
    with pytest.raises(InputError) as raised:
        get_settings()
    assert (  # what the setting takes, not its regular expression
        "PROMPTLOOP_DASK_ADDRESS='10.0.0.5:8786' is not of the form it takes: "
        "a Dask scheduler (tcp://host:8786)" in raised.value.message
    )


def test_a_worker_on_another_ledger_refuses_the_slice(ledger: str) -> None:
    """A slice names its run by id, start time and suite: a worker whose ledger has no such
    run (another PROMPTLOOP_DATABASE_URL) says so instead of writing anywhere."""
    from integrations.eval_slice import run_slice
    from roles.errors import InputError

    assert invoke("init", "--sample").code == 0
    with pytest.raises(InputError, match="eval run 1 is not in this Dask worker's ledger"):
        asyncio.run(
            run_slice("1/2026-01-01T00:00:00+00:00/abc", 0, 10, concurrency=4, no_cache=True)
        )


def test_a_scheduler_that_does_not_answer_is_an_outage(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROMPTLOOP_DASK_ADDRESS names a port nothing listens on: the evaluation fails as an
    outage that names the address, the change stays evaluating, nothing is judged."""
    import socket

    probe = socket.socket()  # bound, never listening: refused, and no one else can take it
    probe.bind(("127.0.0.1", 0))
    address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    with probe, FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch, PROMPTLOOP_DASK_ADDRESS=address, **TWO_WORKERS)
        change_id = int(submit_sample()["id"])
        final = _evaluate(change_id)
        assert server.requests_received == 0
    assert final.is_failed() and final.name == "Outage"
    assert f"Dask at {address} did not answer" in (final.message or "")
    shown = invoke("change", "show", str(change_id), "--json").json()
    assert shown["state"] == "evaluating"
    assert shown["evaluation_error"]["kind"] == "outage"
