"""The regression sweep on a real Prefect test server, the real openai SDK and a local
OpenAI-compatible server whose answers drift: a drift is alerted once, a recovery is
announced, an outage is no regression, the cache is not read, and several prompts share
one model concurrency — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, invoke, judge_aware, point_at
from test_evaluate_change import ANSWERS, ticket_of

pytestmark = pytest.mark.prefect


def right(body: dict[str, Any]) -> str:
    return ANSWERS.get(ticket_of(body), "billing")


def drifted(body: dict[str, Any]) -> str:
    return "account"  # the model behind the name changed: a third of the tickets right


def sweep(**params: Any) -> Any:
    """One run of the flow in this process; its final state."""
    from flows.regression_sweep import regression_sweep

    return asyncio.run(regression_sweep(return_state=True, **params))  # type: ignore[call-overload]


def verdicts(state: Any) -> list[tuple[str, str, bool]]:
    return [(v["prompt"], v["verdict"], v["alert_id"] is not None) for v in state.result()]


def alerts() -> list[dict[str, Any]]:
    """The sweeps' messages in the outbox, oldest first (blocks included)."""
    from sqlmodel import col, select

    from integrations.db import session_scope
    from roles.ledger import OutboxMessage

    with session_scope() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.key).startswith("sweep:"))
            .order_by(col(OutboxMessage.id))
        )
        return [m.model_dump() for m in rows]


def test_a_drift_is_alerted_once_and_its_recovery_announced(
    prefect_api: str, ledger: str, monkeypatch: Any
) -> None:
    with FakeOpenAIServer(responder=judge_aware(right)) as server:
        point_at(server, monkeypatch)
        assert invoke("init", "--sample").code == 0
        first = sweep()
        assert verdicts(first) == [("support-triage", "no_baseline", False)]
        assert first.name == "Ok"
        reasons = first.result()[0]["reasons"]
        assert reasons[0].startswith("no baseline: no deploy accepted this version"), reasons

        server.responder = judge_aware(drifted)
        before = server.requests_received
        second = sweep()
        # the cache holds every answer of the first sweep: none of them was read
        assert server.requests_received - before == 60  # 30 answers + 30 judge calls
        run = invoke("eval", "show", str(second.result()[0]["eval_run_id"]), "--json").json()
        assert (run["cache_hits"], run["model_calls"], run["purpose"]) == (0, 60, "sweep")
        assert verdicts(second) == [("support-triage", "regression", True)]
        assert second.name == "Regression"
        view = second.result()[0]
        assert view["baseline_run_id"] == first.result()[0]["eval_run_id"]
        assert view["baseline_source"] == "sweep"
        assert any(r.startswith("FAIL: target correct") for r in view["reasons"]), view["reasons"]

        third = sweep()  # still drifted: a row, no second alert
        assert verdicts(third) == [("support-triage", "regression", False)]
        assert third.result()[0]["baseline_run_id"] == view["baseline_run_id"]
        assert len(alerts()) == 1

        server.responder = judge_aware(right)
        fourth = sweep()
        assert verdicts(fourth) == [("support-triage", "recovered", True)]
        steady = sweep()
        assert verdicts(steady) == [("support-triage", "ok", False)]
        reasons = steady.result()[0]["reasons"]
        assert not any("review" in r for r in reasons), reasons  # a sweep has no change to review

    sent = alerts()
    assert [m["text"].split(":")[0] for m in sent] == ["Regression", "Recovered"]
    assert {m["channel"] for m in sent} == {"#alerts"}  # no Slack: the terminal's label
    body = json.dumps(sent[0]["blocks"], ensure_ascii=False)
    assert "correct: 1 → 0.333" in body and "Prefect run" in body, body
    assert "slice 'billing' regressed: correct: 1 → 0" in body  # the slices that moved
    assert "latency_s" not in body  # a metric the gate does not name is no news
    listed = invoke("sweep", "list", "--json").json()
    assert [v["verdict"] for v in listed] == [
        "ok", "recovered", "regression", "regression", "no_baseline",
    ]  # fmt: skip
    shown = invoke("sweep", "show", str(listed[3]["id"]), "--json").json()
    assert shown["alert_id"] == sent[0]["id"] and shown["flow_run_id"]
    text = invoke("sweep", "show", str(listed[3]["id"]))
    assert text.code == 0 and "FAIL: target correct" in text.stdout


