"""`prompt log` names the change a rollback rolled back (it showed `-`), on both ledgers."""

from __future__ import annotations

from deploy_support import awaiting_approval, deploy


def test_prompt_log_shows_the_change_a_rollback_rolled_back(cli) -> None:  # type: ignore[no-untyped-def]
    change_id = awaiting_approval()
    deploy(change_id)
    rolled = cli("prompt", "rollback", "support-triage", "--as", "sam", "--reason", "too slow")
    assert rolled.code == 0, rolled.stderr

    moves = cli("prompt", "log", "support-triage", "--json").json()["label_moves"]
    production = [m for m in moves if m["label"] == "production"]
    deployed, rollback = production[-2], production[-1]
    assert (deployed["from_version"], deployed["to_version"]) == (1, 2)
    assert (rollback["from_version"], rollback["to_version"]) == (2, 1)
    assert deployed["change_id"] == change_id
    assert rollback["change_id"] == change_id and "rolled back by sam" in rollback["note"]

    table = cli("prompt", "log", "support-triage").stdout
    [line] = [row for row in table.splitlines() if "rolled back by sam" in row]
    assert f" {change_id} " in line.replace("│", " ")
