"""The CLI twins of the experts' review: list, show and vote, with --json, on both ledgers."""

from __future__ import annotations

import subprocess
import sys

from review_support import change_in_review, exact, open_census_review
from sqlmodel import Session, select

from integrations.db import get_engine
from roles.ledger import Handoff, Vote


def review_in_cli_ledger() -> int:
    """A change in review with its review open, in the ledger the CLI uses; its id. The
    review is a census of two items the candidate got wrong: its last vote decides it (two
    labels of a stratified sample would ask for more)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, wrong={"t01", "t02", "t03"})
        open_census_review(session, change_id, exact(2), items=("t01", "t02"))
    return change_id


def test_list_show_and_vote_through_to_awaiting_approval(cli) -> None:  # type: ignore[no-untyped-def]
    change_id = review_in_cli_ledger()
    waiting = cli("review", "list", "--as", "omar", "--json")
    assert waiting.code == 0, waiting.stderr
    items = waiting.json()
    assert [i["change_id"] for i in items] == [change_id, change_id]
    first, second = (i["review_item_id"] for i in items)

    shown = cli("review", "show", str(first), "--json").json()
    assert shown["revealed"] is None and shown["votes"] == 0
    assert shown["output"] == "account" and shown["baseline_output"] == shown["expected"]
    text = cli("review", "show", str(first)).stdout
    assert "candidate output" in text and "baseline output" in text and "judge" not in text

    voted = cli("review", "vote", str(first), "pass", "--as", "omar", "--json")
    assert voted.code == 0, voted.stderr
    assert voted.json()["progress"]["items_voted"] == 1 and voted.json()["conclusion"] is None
    assert [
        i["review_item_id"] for i in cli("review", "list", "--as", "omar", "--json").json()
    ] == [second]
    after = cli("review", "show", str(first), "--as", "omar", "--json").json()
    assert after["revealed"]["scores"]["correct"]["passed"] is False  # now it may be seen

    last = cli("review", "vote", str(second), "pass", "--as", "ines", "--json").json()
    assert last["conclusion"]["outcome"] == "passed"
    assert last["conclusion"]["state"] == "awaiting_approval"
    assert cli("review", "list", "--as", "ines", "--json").json() == []


def test_refusals_exit_1_or_2_and_write_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    review_in_cli_ledger()
    item = str(cli("review", "list", "--json").json()[0]["review_item_id"])
    refused = cli("review", "vote", item, "pass", "--as", "sam")
    assert refused.code == 1 and "needs the expert role" in refused.stderr
    author = cli("review", "vote", item, "fail", "--as", "maya")
    assert author.code == 1
    bad = cli("review", "vote", item, "maybe", "--as", "omar")
    assert bad.code == 2 and "pass or fail" in bad.stderr
    category = cli("review", "vote", item, "fail", "--category", "vibes", "--as", "omar")
    assert category.code == 2 and "wrong, incomplete" in category.stderr
    assert cli("review", "show", "999").code == 2
    with Session(get_engine()) as session:
        assert session.exec(select(Vote)).all() == []


def test_a_failing_review_tells_the_author_why(cli) -> None:  # type: ignore[no-untyped-def]
    change_id = review_in_cli_ledger()
    items = [i["review_item_id"] for i in cli("review", "list", "--json").json()]
    for item, expert in zip(items, ["omar", "ines"], strict=True):
        result = cli(
            "review",
            "vote",
            str(item),
            "fail",
            "--category",
            "wrong",
            "--reason",
            "it is a billing ticket",
            "--as",
            expert,
        )
        assert result.code == 0, result.stderr
    assert "review failed: change" in result.stderr and "changes_requested" in result.stderr
    revise = f"next: maya revises it: `promptloop change revise {change_id} --file FILE --as maya`"
    assert revise in result.stderr  # the author learns how, in the terminal
    assert revise in cli("change", "show", str(change_id)).stdout
    with Session(get_engine()) as session:
        handoff = session.exec(
            select(Handoff).where(Handoff.change_id == change_id).order_by(Handoff.id.desc())  # type: ignore[union-attr]
        ).first()
    assert handoff is not None and handoff.to_state == "changes_requested"
    assert "wrong — it is a billing ticket" in handoff.note


def test_review_commands_import_nothing_heavy() -> None:
    code = (
        "import sys; from promptloop.cli.app import run_cli; run_cli(['review', 'list']); "
        "import roles.expert, roles.review.views; "
        "print(sorted(m for m in ('prefect', 'scipy', 'sklearn', 'slack_sdk', 'openai') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_review_commands_run_the_deadline_check(cli) -> None:  # type: ignore[no-untyped-def]
    """A review past its deadline is concluded as expired by the next review command."""
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, wrong={"t01"})
        policy = exact(2, deadline_hours=0.001)
        open_census_review(session, change_id, policy)  # opened at the top of this hour
    listed = cli("review", "list", "--as", "omar", "--json")
    assert listed.code == 0 and listed.json() == []
    assert f"expired: change {change_id} is changes_requested" in listed.stderr
    assert cli("change", "show", str(change_id), "--json").json()["state"] == "changes_requested"
    again = cli("review", "list")  # expired once
    assert "expired" not in again.stderr


def test_change_show_says_what_the_review_waits_for(cli) -> None:  # type: ignore[no-untyped-def]
    change_id = review_in_cli_ledger()
    shown = cli("change", "show", str(change_id))
    assert "awaiting expert review: 0/2 items have their votes, 0/2 experts" in shown.stdout
