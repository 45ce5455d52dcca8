"""Repeated attempts against one production, counted from the ledger: the second change
judged against the same baseline is attempt 2, its target tested at the smaller alpha, and
its verdict says so (the real flow, the real openai SDK, a local OpenAI-compatible server)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, last_user_text
from support import CANDIDATE_MARK, SAMPLES, invoke, judge_aware, point_at, submit_sample

pytestmark = pytest.mark.prefect

ANSWERS = {
    json.loads(line)["input"]["ticket"]: json.loads(line)["expected"]
    for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
}
AGAINST = "production v1 of 'support-triage' on dataset 'support-tickets' v1"


def sharper_candidate(body: dict[str, Any]) -> str:
    """Production answers 'billing' to everything; a candidate answers correctly."""
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    if CANDIDATE_MARK in system:
        ticket = last_user_text(body).split("Ticket: ", 1)[-1].split("\n", 1)[0]
        return str(ANSWERS.get(ticket, "billing"))
    return "billing"


def _evaluate(change_id: int) -> Any:
    """The change's state after its evaluation (the flow's result)."""
    from flows.evaluate_change import evaluate_change

    return asyncio.run(evaluate_change(change_id, prompt="support-triage"))


def _verdict(change_id: int) -> dict[str, Any]:
    shown = invoke("change", "show", str(change_id), "--json").json()
    return dict(shown["history"][-1]["payload"])


def _note(reasons: list[str]) -> str:
    found = [r for r in reasons if r.startswith("note: attempt ")]
    assert len(found) == 1, reasons
    return found[0]


def test_the_second_change_against_one_baseline_is_attempt_2_at_a_smaller_alpha(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        first = int(submit_sample()["id"])
        assert _evaluate(first) == "in_review"
        one = _verdict(first)
        baseline = one["baseline_run"]
        assert _note(one["reasons"]).startswith(
            f"note: attempt 1 against {AGAINST} (baseline run {baseline}): target tested at "
            "alpha 0.0304 (alpha 0.05 spent over attempts"
        )
        assert invoke("change", "withdraw", str(first), "--as", "maya").code == 0

        # An equivalent rewording, tried against the same production.
        reworded = tmp_path / "reworded.yaml"
        text = (SAMPLES / "support-triage-change.yaml").read_text()
        reworded.write_text(text.replace("Answer with one word.", "Answer in one word."))
        submitted = invoke("change", "submit", "--file", str(reworded), "--as", "maya", "--json")
        assert submitted.code == 0, submitted.stderr
        second = int(submitted.json()["id"])
        assert _evaluate(second) == "in_review"
        two = _verdict(second)
        assert two["baseline_run"] == baseline  # the cached baseline, judged again
        assert _note(two["reasons"]).startswith(
            f"note: attempt 2 against {AGAINST} (baseline run {baseline}): target tested at "
            "alpha 0.0076 (alpha 0.05 spent over attempts"
        )
        target = next(r for r in two["reasons"] if r.startswith("ok: target correct"))
        assert "99% CI" in target, target  # its interval at 1 - 0.0076

    # Counted again (a restarted evaluation), the same candidate is the same attempt.
    from integrations.db import session_scope
    from roles.evaluation.attempts import count_attempt

    with session_scope() as session:
        again = count_attempt(
            session, change_id=second, baseline_run=baseline, candidate_run=two["candidate_run"]
        )
    assert again.number == 2