def test_an_outage_is_recorded_as_such_and_said_once_not_as_a_regression(
    prefect_api: str, ledger: str, monkeypatch: Any
) -> None:
    server = FakeOpenAIServer(responder=judge_aware(right)).start()
    point_at(server, monkeypatch)
    assert invoke("init", "--sample").code == 0
    try:
        assert verdicts(sweep()) == [("support-triage", "no_baseline", False)]
    finally:
        server.stop()  # the endpoint is down
    down = sweep()
    assert verdicts(down) == [("support-triage", "outage", True)]
    assert down.name == "Outage"
    assert "connection error" in down.result()[0]["reasons"][0], down.result()[0]["reasons"]
    assert verdicts(sweep()) == [("support-triage", "outage", False)]  # said once
    sent = alerts()
    assert [m["text"].split(":")[0] for m in sent] == ["Outage"]


def _three_prompts(tmp_path: Path) -> None:
    """The sample prompt and two copies, each with production on its version 1."""
    assert invoke("init", "--sample").code == 0
    text = (SAMPLES / "support-triage.yaml").read_text()
    for name in ("triage-two", "triage-three"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("name: support-triage", f"name: {name}"))
        assert invoke("prompt", "push", str(path), "--as", "lee").code == 0
        moved = invoke("prompt", "label", name, "production", "--version", "1", "--as", "lee")
        assert moved.code == 0, moved.stderr


def test_three_prompts_share_one_model_concurrency(
    prefect_api: str, monkeypatch: Any, tmp_path: Path
) -> None:
    with FakeOpenAIServer(responder=judge_aware(right), latency_s=0.05) as server:
        point_at(server, monkeypatch)
        _three_prompts(tmp_path)
        server.reset_counts()
        state = sweep(concurrency=4)
        assert sorted(verdicts(state)) == [
            ("support-triage", "no_baseline", False),
            ("triage-three", "no_baseline", False),
            ("triage-two", "no_baseline", False),
        ]
        # 3 prompts × 4 workers each would put 12 in flight; the limit is shared
        assert server.max_in_flight == 4, server.max_in_flight
        assert server.stats()["chat_requests"] == 180
        runs = [
            invoke("eval", "show", str(v["eval_run_id"]), "--json").json() for v in state.result()
        ]
        assert [r["model_calls"] for r in runs] == [60, 60, 60]  # each run counts its own


def test_a_disabled_prompt_is_left_out_unless_named(
    prefect_api: str, monkeypatch: Any, tmp_path: Path
) -> None:
    with FakeOpenAIServer(responder=judge_aware(right)) as server:
        point_at(server, monkeypatch)
        assert invoke("init", "--sample").code == 0
        text = (SAMPLES / "support-triage.yaml").read_text()
        path = tmp_path / "quiet.yaml"
        path.write_text(
            text.replace("name: support-triage", "name: quiet").replace(
                "suite:\n", "suite:\n  sweep: {enabled: false}\n", 1
            )
        )
        assert invoke("prompt", "push", str(path), "--as", "lee").code == 0
        assert invoke("prompt", "label", "quiet", "production", "-v", "1", "--as", "lee").code == 0
        assert [v[0] for v in verdicts(sweep())] == ["support-triage"]
        assert [v[0] for v in verdicts(sweep(prompt="quiet"))] == ["quiet"]


