"""`promptloop metrics` on a ledger with known handoff times (tests/metrics_support.py):
the JSON document, the filters, the tables, bad input and an empty ledger."""

from __future__ import annotations

from typing import Any

from metrics_support import OTHER_PROMPT, H, build_history
from support import SAMPLES

TOP_KEYS = {
    "since", "until", "prompt", "changes", "states", "holders", "lead_time", "approval_wait",
    "review_turnaround", "change_failure", "sent_back",
}  # fmt: skip


def test_the_json_document_and_its_filters(session: Any, cli: Any) -> None:
    build_history(session)
    whole = cli("metrics", "--json")
    assert whole.code == 0, whole.stderr
    doc = whole.json()
    assert set(doc) == TOP_KEYS and doc["since"] is None and doc["prompt"] is None
    assert doc["lead_time"] == {"n": 2, "median_s": 8 * H, "p90_s": 9.6 * H}
    assert doc["approval_wait"] == {"n": 3, "median_s": 2 * H, "p90_s": 5.2 * H}
    assert set(doc["states"][0]) == {
        "state",
        "holder",
        "waiting_now",
        "oldest_wait_s",
        "time_in_state",
    }
    assert set(doc["holders"][0]) == {"role", "person", "holding_now", "longest_wait_s", "held_s"}
    assert doc["holders"][0]["role"] == "author" and doc["holders"][0]["person"] == "maya"
    assert [t["expert"] for t in doc["review_turnaround"]] == ["ines", "omar"]
    assert doc["change_failure"]["rate"] == 0.5
    assert doc["change_failure"]["failures"][0]["why"].startswith("rolled back at ")
    assert doc["sent_back"]["share"] == 0.4
    assert {r["category"] for r in doc["sent_back"]["reasons"]} == {
        "wrong", "target correct", "rejected by an engineer"
    }  # fmt: skip

    since = cli("metrics", "--since", "2026-03-03T20:00Z", "--json").json()
    assert since["since"] == "2026-03-03T20:00:00Z"
    assert since["lead_time"]["n"] == 1 and since["change_failure"]["deploys"] == 1
    one = cli("metrics", "--prompt", OTHER_PROMPT, "--json").json()
    assert one["prompt"] == OTHER_PROMPT and one["changes"]["total"] == 1
    assert one["changes"]["by_state"]["submitted"] == 1


def test_the_tables(session: Any, cli: Any) -> None:
    build_history(session)
    shown = cli("metrics")
    assert shown.code == 0, shown.stderr
    for words in (
        "Handoff metrics, the start →",
        "lead time submit → deployed: median 8.0h, p90 9.6h (n=2)",
        "change failure rate: 50% (1 of 2 deploys)",
        "Time in each state",
        "author (maya)",
        "rejected by an engineer",
        "Review turnaround",
    ):
        assert words in shown.stdout, words


def test_bad_input_is_refused_with_exit_2(cli: Any) -> None:
    bad = cli("metrics", "--since", "last tuesday")
    assert bad.code == 2 and "--since 'last tuesday' is not a date" in bad.stderr
    assert cli("metrics", "--since", "2999-01-01").code == 2
    unknown = cli("metrics", "--prompt", "nope")
    assert unknown.code == 2 and "no prompt named 'nope'" in unknown.stderr


def test_an_empty_ledger_says_so(cli: Any) -> None:
    empty = cli("metrics")
    assert empty.code == 0 and "no changes yet" in empty.stderr and empty.stdout == ""
    doc = cli("metrics", "--json").json()
    assert doc["changes"]["total"] == 0 and doc["lead_time"] == {
        "n": 0,
        "median_s": None,
        "p90_s": None,
    }


def test_a_change_nothing_evaluates_is_held_by_nobody(cli: Any) -> None:
    assert cli("init", "--sample").code == 0
    change = SAMPLES / "support-triage-change.yaml"
    submitted = cli("change", "submit", "--file", str(change), "--as", "maya", "--no-eval")
    assert submitted.code == 0, submitted.stderr
    doc = cli("metrics", "--json").json()
    assert [(h["role"], h["person"], h["holding_now"]) for h in doc["holders"]] == [
        ("nobody", None, 1)
    ]
    assert "nobody" in cli("metrics").stdout
