"""Judge calibration on both ledgers: who a judge is, its labelled pairs from votes and
datasets, the records, what an untrusted judge may decide, and coverage gaps."""

from __future__ import annotations

import copy
import json

import pytest
from calibration_support import (
    leave_unscored,
    production_version,
    reviewed_change,
    sample_judge_id,
    sample_suite,
    scored_run,
    vote,
)
from review_support import NOW
from sqlmodel import Session, select
from support import SAMPLES

from roles.calibration.coverage import prompt_gaps
from roles.calibration.identity import judge_id, judge_spec, judges_in_suite
from roles.calibration.pairs import collect_labels
from roles.calibration.records import calibrate_judges, latest_record
from roles.calibration.status import untrusted_metrics
from roles.data_scientist import ItemResult, Sample, Score, build_scorecard, evaluate_gate
from roles.data_scientist.policy import GatePolicy
from roles.data_scientist.review_sample import Pick
from roles.data_scientist.scores import MetricInfo
from roles.datasets import parse_jsonl_text, push_dataset
from roles.errors import InputError
from roles.ledger import CalibrationRecord, DatasetItem, EvalRun, Review

ALL_ITEMS = {
    json.loads(line)["id"] for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
}


def test_a_judge_is_its_whole_spec() -> None:
    suite = sample_suite()
    same = copy.deepcopy(suite)
    same["scorers"][3]["label"] = "renamed"  # a name in one suite, not the judge
    assert judges_in_suite(same)[0].judge_id == judges_in_suite(suite)[0].judge_id
    for field, value in [
        ("rubric", "Is it polite?"),
        ("pass_threshold", 0.7),
        ("choices", {"yes": 1.0, "no": 0.5}),
    ]:
        changed = copy.deepcopy(suite)
        changed["scorers"][3]["args"][field] = value
        assert judges_in_suite(changed)[0].judge_id != sample_judge_id(), field
    other_model = copy.deepcopy(suite)
    other_model["judge_model"] = "openai/gpt-4o-mini"
    assert judges_in_suite(other_model)[0].spec["provider"] == "openai"
    assert judges_in_suite(other_model)[0].judge_id != sample_judge_id()
    # an omitted default is the same judge as the default written out
    args = {"rubric": "r", "choices": {"yes": 1, "no": 0}}
    explicit = {**args, "params": {"temperature": 0, "seed": 0}, "use_json": True}
    assert judge_id(judge_spec(args, judge_model="m")) == judge_id(
        judge_spec(explicit, judge_model="m")
    )


def test_votes_make_pairs_latest_vote_majority_ties_and_unscored_apart(session: Session) -> None:
    # the candidate says "account" to every ticket: the judge fails the 20 that are not
    # (stratum S) and passes the 10 that are (R); seven labels: four of S, three of R
    items = reviewed_change(session, items=7, wrong=ALL_ITEMS)
    a, b, c, d = [i for i in items if i.stratum == "S"]
    vote(session, a, "omar", "fail")
    vote(session, a, "omar", "pass")  # changed mind: the latest counts
    vote(session, a, "ines", "pass")
    vote(session, b, "omar", "fail")
    vote(session, b, "ines", "pass")  # a tie: no label
    for expert, verdict in [("omar", "fail"), ("ines", "fail"), ("zoe", "pass")]:
        vote(session, c, expert, verdict)  # 2 of 3 say fail
    vote(session, d, "omar", "fail")
    run_id = session.exec(select(Review.candidate_run_id)).one()
    leave_unscored(session, run_id=run_id, item_id=d.item_id)
    # the other items: no vote, no pair
    labels = collect_labels(session)[sample_judge_id()]
    pairs = {p.item_id: p for p in labels.pairs}
    assert set(pairs) == {a.item_id, c.item_id}
    assert pairs[a.item_id].human_fail is False and pairs[a.item_id].votes == {
        "omar": "pass",
        "ines": "pass",
    }
    assert pairs[c.item_id].human_fail is True
    assert all(p.source == "vote" and p.judge_fail for p in pairs.values())  # wrong → judge fails
    assert labels.ties == 1 and labels.unscored == 1
    assert set(labels.expert_votes) == {a.id, b.id, c.id, d.id}


