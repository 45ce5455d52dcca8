"""Suite specs: validation naming the source and field, defaults, JSON round trip, scoring."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from roles.calls import ChatRequest, ChatResult
from roles.data_scientist import (
    Sample,
    build_scorecard,
    default_suite,
    evaluate_gate,
    parse_suite,
)
from roles.errors import InputError

SOURCE = "prompts/support.yaml"
SUITE: dict[str, Any] = {
    "judge_model": "judge/m",
    "scorers": [
        "exact_match",
        {"name": "contains", "label": "mentions_refund", "args": {"text": ["refund"]}},
        {
            "name": "llm_judge",
            "label": "helpful",
            "args": {"rubric": "Helpful?", "choices": {"yes": 1, "no": 0}},
        },
    ],
    "gate": {
        "target": "helpful",
        "guardrails": ["exact_match", {"metric": "latency_s", "margin": 0.5}],
        "thresholds": [{"metric": "mentions_refund", "min": 0.5}],
        "max_error_rate": 0.05,
    },
    "statistics": {"n_resamples": 500},
}


def test_parse_and_round_trip_through_json() -> None:
    suite = parse_suite(SUITE, SOURCE)
    assert [m.name for m in suite.metrics()] == ["exact_match", "mentions_refund", "helpful"]
    assert suite.gate.target is not None and suite.gate.target.must == "improve"
    stored = json.loads(json.dumps(suite.to_dict()))
    rebuilt = parse_suite(stored, SOURCE)
    assert rebuilt.to_dict() == suite.to_dict()
    assert rebuilt.metrics() == suite.metrics()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"suite: unknown keys \['colour'\]"),
        ({"scorers": "exact_match"}, r"suite.scorers must be a list"),
        ({"scorers": ["exact_match", "nope"]}, r"suite.scorers\[1\]: unknown scorer 'nope'"),
        (
            {"scorers": [{"name": "regex", "args": {"pattern": "a", "flag": "i"}}]},
            r"suite.scorers\[0\]: scorer 'regex': bad arguments: flag",
        ),
        ({"scorers": ["exact_match", "exact_match"]}, r"scorers\[1\]: label 'exact_match'"),
        ({"scorers": [{"name": "valid_json", "label": "error_rate"}]}, r"built-in metric"),
        (
            {"judge_model": None},
            r"scorers\[2\]: scorer 'llm_judge' \(helpful\) has no model",
        ),
        ({"gate": {"target": "accuracy"}}, r"suite.gate.target.metric: unknown metric 'accuracy'"),
        (
            {"gate": {"guardrails": ["exact_match", {"metric": "x", "margin": 1}]}},
            r"suite.gate.guardrails\[1\].metric: unknown metric 'x'",
        ),
        ({"gate": {"max_error_rate": 2}}, r"suite.gate.max_error_rate: Input should be less"),
        ({"gate": {"guardrails": [{"metric": "exact_match", "margin": "big"}]}}, r"margin"),
        ({"statistics": {"alpha": 0}}, r"suite.statistics.alpha"),
    ],
)
def test_invalid_suites_name_the_source_and_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_suite({**SUITE, **change}, SOURCE)
    assert caught.value.message.startswith(f"{SOURCE}: ")


def test_a_suite_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match=f"{SOURCE}: suite must be a mapping"):
        parse_suite(["exact_match"], SOURCE)


def test_default_suite() -> None:
    with_expected = default_suite(has_expected=True)
    assert [m.name for m in with_expected.metrics()] == ["exact_match"]
    assert [g.metric for g in with_expected.gate.guardrails] == ["exact_match", "error_rate"]
    assert default_suite(has_expected=False).metrics() == []
    assert parse_suite(with_expected.to_dict(), "default").to_dict() == with_expected.to_dict()


def test_a_suite_scores_samples_end_to_end() -> None:
    async def judge(request: ChatRequest) -> ChatResult:
        return ChatResult(text='{"rationale": "ok", "choice": "yes"}', model=request.model)

    suite = parse_suite(SUITE, SOURCE)
    ctx = suite.context(judge)

    def results(answer: str) -> list[Any]:
        samples = [
            Sample(item_id=str(i), expected="refund", output=answer, latency_s=1.0)
            for i in range(12)
        ]
        return [asyncio.run(suite.score(s, ctx)) for s in samples]

    card = build_scorecard(results("refund"), results("no"), suite.metrics(), suite.statistics)
    row = card.row("exact_match")
    assert row is not None and row.verdict == "improved"
    assert card.candidate.metrics["helpful"].pass_rate == 1.0
    verdict = evaluate_gate(suite.gate, card)
    assert not verdict.passed  # the judge says "yes" to both: the target did not improve
    assert any("target helpful must improve: unchanged" in f for f in verdict.failures)
