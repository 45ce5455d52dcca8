"""Suite specs: validation naming the source and field, defaults, JSON round trip, scoring."""

from __future__ import annotations

import asyncio
import json
import re
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
    # the judge says "yes" to both: no gain shown, so not a pass (by default it goes to review)
    assert verdict.outcome == "inconclusive" and verdict.failures == []
    assert any(
        "target helpful must improve: no significant gain" in f for f in verdict.inconclusive
    )


@pytest.mark.parametrize(
    ("scorers", "message"),
    [
        (
            ["exact_match", "valid_json", "exact_match"],
            r"suite.scorers\[0\] and suite.scorers\[2\]: label 'exact_match' is used twice",
        ),
        (
            [{"name": "valid_json", "label": "x"}, {"name": "exact_match", "label": "x"}],
            r"suite.scorers\[0\] and suite.scorers\[1\]: label 'x' is used twice",
        ),
        (
            [{"name": "valid_json", "label": "latency_s"}],
            r"suite.scorers\[0\]: label 'latency_s' clashes with the built-in metric",
        ),
    ],
)
def test_a_repeated_label_names_both_scorers(scorers: list[Any], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_suite({"scorers": scorers}, "p.yaml")
    assert "give a 'label'" not in caught.value.message


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("gate", "field"),
    [
        ({"guardrails": [{"metric": "error_rate", "margin": None}]}, "guardrails[0].margin"),
        ({"thresholds": [{"metric": "error_rate", "min": None}]}, "thresholds[0].min"),
        ({"thresholds": [{"metric": "error_rate", "max": None}]}, "thresholds[0].max"),
        ({"max_error_rate": None}, "max_error_rate"),
        ({"max_p95_latency_s": None}, "max_p95_latency_s"),
        ({"max_cost_per_item_usd": None}, "max_cost_per_item_usd"),
    ],
)
def test_non_finite_gate_numbers_are_refused(gate: dict[str, Any], field: str, bad: float) -> None:
    gate = json.loads(json.dumps(gate).replace("null", json.dumps(bad)))
    with pytest.raises(InputError, match=rf"p.yaml: suite.gate.{re.escape(field)}: .*finite"):
        parse_suite({"gate": gate}, "p.yaml")


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"target": {"metric": "error_rate", "margin": 0.1}},
         r"suite.gate.target: .*margin applies to must: not_regress"),
        ({"target": {"metric": "error_rate", "must": "not_regress", "margin": -0.1}},
         r"suite.gate.target.margin: .*greater than or equal to 0"),
        ({"max_unscored_share": 1.5}, r"suite.gate.max_unscored_share: .*less than or equal to 1"),
        ({"on_inconclusive": "pass"}, r"suite.gate.on_inconclusive: .*'review' or 'fail'"),
    ],
)  # fmt: skip
def test_new_gate_fields_are_validated_with_the_field_named(
    gate: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_suite({"gate": gate}, "p.yaml")


def test_a_not_regress_target_with_a_margin_round_trips() -> None:
    gate = {"target": {"metric": "error_rate", "must": "not_regress", "margin": 0.02},
            "max_unscored_share": 0.2, "on_inconclusive": "fail"}  # fmt: skip
    suite = parse_suite({"gate": gate}, "p.yaml")
    assert suite.gate.target is not None and suite.gate.target.margin == 0.02
    assert parse_suite(suite.to_dict(), "stored").gate == suite.gate


def test_a_suite_stored_before_the_three_valued_gate_still_parses() -> None:
    stored = {
        "judge_model": None, "scorers": ["exact_match"],
        "gate": {"target": {"metric": "exact_match", "must": "improve"}, "guardrails": [],
                 "thresholds": [], "max_error_rate": 0.1, "max_p95_latency_s": None,
                 "max_cost_per_item_usd": None, "flag_regressions": "guardrails"},
        "statistics": {"alpha": 0.05, "power": 0.8, "confidence_level": 0.95,
                       "n_resamples": 9999, "seed": 0, "bootstrap_method": "BCa",
                       "min_slice_items": 10},
    }  # fmt: skip
    suite = parse_suite(stored, "eval run 1")
    assert suite.gate.on_inconclusive is None and suite.gate.max_unscored_share == 0.1
