"""`promptloop judge list/report/export`, `suite gaps` and labelled `dataset push`, with
--json, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from calibration_support import reviewed_change, sample_judge_id
from calibration_support import vote as cast
from sqlmodel import Session

from integrations.db import get_engine
from roles.calibration.records import calibrate_judges
from roles.clock import utcnow


def _calibrated_review() -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        items = reviewed_change(session, items=4, wrong={"b01", "b02", "b03", "t01", "t02"})
        for item in items[:3]:
            cast(session, item, "omar", "fail", category="tone")
            cast(session, item, "ines", "fail", category="tone")
        calibrate_judges(session, trigger="test", now=utcnow())
        session.commit()


def test_list_report_and_export(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _calibrated_review()
    (row,) = cli("judge", "list", "--json").json()
    # `id`, as the README's table and `judge list` say (it was `judge_id` in JSON only)
    assert row["id"] == sample_judge_id() and "judge_id" not in row
    assert row["label"] == "judge_correct"
    assert row["prompts"] == ["support-triage"] and row["n"] == 3 and row["trusted"] is False
    text = cli("judge", "list")
    assert text.code == 0 and sample_judge_id() in text.stdout and "no" in text.stdout

    report = cli("judge", "report", "judge_correct", "--json")
    assert report.code == 0, report.stderr
    view = report.json()
    confusion = view["calibration"]["confusion"]
    assert sum(confusion.values()) == 3 and view["labels_now"]["from_votes"] == 3
    assert view["calibration"]["expert_agreement"]["n_items"] == 3
    for pair in view["disagreements"]:
        assert pair["votes"] == {"omar": "fail", "ines": "fail"} and pair["review_item_id"]
    shown = cli("judge", "report", sample_judge_id()[:5])
    assert shown.code == 0 and "confusion" in shown.stdout and "not trusted" in shown.stdout
    # three items, every vote "fail": the experts' agreement cannot be measured, and says so
    assert (
        "experts among themselves: not measurable (3 items with two or more votes, or every "
        "vote the same)" in shown.stdout
    ), shown.stdout

    path = tmp_path / "pairs.jsonl"
    exported = cli("judge", "export", sample_judge_id(), "-o", str(path), "--json")
    assert exported.code == 0 and len(exported.json()["pairs"]) == 3
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {p["source"] for p in lines} == {"vote"} and all(p["human"] == "fail" for p in lines)
    assert cli("judge", "report", "nobody").code == 2


def test_suite_gaps_flags_what_no_scorer_caught(cli) -> None:  # type: ignore[no-untyped-def]
    _calibrated_review()
    gaps = cli("suite", "gaps", "support-triage", "--json").json()["gaps"]
    (tone,) = [g for g in gaps if g["category"] == "tone"]
    assert tone["expert_fails"] == 3 and "flagged" in tone
    text = cli("suite", "gaps", "support-triage")
    assert text.code == 0 and "tone" in text.stdout


def test_dataset_push_checks_human_labels(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "input": {"x": 1}, "human": {"helpful": "fail"}}\n')
    pushed = cli("dataset", "push", str(good), "--name", "labelled", "--json")
    assert pushed.code == 0, pushed.stderr
    shown = cli("dataset", "show", "labelled", "--json").json()
    assert shown["items"][0]["human"] == {"helpful": "fail"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "input": {}}\n{"id": "b", "input": {}, "human": {"x": "maybe"}}\n')
    refused = cli("dataset", "push", str(bad), "--name", "labelled")
    assert refused.code == 2
    assert "line 2: human.x: Input should be 'pass' or 'fail'" in refused.stderr
    assert "nothing written" in refused.stderr


def test_change_submit_warns_of_a_label_no_scorer_reads(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A human label in the dataset that names no scorer of the prompt's suite: `prompt push`
    and `change submit` both say so (the change is submitted all the same)."""
    from support import SAMPLES

    assert cli("init", "--sample").code == 0
    rows = [
        json.loads(line) for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
    ]
    rows[0]["human"] = {"tone": "fail"}
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("dataset", "push", str(data), "--name", "support-tickets").code == 0
    change = SAMPLES / "support-triage-change.yaml"
    submitted = cli("change", "submit", "--file", str(change), "--as", "maya", "--no-eval")
    assert submitted.code == 0, submitted.stderr
    assert (
        "warning: dataset 'support-tickets' v2: human label 'tone' (1 item(s)" in submitted.stderr
    )
    pushed = cli("prompt", "push", str(change), "--as", "maya", "--json")
    assert "human label 'tone'" in pushed.json()["warnings"][0]