def test_bad_requests_are_one_sentence_and_exit_2(cli: Any, tmp_path: Path) -> None:
    assert invoke("init", "--sample").code == 0
    unknown = invoke("sweep", "--prompt", "nope")
    assert unknown.code == 2 and "nope" in unknown.stderr, unknown.stderr
    path = tmp_path / "draft.yaml"
    path.write_text((SAMPLES / "support-triage.yaml").read_text().replace(
        "name: support-triage", "name: draft"))  # fmt: skip
    assert invoke("prompt", "push", str(path), "--as", "lee").code == 0
    draft = invoke("sweep", "--prompt", "draft")
    assert draft.code == 2 and "has no 'production' label" in draft.stderr, draft.stderr
    missing = invoke("sweep", "show", "99")
    assert missing.code == 2 and "no sweep 99" in missing.stderr
    assert invoke("sweep", "list", "--json").json() == []


def test_the_schedule_setting_is_checked_and_off_means_none(monkeypatch: Any) -> None:
    from integrations.settings import get_settings
    from integrations.sweeps import sweep_schedule
    from roles.errors import InputError

    assert sweep_schedule().cron == "0 6 * * *" and sweep_schedule().timezone == "UTC"
    monkeypatch.setenv("PROMPTLOOP_SWEEP_CRON", "off")
    get_settings.cache_clear()
    assert sweep_schedule() is None
    monkeypatch.setenv("PROMPTLOOP_SWEEP_CRON", "61 6 * * *")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="PROMPTLOOP_SWEEP_CRON='61 6 \\* \\* \\*' is not a valid cron"):
        sweep_schedule()


def test_alerts_go_to_the_alerts_channel_else_the_deploy_channel(monkeypatch: Any) -> None:
    from integrations.settings import get_settings
    from integrations.slack.post import alerts_channel

    assert alerts_channel() == "#alerts"  # no Slack: the terminal's label
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("PROMPTLOOP_SLACK_DEPLOY_CHANNEL", "C0DEPLOY")
    get_settings.cache_clear()
    assert alerts_channel() == "C0DEPLOY"
    monkeypatch.setenv("PROMPTLOOP_SLACK_ALERTS_CHANNEL", "C0ALERTS")
    get_settings.cache_clear()
    assert alerts_channel() == "C0ALERTS"


def test_sweeps_concluding_at_once_alert_once(
    prefect_api: str, ledger: str, monkeypatch: Any
) -> None:
    """Eight sweeps of a regressed prompt conclude at the same moment (a scheduled sweep and
    people running `promptloop sweep`): eight rows, one alert."""
    import threading

    from integrations.sweeps import conclude_sweep
    from roles.sweep.targets import sweep_targets

    with FakeOpenAIServer(responder=judge_aware(right)) as server:
        point_at(server, monkeypatch)
        assert invoke("init", "--sample").code == 0
        assert verdicts(sweep()) == [("support-triage", "no_baseline", False)]
        server.responder = judge_aware(drifted)
        ran = invoke("eval", "run", "support-triage", "--no-cache", "--json")
        assert ran.code == 0, ran.stderr
    run_id = ran.json()["id"]
    from integrations.db import session_scope

    with session_scope() as session:
        [target] = sweep_targets(session)
    barrier, views, errors = threading.Barrier(8), [], []

    def conclude() -> None:
        barrier.wait()
        try:
            views.append(conclude_sweep(target, run_id=run_id, flow_run_id=None, run_url=None))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=conclude) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [v["verdict"] for v in views] == ["regression"] * 8
    assert len(alerts()) == 1
    assert {v["alert_id"] for v in views} - {None} == {alerts()[0]["id"]}


def test_a_suite_asking_for_its_own_cron_is_told_where_the_schedule_is(
    cli: Any, tmp_path: Path
) -> None:
    assert invoke("init", "--sample").code == 0
    path = tmp_path / "cron.yaml"
    text = (SAMPLES / "support-triage.yaml").read_text()
    path.write_text(text.replace("suite:\n", "suite:\n  sweep: {cron: '0 * * * *'}\n", 1))
    pushed = invoke("prompt", "push", str(path), "--as", "lee")
    assert pushed.code == 2 and "suite.sweep" in pushed.stderr, pushed.stderr
    assert "PROMPTLOOP_SWEEP_CRON sets when every prompt is swept" in pushed.stderr
