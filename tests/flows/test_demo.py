"""`promptloop demo` runs the loop on its own change and touches nobody else's."""

from __future__ import annotations

import pytest
from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, invoke, judge_aware, point_at

pytestmark = pytest.mark.prefect


def test_the_demo_touches_only_the_change_it_made(prefect_api, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        assert invoke("init", "--sample").code == 0
        text = (SAMPLES / "support-triage-change.yaml").read_text()
        (tmp_path / "mine.yaml").write_text(text.replace("Category:", "Category (mine):"))
        other = invoke(
            "change", "submit", "--file", str(tmp_path / "mine.yaml"), "--as", "maya",
            "--note", "someone else's work", "--no-eval", "--json",
        ).json()  # fmt: skip

        first = invoke("demo", "--json")
        assert first.code == 0, first.stderr
        demo_change = first.json()["change"]
        assert demo_change["id"] != other["id"]
        assert demo_change["state"] not in ("submitted", "evaluating")

        again = invoke("demo", "--json").json()["change"]
        assert again["id"] == demo_change["id"]  # the same change, shown again

        fresh = invoke("demo", "--fresh", "--json").json()["change"]
        assert fresh["id"] not in (demo_change["id"], other["id"])
        assert invoke("change", "show", str(demo_change["id"]), "--json").json()["state"] == (
            "withdrawn"
        )
        untouched = invoke("change", "show", str(other["id"]), "--json").json()
        assert untouched["state"] == "submitted"
        assert [h["to_state"] for h in untouched["history"]] == ["submitted"]


def test_the_demo_takes_a_better_change_through_the_experts_review(
    prefect_api, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from test_evaluate_change import sharper_candidate

    with FakeOpenAIServer(responder=judge_aware(sharper_candidate)) as server:
        point_at(server, monkeypatch)
        monkeypatch.setenv("PREFECT_API_URL", prefect_api)
        result = invoke("demo", "--json")
        assert result.code == 0, result.stderr
        change = result.json()["change"]
        votes = change["demo_votes"]
        assert {v["expert"] for v in votes} == {"omar", "ines"}
        # the sharper candidate answers every ticket right: the experts pass it on, the
        # author (an engineer too) is refused, another engineer deploys it
        assert change["state"] == "deployed", change["history"][-1]
        # calibrated after the review: said plainly, the sample judge is not trusted yet
        (judge,) = result.json()["judges"]
        assert "(judge_correct): not trusted — " in judge
        assert "labelled pairs, fewer than the 30 required" in judge
        assert [(h["to_state"], h["actor"]) for h in change["history"]][-3:] == [
            ("awaiting_approval", "promptloop"), ("approved", "sam"), ("deployed", "promptloop"),
        ]  # fmt: skip
        shown = invoke("prompt", "show", "support-triage", "--json").json()
        assert shown["labels"] == {"production": shown["version"]} and shown["version"] == 2
        # without Slack the demo shows its messages; serve's delivery shows them in its log
        messages = invoke("outbox", "list", "--change", str(change["id"]), "--json").json()
        kinds = [m["kind"] for m in messages]
        assert kinds.count("review_parent") == 1 and kinds.count("review_item") == 17
        assert kinds.count("deploy_request") == 1 and kinds.count("notice") >= 2, kinds
        assert {m["status"] for m in messages} <= {"pending", "delivered"}
        metrics = invoke("metrics", "--json").json()  # the team's numbers, from the demo's ledger
        assert metrics["changes"]["by_state"]["deployed"] == 1 and metrics["lead_time"]["n"] == 1
        assert metrics["approval_wait"]["n"] == 1 and metrics["change_failure"]["rate"] == 0.0
        assert {t["expert"] for t in metrics["review_turnaround"]} == {"omar", "ines"}
        shown_metrics = invoke("metrics")
        assert shown_metrics.code == 0 and "Time in each state" in shown_metrics.stdout
        again = invoke("demo")  # run again: the deployed change is shown, nothing is redone
        assert again.code == 0, again.stderr
        assert f"change {change['id']} is deployed already" in again.stderr + again.stdout
        assert "continuing" not in again.stderr  # nothing continues: it is done


def test_the_demo_on_the_embedded_model_ends_deployed(prefect_api, monkeypatch, local_model) -> None:  # type: ignore[no-untyped-def]
    """The README's first command: SmolLM2 answers, the experts pass the sampled ten (at most
    half may fail), the author is refused, sam approves, production moves."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    result = invoke("demo", "--json")
    assert result.code == 0, result.stderr
    change = result.json()["change"]
    assert change["state"] == "deployed", change["history"][-1]
    assert [h["to_state"] for h in change["history"]] == [
        "submitted", "evaluating", "in_review", "awaiting_approval", "approved", "deployed",
    ]  # fmt: skip
    decisions = {(d["who"], d["decision"]) for d in change["decisions"]}
    assert {("maya", "refused"), ("sam", "approve")} <= decisions, change["decisions"]
    assert invoke("prompt", "show", "support-triage", "--json").json()["labels"] == {
        "production": 2
    }
