"""Behaviour a black-box review asked for: exit codes, clear refusals, per-item views."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, invoke, judge_aware, point_at


def test_eval_show_items_explains_every_score(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(responder=lambda body: "billing") as server:  # judge answers are not JSON
        point_at(server, monkeypatch)
        invoke("init", "--sample")
        run = invoke("eval", "run", "support-triage", "--json").json()
        shown = invoke("eval", "show", str(run["id"]), "--failed", "--limit", "3", "--json").json()
        assert len(shown["results"]) == 3
        judge = shown["results"][0]["scores"]["judge_correct"]
        assert judge["unscored"] and judge["reason"] and judge["raw_answer"] == "billing"
        text = invoke("eval", "show", str(run["id"]), "--items", "--limit", "2").stdout
        assert "judge_correct: unscored" in text and "raw answer: billing" in text


def test_an_endpoint_failing_every_item_is_an_outage_exit_4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOpenAIServer(responder=lambda body: "x") as server:
        point_at(server, monkeypatch)
        invoke("init", "--sample")
        server.fail(500, times=1000)
        result = invoke("eval", "run", "support-triage")
        assert result.code == 4, result.stderr
        assert "eval run 1 is incomplete, outage: 30/30 items could not be answered" in (
            result.stderr
        )
        assert "30 item(s) failed: HTTP 500" in result.stderr
        assert "[outage]" in result.stdout


def test_a_model_that_cannot_be_called_is_refused_up_front(tmp_path: Path) -> None:
    invoke("init", "--sample")
    text = (
        (SAMPLES / "support-triage-change.yaml")
        .read_text()
        .replace("model: smollm2-135m", "model: anthropic/claude-x")
    )
    (tmp_path / "p.yaml").write_text(text)
    assert invoke("prompt", "push", str(tmp_path / "p.yaml"), "--as", "maya").code == 0
    result = invoke("eval", "run", "support-triage", "--version", "2")
    assert result.code == 2 and "ANTHROPIC_API_KEY" in result.stderr
    # checked before anything started: the embedded judge was never launched
    from integrations.settings import get_settings

    assert not (get_settings().home / "local-model.log").exists()


def test_compare_refuses_a_run_against_itself_and_unfinished_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        invoke("init", "--sample")
        run = invoke("eval", "run", "support-triage", "--json").json()
    same = invoke("eval", "compare", str(run["id"]), str(run["id"]))
    assert same.code == 2 and "two different runs" in same.stderr


def test_dataset_show_pages_large_datasets(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"id": "i{n}", "input": {{"q": "{n}"}}}}\n' for n in range(120)))
    assert invoke("dataset", "push", str(path), "--name", "big").code == 0
    table = invoke("dataset", "show", "big")
    assert "and 70 more" in table.stderr
    assert len(invoke("dataset", "show", "big", "--json").json()["items"]) == 120
    assert len(invoke("dataset", "show", "big", "--limit", "5", "--json").json()["items"]) == 5


def test_prompt_push_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("init", "--sample")
    exported = invoke("prompt", "export", "support-triage").stdout
    monkeypatch.setattr(sys, "stdin", io.StringIO(exported.replace("Category (", "Kind (")))
    pushed = invoke("prompt", "push", "-", "--as", "maya", "--json")
    assert pushed.code == 0 and pushed.json()["version"] == 2


def test_server_commands_without_a_server() -> None:
    shown = invoke("server", "status")
    assert shown.code == 1 and "no server running" in shown.stdout
    assert invoke("server", "status", "--json").json()["healthy"] is False
    assert invoke("server", "stop", "--json").json() == {"stopped": False}


def test_ctrl_c_during_an_eval_exits_130_and_keeps_what_was_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support import Held

    held = Held(lambda body: "billing", free=6)  # then the run waits until we release it
    with FakeOpenAIServer(responder=held) as server:
        try:
            point_at(server, monkeypatch)
            invoke("init", "--sample")
            exe = Path(sys.executable).parent / "promptloop"
            process = subprocess.Popen(
                [exe, "eval", "run", "support-triage", "--concurrency", "2"],
                env=dict(os.environ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert held.holding.wait(60), process.communicate(timeout=60)
            process.send_signal(signal.SIGINT)  # surely mid-run: a call is held
            _, err = process.communicate(timeout=60)
        finally:
            held.release()
    assert process.returncode == 130, err
    assert "interrupted" in err
    shown = invoke("eval", "show", "1", "--json").json()
    assert shown["status"] == "failed" and shown["failure"] == "interrupted" and shown["items"] > 0


def test_custom_scorers_run_only_from_allowed_modules(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from integrations.settings import get_settings

    (tmp_path / "team_scorers.py").write_text(
        "from roles.data_scientist import Score\n\n"
        "def short(limit=20):\n"
        "    def score(sample, ctx):\n"
        "        return Score.from_check(len(sample.output or '') <= limit)\n"
        "    return score\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    text = (SAMPLES / "support-triage-change.yaml").read_text().split("suite:")[0]
    (tmp_path / "p.yaml").write_text(text + "suite:\n  scorers:\n    - team_scorers:short\n")
    with FakeOpenAIServer(responder=lambda body: "billing") as server:
        point_at(server, monkeypatch)
        invoke("init", "--sample")
        assert invoke("prompt", "push", str(tmp_path / "p.yaml"), "--as", "maya").code == 0
        monkeypatch.setenv("PROMPTLOOP_CUSTOM_SCORERS", '["approved"]')
        get_settings.cache_clear()
        refused = invoke("eval", "run", "support-triage", "--version", "2")
        assert (
            refused.code == 2
            and "custom scorer 'team_scorers:short' is not allowed" in refused.stderr
        )
        assert server.requests_received == 0
        monkeypatch.setenv("PROMPTLOOP_CUSTOM_SCORERS", '["team_scorers"]')
        get_settings.cache_clear()
        ran = invoke("eval", "run", "support-triage", "--version", "2", "--json")
        assert ran.code == 0, ran.stderr
        assert ran.json()["scores"]["short"]["mean"] == 1.0  # labelled by the function name
