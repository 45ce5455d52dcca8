"""The ledger stops answering in the middle of an evaluation (PostgreSQL refusing every
connection, as when its server is stopped): the pipeline run ends Failed, serve lives on,
and once the ledger answers again the change says why it stayed evaluating and how to
run it again; run again, it concludes (a real serve, a real Prefect test server, the real
openai SDK against a slow local fake)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from support import (
    invoke,
    judge_aware,
    point_at,
    right_answers,
    serve_log,
    submit_sample,
    wait_until,
)
from test_change_pipeline import flow_run

from integrations.db import reset_engines
from integrations.settings import get_settings

pytestmark = [pytest.mark.prefect, pytest.mark.postgres, pytest.mark.slow]


@contextmanager
def refusing_connections(url: str) -> Iterator[None]:
    """The ledger's database refuses every connection (and drops the open ones) inside."""
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_a_ledger_down_mid_evaluation_is_said_on_the_change_once_it_answers(
    prefect_api: str, pg_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", pg_url)
    with FakeOpenAIServer(responder=judge_aware(right_answers), latency_s=0.3) as llm:
        point_at(llm, monkeypatch, PROMPTLOOP_CONCURRENCY="2")
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        get_settings.cache_clear()
        change = submit_sample()
        started = invoke("change", "evaluate", str(change["id"]), "--json")
        assert started.code == 0, started.stderr + serve_log()
        first = str(started.json()["flow_run_id"])
        wait_until("the evaluation under way", lambda: llm.requests_received >= 10)

        with refusing_connections(pg_url):
            ended = wait_until(
                "the run ended", lambda: (r := flow_run(first)).state.is_final() and r
            )
            assert ended.state.is_failed(), ended.state
        reset_engines()  # this process's pool held connections the server dropped

        def explained() -> Any:
            shown = invoke("change", "show", "1", "--json").json()
            return shown if shown.get("evaluation_error") else None

        shown = wait_until("the change saying why", explained)
        assert shown["state"] == "evaluating"
        text_view = invoke("change", "show", "1").stdout
        assert f"pipeline run {ended.name} ended {ended.state.name}" in text_view
        assert "promptloop change evaluate 1" in text_view
        assert invoke("serve", "status").code == 0, serve_log()  # serve lived through it

        again = invoke("change", "evaluate", "1", "--wait", "--json")
        assert again.code == 0, again.stderr + serve_log()
        assert again.json()["state_after_evaluation"] == "in_review"
