"""`promptloop eval compare` / `eval show` say what is still bad: both sides' levels per
slice, the confusion matrix of a classifier, the plain summary first. The real openai SDK
against a local OpenAI-compatible server, the ledger on SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fakes.openai_server import FakeOpenAIServer, last_user_text
from support import SAMPLES, judge_aware, point_at

ANSWERS = {
    json.loads(line)["input"]["ticket"]: json.loads(line)["expected"]
    for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
}


def right_but_account(body: dict[str, Any]) -> str:
    """Billing and technical tickets answered right; account ones called billing."""
    ticket = last_user_text(body).split("Ticket: ", 1)[-1].split("\n", 1)[0]
    answer = ANSWERS.get(ticket, "billing")
    return "billing" if answer == "account" else answer


def _triage(cli: Any, tmp_path: Path) -> None:
    """The sample team, tickets and triage prompt; the prompt without its review section,
    which this test does not need (the scorers and the gate are the sample's)."""
    assert cli("team", "sync", str(SAMPLES / "team.yaml")).code == 0
    assert cli("dataset", "push", str(SAMPLES / "support-tickets.jsonl"),
               "--name", "support-tickets").code == 0  # fmt: skip
    text = (SAMPLES / "support-triage.yaml").read_text()
    path = tmp_path / "triage.yaml"
    path.write_text(text.split("\n  review:", 1)[0] + "\n")
    pushed = cli("prompt", "push", str(path), "--as", "maya")
    assert pushed.code == 0, pushed.stderr


def test_compare_shows_levels_the_confusion_and_the_summary_first(
    cli: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        _triage(cli, tmp_path)
        baseline = cli("eval", "run", "support-triage", "--version", "1", "--json").json()
        server.responder = judge_aware(right_but_account)
        candidate = cli(
            "eval", "run", "support-triage", "--version", "1", "--no-cache", "--json"
        ).json()
        ids = [str(baseline["id"]), str(candidate["id"])]

        compared = cli("eval", "compare", *ids, "--json").json()
        assert compared["outcome"] in ("pass", "fail", "inconclusive")
        summary = (
            "correct rose from 0.33 to 0.67, but the candidate gets 10 of 10 'account' items wrong"
        )
        assert compared["summary"] == summary
        rows = {(r["metric"], r["slice"]): r for r in compared["comparisons"]}
        account = rows[("correct", "account")]
        assert (account["baseline"], account["candidate"]) == (0.0, 0.0)
        assert (
            rows[("correct", "technical")]["baseline"],
            rows[("correct", "technical")]["candidate"],
        ) == (0.0, 1.0)
        [matrix] = compared["confusion"]["candidate"]
        assert matrix["metric"] == "correct" and matrix["recall"] == {
            "account": 0.0,
            "billing": 1.0,
            "technical": 1.0,
        }
        [before] = compared["confusion"]["baseline"]
        assert before["sole_answer"] == "billing"
        target = next(r for r in compared["reasons"] if "target correct" in r)
        assert "0.333 → 0.667, diff +0.333" in target

        text = cli("eval", "compare", *ids)
        assert text.code == 0, text.stderr
        assert text.stdout.splitlines()[0] == summary  # in plain words, before any table
        assert "the baseline answers 'billing' for every item" in text.stdout
        assert "answers (columns) per expected class (rows)" in text.stdout

        shown = cli("eval", "show", ids[0], "--json").json()
        assert shown["confusion"][0]["sole_answer"] == "billing"
        assert "the run answers 'billing' for every item" in cli("eval", "show", ids[0]).stdout
