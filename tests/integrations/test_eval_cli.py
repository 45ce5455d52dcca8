"""`promptloop eval` end to end: the real openai SDK against a local OpenAI-compatible
server, the ledger on SQLite and PostgreSQL, the cache, a killed run resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import judge_aware, point_at

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


def test_eval_run_records_and_caches(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        assert cli("init", "--sample").code == 0
        first = cli("eval", "run", "support-triage", "--json")
        assert first.code == 0, first.stderr
        run = first.json()
        assert set(run) >= RUN_KEYS
        # 30 answers and 30 judge calls (the sample suite has an LLM judge)
        counts = (run["items"], run["errors"], run["model_calls"], run["cache_hits"])
        assert counts == (30, 0, 60, 0)
        assert run["scores"]["correct"]["mean"] == pytest.approx(10 / 30)
        assert run["scores"]["judge_correct"]["mean"] == 1.0
        assert run["status"] == "finished" and run["tokens"] > 0

        warm = cli("eval", "run", "support-triage", "--json").json()
        assert (warm["model_calls"], warm["cache_hits"]) == (0, 60)
        assert server.requests_received == 60
        fresh = cli("eval", "run", "support-triage", "--no-cache", "--json").json()
        assert fresh["model_calls"] == 60 and server.requests_received == 120

        compared = cli("eval", "compare", str(run["id"]), str(warm["id"]), "--json").json()
        # identical runs: nothing regressed, but no gain is shown: inconclusive, not a pass
        assert compared["outcome"] == "inconclusive"
        assert any(r.startswith("INCONCLUSIVE: target correct") for r in compared["reasons"])
        rows = {(r["metric"], r["slice"]): r for r in compared["comparisons"]}
        assert rows[("correct", "all")]["diff"] == 0
        assert cli("eval", "show", str(run["id"]), "--json").json()["id"] == run["id"]


def test_server_errors_on_some_items_are_an_outage_and_the_rerun_pays_for_the_rest(
    cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(
            server, monkeypatch, PROMPTLOOP_MAX_RETRIES="1", PROMPTLOOP_RETRY_BASE_DELAY_S="0.01"
        )
        cli("init", "--sample")
        server.fail(
            500, times=10, match="charge|refund|invoice|receipt|billed"
        )  # some items, twice each
        result = cli("eval", "run", "support-triage", "--json")
        assert result.code == 4, result.stderr  # 5 of 30 lost to the endpoint: no evidence
        run = result.json()
        assert run["status"] == "outage" and run["items"] == 30
        assert 0 < run["errors"] == run["outage_items"] < 30
        assert f"{run['outage_items']}/30 items could not be answered" in run["failure"]
        again = cli("eval", "run", "support-triage", "--json")  # faults used up
        assert again.code == 0, again.stderr
        # only the failed answers are asked again, plus the judge on each of them
        assert again.json()["errors"] == 0
        assert again.json()["model_calls"] == 2 * run["errors"]


def test_an_outage_share_within_policy_finishes_with_the_errors_counted(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch, PROMPTLOOP_MAX_OUTAGE_SHARE="0.5")
        cli("init", "--sample")
        server.fail(500, times=5, match="charge|refund|invoice|receipt|billed")
        result = cli("eval", "run", "support-triage", "--json")
        assert result.code == 0, result.stderr
        run = result.json()
        assert run["status"] == "finished" and 0 < run["outage_items"] == run["errors"]
        assert run["scores"]["error_rate"]["mean"] == pytest.approx(run["errors"] / 30)


def test_unknown_prompt_and_missing_dataset_are_clear(cli) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    missing = cli("eval", "run", "nope")
    assert missing.code == 2 and "no prompt named 'nope'" in missing.stderr
    other = cli("eval", "run", "support-triage", "--dataset", "absent")
    assert other.code == 2 and "no dataset 'absent'" in other.stderr


def _run_until(server: FakeOpenAIServer, requests: int) -> subprocess.Popen[bytes]:
    """`promptloop eval run` in a process of its own, once it has sent ``requests`` calls."""
    from support import invoke

    assert invoke("init", "--sample").code == 0
    exe = Path(sys.executable).parent / "promptloop"
    process = subprocess.Popen(
        [exe, "eval", "run", "support-triage", "--concurrency", "2", "--json"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while server.requests_received < requests and time.monotonic() < deadline:
        time.sleep(0.05)
    return process


def test_a_killed_run_looks_incomplete_and_the_rerun_pays_only_for_the_rest(
    ledger: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import invoke

    with FakeOpenAIServer(latency_s=0.3, responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        process = _run_until(server, 16)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        paid_before = server.requests_received

        from sqlmodel import Session, func, select

        from integrations.db import get_engine
        from roles.ledger import EvalResult, EvalRun

        with Session(get_engine()) as session:
            (killed,) = session.exec(select(EvalRun)).all()
            recorded = session.exec(select(func.count()).select_from(EvalResult)).one()
        assert killed.status == "running" and killed.finished_at is None
        # its counts are what it had recorded and paid for when it was killed, not zeros
        assert 0 < killed.items == recorded < 30 and killed.model_calls > 0
        shown = invoke("eval", "show", str(killed.id), "--json").json()
        assert shown["status"] == "abandoned"  # its process is gone: nobody will finish it
        assert "[abandoned]" in invoke("eval", "show", str(killed.id)).stdout

        rerun = invoke("eval", "run", "support-triage", "--json").json()
        assert rerun["status"] == "finished" and rerun["items"] == 30
        # answers and judge verdicts paid before the kill come from the cache
        assert rerun["cache_hits"] >= paid_before - 2  # calls in flight at the kill may be lost
        assert rerun["model_calls"] + rerun["cache_hits"] == 60


def test_an_interrupted_run_says_what_it_spent(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support import Held, invoke

    held = Held(judge_aware(lambda body: "billing"), free=8)  # then the run waits on us
    with FakeOpenAIServer(responder=held) as server:
        try:
            point_at(server, monkeypatch, PROMPTLOOP_PRICES='{"smollm2-135m": [1000, 1000]}')
            process = _run_until(server, 0)
            assert held.holding.wait(60), process.communicate(timeout=60)
            process.send_signal(signal.SIGINT)  # Ctrl-C, surely mid-run
            assert process.wait(timeout=30) == 130
        finally:
            held.release()
    shown = invoke("eval", "show", "1", "--json").json()
    assert shown["status"] == "failed" and shown["failure"] == "interrupted"
    assert shown["model_calls"] >= 8 and shown["items"] > 0
    assert shown["cost"] > 0  # what it paid before the interruption, not "unknown"


LOCAL_PROMPT = """name: local-check
model: smollm2-135m
dataset: local-items
params: {temperature: 0, max_tokens: 8, seed: 7}
template: "Answer with one word. What colour is {{ thing }}?"
suite:
  judge_model: smollm2-135m
  scorers:
    - {name: contains, args: {ignore_case: true}}
    - name: llm_judge
      args: {rubric: "Is the colour right?", choices: {"yes": 1.0, "no": 0.0}, params: {max_tokens: 48}}
