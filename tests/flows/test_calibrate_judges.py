"""The calibrate-judges flow on the real Prefect test server: records, the table artifact,
the Slack notice when a judge's trust changes, and `promptloop judge calibrate`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from calibration_support import production_version, reviewed_change, sample_judge_id, scored_run
from calibration_support import vote as cast
from sqlmodel import Session, select
from support import invoke, serve_log

from integrations.db import get_engine, ledger_tag
from roles.datasets import parse_jsonl_text, push_dataset
from roles.ledger import CalibrationRecord, OutboxMessage

pytestmark = pytest.mark.prefect


def _artifact(key: str) -> Any:
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_latest_artifacts()

    return next((a for a in asyncio.run(read()) if a.key == key), None)


def _labelled_dataset(session: Session, n: int = 40) -> None:
    """``n`` labelled items, half fail; a finished run whose judge agrees with every label."""
    lines = [
        f'{{"id": "L{i}", "input": {{"ticket": "t{i}"}}, "expected": "billing", '
        f'"human": {{"judge_correct": "{"fail" if i % 2 else "pass"}"}}}}'
        for i in range(n)
    ]
    dataset, _ = push_dataset(
        session, name="labelled", items=parse_jsonl_text("\n".join(lines), "l.jsonl")
    )
    judge = {f"L{i}": i % 2 == 0 for i in range(n)}
    scored_run(
        session,
        version_id=production_version(session).id or 0,
        dataset_id=dataset.id or 0,
        judge_passes=judge,
    )


def test_the_flow_stores_records_an_artifact_and_tells_of_a_trust_change(prefect_api) -> None:  # type: ignore[no-untyped-def]
    from flows.calibrate_judges import artifact_key, calibrate_judges

    with Session(get_engine(), expire_on_commit=False) as session:
        items = reviewed_change(session, items=2)
        cast(session, items[0], "omar", "pass")
        rows = calibrate_judges(trigger="test")
        (row,) = rows
        assert row["judge_id"] == sample_judge_id() and row["n"] == 1 and not row["trusted"]
        record = session.exec(select(CalibrationRecord)).one()
        assert record.flow_run_id and record.trigger == "test" and record.from_votes == 1
        # untrusted before (never checked) and after: no news for the data scientists
        assert not any(
            (m.key or "").startswith("judge:") for m in session.exec(select(OutboxMessage))
        )
        artifact = _artifact(artifact_key())
        assert artifact is not None and artifact_key().startswith(ledger_tag())
        assert sample_judge_id() in str(artifact.data)

        _labelled_dataset(session)
        session.commit()
        (row,) = calibrate_judges(trigger="test")
        assert row["trusted"] and row["changed"] and row["n"] == 41
        (notice,) = [
            m for m in session.exec(select(OutboxMessage)) if (m.key or "").startswith("judge:")
        ]
        assert notice.channel == "#alerts" and "is trusted" in notice.text


def test_judge_calibrate_runs_the_flow_in_process_without_serve(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with Session(get_engine(), expire_on_commit=False) as session:
        items = reviewed_change(session, items=2)
        cast(session, items[0], "omar", "fail")
    result = invoke("judge", "calibrate", sample_judge_id()[:6], "--json")
    assert result.code == 0, result.stderr
    data = result.json()
    assert data["where"] == "in process" and data["state"] == "Completed"
    assert [j["judge_id"] for j in data["judges"]] == [sample_judge_id()]
    missing = invoke("judge", "calibrate", "nosuchjudge")
    assert missing.code == 2 and "there is no LLM judge 'nosuchjudge'" in missing.stderr


def test_judge_calibrate_goes_through_serve_when_it_is_up(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from promptloop.runtime import control

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("PREFECT_RUNNER_POLL_FREQUENCY", "1")
    with Session(get_engine(), expire_on_commit=False) as session:
        items = reviewed_change(session, items=2)
        cast(session, items[0], "omar", "fail")
    control.detach()  # what `promptloop serve --detach` starts; the test's home stops it
    result = invoke("judge", "calibrate", "--wait", "--json")
    assert result.code == 0, result.stderr + serve_log()
    data = result.json()
    assert data["where"] == "serve" and data["state"] == "Completed"
    assert [j["judge_id"] for j in data["judges"]] == [sample_judge_id()]


def capitalised_candidate(body: dict[str, Any]) -> str:
    """Production says 'billing' to all; the candidate answers right, Capitalised. The judge
    says "no" to a capitalised answer: the candidate loses only on the judge's metric."""
    import json

    from fakes.openai_server import last_user_text
    from support import CANDIDATE_MARK, right_answers

    if '"choice' in str(body.get("grammar") or ""):  # the sample's judge
        output = str(json.loads(last_user_text(body))["output"])
        choice = "no" if output[:1].isupper() else "yes"
        return json.dumps({"rationale": "as it reads", "choice": choice})
    answer = right_answers(body)
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    return answer.capitalize() if CANDIDATE_MARK in system else answer


@pytest.mark.parametrize("trusted", [False, True])
def test_a_gate_on_the_judge_fails_the_change_only_when_the_judge_is_trusted(
    prefect_api, monkeypatch, trusted: bool
) -> None:  # type: ignore[no-untyped-def]
    from fakes.openai_server import FakeOpenAIServer
    from support import point_at, submit_sample

    from flows.evaluate_change import evaluate_change

    with FakeOpenAIServer(responder=capitalised_candidate) as server:
        point_at(server, monkeypatch)
        change_id = int(submit_sample()["id"])
        with Session(get_engine(), expire_on_commit=False) as session:
            production = production_version(session)  # its suite judges the change
            suite = dict(production.suite or {})
            gate = dict(suite["gate"])
            gate["guardrails"] = [*gate["guardrails"], {"metric": "judge_correct", "margin": 0.1}]
            production.suite = {**suite, "gate": gate}
            session.add(production)
            if trusted:  # as a calibration that earned it would have written
                session.add(
                    CalibrationRecord(
                        judge_id=sample_judge_id(), label="judge_correct", trigger="test", n=40,
                        tp=20, fp=0, fn=0, tn=20, unscored=0, ties=0, from_votes=40,
                        from_dataset=0, trusted=True,
                    )
                )  # fmt: skip
            session.commit()
        state = asyncio.run(evaluate_change(change_id, prompt="support-triage"))
        verdict = invoke("change", "show", str(change_id), "--json").json()["history"][-1]
        reasons = "\n".join(verdict["payload"]["reasons"])
        if trusted:
            assert state == "eval_failed" and "FAIL: guardrail judge_correct" in reasons
        else:
            assert state == "in_review" and "FAIL" not in reasons
            note = f"note: judge {sample_judge_id()} (judge_correct) not trusted (never calibrated)"
            assert note in reasons


def test_a_calibration_run_that_fails_exits_3_with_one_sentence(prefect_api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A ledger missing the calibration table (a migration not applied): the run fails, and
    the command says so and exits 3, not 0."""
    from sqlalchemy import text

    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with Session(get_engine(), expire_on_commit=False) as session:
        reviewed_change(session, items=2)
        session.execute(text("DROP TABLE calibration_record"))
        session.commit()
    result = invoke("judge", "calibrate", "--json")
    assert result.code == 3, result.stderr
    assert result.json()["state"] == "Failed"
    assert "the calibrate-judges run" in result.stderr and "ended Failed" in result.stderr