def test_dataset_labels_make_pairs_and_a_bad_label_names_its_line(session: Session) -> None:
    reviewed_change(session, items=1)  # the sample loaded, a run on its dataset
    text = "\n".join(
        [
            '{"id": "x1", "input": {"ticket": "a"}, "expected": "billing", '
            '"human": {"judge_correct": "fail"}}',
            '{"id": "x2", "input": {"ticket": "b"}, "expected": "account", '
            '"human": {"judge_correct": "pass"}}',
            '{"id": "x3", "input": {"ticket": "c"}, "expected": "account"}',
        ]
    )
    dataset, _ = push_dataset(session, name="labelled", items=parse_jsonl_text(text, "l.jsonl"))
    assert dataset.id is not None
    scored_run(
        session,
        version_id=production_version(session).id or 0,
        dataset_id=dataset.id,
        judge_passes={"x1": True, "x2": True},
    )
    pairs = [p for p in collect_labels(session)[sample_judge_id()].pairs if p.source == "dataset"]
    assert sorted((p.item_id, p.judge_fail, p.human_fail) for p in pairs) == [
        ("x1", False, True),
        ("x2", False, False),
    ]
    with pytest.raises(
        InputError, match=r"line 2: human\.judge_correct: Input should be 'pass' or 'fail'"
    ):
        parse_jsonl_text(
            '{"id": "y1", "input": {}}\n{"id": "y2", "input": {}, "human": {"judge_correct": "maybe"}}',
            "bad.jsonl",
        )


def test_records_keep_the_history_and_say_when_trust_changes(session: Session) -> None:
    items = reviewed_change(session, items=3, wrong={"b01"})
    for item in items:
        vote(session, item, "omar", "pass")
    first = calibrate_judges(session, trigger="test", now=NOW)
    session.commit()
    record = latest_record(session, judge_id=sample_judge_id())
    assert record is not None and not record.trusted and record.from_votes == record.n
    assert [o.changed for o in first] == [False]  # untrusted before (never checked) and now
    assert record.metrics["kappa"]["value"] == record.kappa
    calibrate_judges(session, trigger="test", now=NOW)
    session.commit()
    history = session.exec(
        select(CalibrationRecord.id).where(CalibrationRecord.judge_id == sample_judge_id())
    ).all()
    assert len(history) == 2


def _results(judge_right: list[bool]) -> list[ItemResult]:
    return [
        ItemResult(
            sample=Sample(item_id=f"i{i}", input={}, output="o", tags=[]),
            scores={
                "correct": Score.from_check(True),
                "judge_correct": Score.from_check(right).model_copy(
                    update={"metadata": {"judge_model": "m"}}
                ),
            },
        )
        for i, right in enumerate(judge_right)
    ]


def test_an_untrusted_judge_decides_nothing_and_a_trusted_one_does(session: Session) -> None:
    reviewed_change(session, items=1)
    policy = GatePolicy(guardrails=["correct", "judge_correct"])
    metrics = [
        MetricInfo(name="correct", kind="binary"),
        MetricInfo(name="judge_correct", kind="binary"),
    ]
    card = build_scorecard(_results([False] * 30), _results([True] * 30), metrics)
    untrusted = untrusted_metrics(session, suite=sample_suite())
    assert untrusted["judge_correct"].endswith("(never calibrated): its metric is shown, not gated")
    trusted_verdict = evaluate_gate(policy, card)
    assert trusted_verdict.outcome == "fail"
    assert any("judge_correct" in r for r in trusted_verdict.failures)
    shown = evaluate_gate(policy, card, untrusted=untrusted)
    assert shown.outcome != "fail" and not any("judge_correct" in f for f in shown.failures)
    assert f"note: judge {sample_judge_id()} (judge_correct) not trusted" in "\n".join(
        shown.reasons
    )
    # a record that says trusted: the judge decides again
    session.add(
        CalibrationRecord(
            judge_id=sample_judge_id(),
            label="judge_correct",
            trigger="t",
            n=40,
            tp=10,
            fp=0,
            fn=0,
            tn=30,
            unscored=0,
            ties=0,
            from_votes=40,
            from_dataset=0,
            trusted=True,
        )
    )
    session.commit()
    assert untrusted_metrics(session, suite=sample_suite()) == {}
    assert evaluate_gate(policy, card, untrusted={}).outcome == "fail"


