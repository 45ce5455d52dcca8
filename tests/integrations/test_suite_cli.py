"""``promptloop suite power``: the items a gate needs, from what the ledger recorded."""

from __future__ import annotations

from fakes.openai_server import FakeOpenAIServer
from support import judge_aware, point_at

from roles.data_scientist.power import superiority_power


def test_suite_power_plans_from_a_recorded_run(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    before = cli("suite", "power", "support-triage", "--json").json()
    target = before["checks"][0]
    assert target["assumption"] == "no recorded run: rate 0.5, answers assumed independent"
    with FakeOpenAIServer(responder=judge_aware(lambda body: "billing")) as server:
        point_at(server, monkeypatch)
        assert cli("eval", "run", "support-triage", "--json").code == 0
    planned = cli("suite", "power", "support-triage", "--effect", "0.1", "--json").json()
    target = planned["checks"][0]
    assert target["check"] == "target correct must improve by 0.1"
    assert target["assumption"].startswith("rate 0.33 from a recorded run")
    needed = target["items_needed"]
    assert needed > planned["dataset_items"] == 30 and target["power_at_dataset_size"] < 0.8
    args = {"spread": target["spread"], "effect": 0.1, "alpha": 0.05}
    assert superiority_power("binary", n=needed + 2, **args) >= 0.79
    assert superiority_power("binary", n=needed - 20, **args) < 0.8
    review = planned["review"]  # the experts' labels the review's policy needs
    assert (
        review["strata_from"] == "production's newest run" and sum(review["strata"].values()) == 30
    )
    assert (review["first"], review["batch"], review["cap"], review["max_failure_rate"]) == (
        15,
        5,
        30,
        0.5,
    )
    assert all(15 <= n <= 30 for n in review["labels_needed"].values())
    shown = cli("suite", "power", "support-triage")
    assert shown.code == 0 and "items needed" in shown.stdout
    assert "a candidate failing at the prior rates: about" in shown.stdout
    assert cli("suite", "power", "nope").code != 0