"""


@pytest.mark.local_model
def test_a_real_eval_on_the_embedded_smollm2(tmp_path: Path, local_model: None) -> None:
    """The real local model, started and stopped by promptloop (SQLite; a few items)."""
    from support import invoke

    (tmp_path / "p.yaml").write_text(LOCAL_PROMPT)
    (tmp_path / "d.jsonl").write_text(
        "".join(
            f'{{"id": "{t}", "input": {{"thing": "{t}"}}, "expected": "{c}"}}\n'
            for t, c in [("grass", "green"), ("the sky", "blue"), ("snow", "white")]
        )
    )
    (tmp_path / "team.yaml").write_text("people:\n  - {handle: ana, name: Ana, roles: [pm, admin]}\n")
    assert invoke("team", "sync", str(tmp_path / "team.yaml")).code == 0
    assert invoke("dataset", "push", str(tmp_path / "d.jsonl"), "--name", "local-items").code == 0
    assert invoke("prompt", "push", str(tmp_path / "p.yaml"), "--as", "ana").code == 0
    result = invoke("eval", "run", "local-check", "--json")
    assert result.code == 0, result.stderr
    run = result.json()
    assert run["items"] == 3 and run["errors"] == 0 and run["model_calls"] == 6
    assert run["cost"] == 0.0  # the local model is priced at zero, not unknown
    # A demo-grade judge: every verdict is either a score or an explicit unscored row
    # that keeps the raw answer, never a silent zero.
    from sqlmodel import Session, select

    from integrations.db import get_engine
    from roles.ledger import EvalScore

    with Session(get_engine()) as session:
        verdicts = session.exec(select(EvalScore).where(EvalScore.metric == "llm_judge")).all()
    assert len(verdicts) == 3
    for verdict in verdicts:
        assert verdict.value is not None or (
            verdict.unscored and verdict.reason and verdict.raw_answer
        )


def test_an_endpoint_that_is_down_stops_the_run_early(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call failing through the endpoint, one after another: the run stops instead
    of retrying each remaining item, and says how many were not tried."""
    from support import invoke

    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        server.fail(503, times=1000)
        assert invoke("init", "--sample").code == 0
        result = invoke("eval", "run", "support-triage", "--concurrency", "2", "--json")
        assert result.code == 4, result.stderr
        run = result.json()
        assert run["status"] == "outage" and run["items"] < 30
        assert f"{30 - run['items']} more not tried" in run["failure"]
        assert server.requests_received < 30


def test_eval_list_shows_runs_newest_first(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("eval", "list").stderr.strip() == "no eval runs match"
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        cli("init", "--sample")
        first = cli("eval", "run", "support-triage", "--json").json()["id"]
        second = cli("eval", "run", "support-triage", "--json").json()["id"]
    listed = cli("eval", "list", "--json").json()
    assert [r["id"] for r in listed] == [second, first]
    assert listed[0]["status"] == "finished" and listed[0]["prompt"] == "support-triage"
    assert cli("eval", "list", "--prompt", "nope", "--json").json() == []
    assert cli("eval", "list", "--limit", "1", "--json").json()[0]["id"] == second