def test_an_untrusted_judge_leads_the_sample_and_a_gated_one_grows_it(session: Session) -> None:
    from roles.review.inputs import review_source, sample_for_review
    from roles.review.policy import ReviewPolicy

    items = reviewed_change(session, items=4, wrong=ALL_ITEMS)
    judged_wrong = next(i for i in items if i.stratum == "S")  # the judge failed it
    vote(session, judged_wrong, "omar", "pass")  # people pass it
    change_id = session.exec(select(Review.change_id)).one()
    source = review_source(session, change_id=change_id)
    policy = ReviewPolicy(items=2, picks=2)

    def picks() -> list[Pick]:
        """The purposeful picks, after the estimate's sample (the sample never grows)."""
        drawn = sample_for_review(session, source=source, policy=policy, seed=3)
        return [p for p in drawn.picks if p.stratum is None]

    assert len(picks()) == 2  # the sample's gate does not name its judge: no growth
    assert (judged_wrong.item_id, "judge_was_wrong") in [(p.item_id, p.strategy) for p in picks()]
    run = session.get(EvalRun, source.candidate_run_id)
    assert run is not None
    gate = dict(run.suite["gate"])
    gate["guardrails"] = [*gate["guardrails"], {"metric": "judge_correct", "margin": 0.1}]
    run.suite = {**run.suite, "gate": gate}
    session.add(run)
    session.commit()
    assert len(picks()) == 3


def test_a_coverage_gap_appears_and_a_new_scorer_closes_it(session: Session) -> None:
    items = reviewed_change(session, items=4)  # the candidate is right: no scorer fails
    for item in items[:3]:
        vote(session, item, "omar", "fail", category="tone")
    gaps = {g.category: g for g in prompt_gaps(session, prompt="support-triage")}
    assert gaps["tone"].expert_fails == 3 and gaps["tone"].caught == 0 and gaps["tone"].flagged
    candidate = session.get(EvalRun, session.exec(select(Review.candidate_run_id)).one())
    assert candidate is not None
    suite = sample_suite()
    suite["scorers"].append({"name": "contains", "label": "polite", "args": {"text": ["please"]}})
    scored_run(
        session,
        version_id=candidate.prompt_version_id,
        dataset_id=candidate.dataset_id,
        judge_passes={},
        suite=suite,
        extra_fails={"polite": {i.item_id for i in items[:3]}},
    )
    gaps = {g.category: g for g in prompt_gaps(session, prompt="support-triage")}
    assert gaps["tone"].caught == 3 and not gaps["tone"].flagged


def test_a_label_naming_no_scorer_is_reported_at_push(session: Session) -> None:
    from roles.calibration.labels import label_warnings
    from roles.prompt_file import parse_prompt_file
    from roles.sample import load_sample, sample_path

    load_sample(session)
    rows = session.exec(select(DatasetItem)).all()
    text = "\n".join(
        f'{{"id": "{r.item_id}", "input": {{"ticket": "{r.input["ticket"]}"}}, "expected": '
        f'"{r.expected}"' + (', "human": {"tone": "fail"}' if i < 2 else "") + "}"
        for i, r in enumerate(rows)
    )
    push_dataset(session, name="support-tickets", items=parse_jsonl_text(text, "t.jsonl"))
    spec = parse_prompt_file(sample_path("support-triage.yaml"))
    (warning,) = label_warnings(session, spec=spec)
    assert "human label 'tone' (2 item(s), e.g. b01) names no scorer of support-triage" in warning
