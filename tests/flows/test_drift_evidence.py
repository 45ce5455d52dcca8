"""A drifted answer never becomes evidence later: the whole sequence a new user met, on a real
Prefect test server, the real openai SDK and a local OpenAI-compatible server that drifts and
recovers.

a first sweep sets the reference → production evaluated → the endpoint drifts → a sweep alerts → the endpoint recovers → the
next change's gate is judged against healthy production (not the sweep's run), and
``eval run --label production`` calls the model again (the drifted snapshot's cache entries
are gone, and the sweep wrote none) and scores the healthy level — on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, invoke, judge_aware, point_at
from test_evaluate_change import ANSWERS, ticket_of

pytestmark = pytest.mark.prefect


def healthy(body: dict[str, Any]) -> str:
    return ANSWERS.get(ticket_of(body), "billing")  # production and the candidate alike


def drifted(body: dict[str, Any]) -> str:
    return "account"  # the model behind the name changed: a third of the tickets right


def test_a_drifted_answer_never_becomes_a_baseline_or_a_cached_answer(
    prefect_api: str, ledger: str, monkeypatch: Any
) -> None:
    from flows.evaluate_change import evaluate_change
    from flows.regression_sweep import regression_sweep

    with FakeOpenAIServer(responder=judge_aware(healthy)) as server:
        point_at(server, monkeypatch)
        server.snapshot = "model-2026-06"
        assert invoke("init", "--sample").code == 0
        reference = asyncio.run(regression_sweep(return_state=True))  # type: ignore[call-overload]
        assert [v["verdict"] for v in reference.result()] == ["no_baseline"]
        first = invoke("eval", "run", "support-triage", "--label", "production", "--json")
        assert first.code == 0, first.stderr
        assert first.json()["scores"]["correct"]["mean"] == 1.0

        server.responder, server.snapshot = judge_aware(drifted), "model-2026-12"
        swept = asyncio.run(regression_sweep(return_state=True))  # type: ignore[call-overload]
        [view] = swept.result()
        assert (swept.name, view["verdict"], view["alert_id"] is not None) == (
            "Regression", "regression", True,
        )  # fmt: skip
        assert view["cache_invalidated"] >= 60  # production's 30 answers and 30 judge calls
        sweep_run = view["eval_run_id"]
        shown = invoke("eval", "show", str(sweep_run), "--json").json()
        assert round(shown["scores"]["correct"]["mean"], 3) == round(10 / 30, 3)

        # Nothing production answered before the drift was found is evidence now: not the
        # sweep's run, not the eval run answered since the last good sweep.
        assert _reusable(sweep_run) is None

        server.responder, server.snapshot = judge_aware(healthy), "model-2026-06"  # recovered
        before = server.requests_received
        again = invoke("eval", "run", "support-triage", "--label", "production", "--json")
        assert again.code == 0, again.stderr
        run = again.json()
        # production's answers were removed from the cache with the drift (answered after
        # the last good sweep) and the sweep stored none: the model is asked again
        assert run["model_calls"] >= 30 and server.requests_received - before >= 30
        assert run["scores"]["correct"]["mean"] == 1.0

        submitted = invoke(
            "change", "submit", "--file", str(SAMPLES / "support-triage-change.yaml"),
            "--as", "maya", "--json",
        )  # fmt: skip
        assert submitted.code == 0, submitted.stderr
        change_id = int(submitted.json()["id"])
        asyncio.run(evaluate_change(change_id, prompt="support-triage"))
        change = invoke("change", "show", str(change_id), "--json").json()
        verdict = next(h for h in change["history"] if "baseline_run" in (h["payload"] or {}))
        payload = verdict["payload"]
        assert payload["baseline_run"] == run["id"]  # the healthy run, not the sweep's
        # a candidate equal to production has not improved
        assert not any("must improve: improved" in r for r in payload["reasons"]), payload[
            "reasons"
        ]

    from integrations.llm import RequestCache
    from integrations.settings import get_settings

    cache = RequestCache(get_settings().home / "cache.sqlite")
    try:
        entries = cache.entries()
    finally:
        cache.close()
    # each entry names the snapshot and the time it came from; none is a drifted answer
    assert entries and {e.snapshot for e in entries} == {"model-2026-06"}
    assert all(e.scope == server.base_url and e.created_at for e in entries)


def _reusable(run_id: int) -> int | None:
    """The run a change of production would reuse as its baseline now (run ``run_id``'s
    version, dataset, model, suite and endpoint)."""
    from integrations.db import session_scope
    from roles.evaluation.records import get_run, reusable_run

    with session_scope() as session:
        run = get_run(session, run_id)
        found = reusable_run(
            session,
            version_id=run.prompt_version_id,
            dataset_id=run.dataset_id,
            model=run.model,
            suite_hash=run.suite_hash,
            endpoint=run.settings["endpoint"],
        )
        return found.id if found else None
