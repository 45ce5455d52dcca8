"""Issue 18 from the terminal: a vote that completes a look which cannot decide adds items
(`review list --json` lists them, and only items that take votes), `review estimate` shows
the numbers, and a review undecided at its cap is decided by its decider, on both ledgers."""

from __future__ import annotations

from review_support import change_in_review, open_sampled_review
from sqlmodel import Session

from integrations.db import get_engine
from integrations.slack.review import post_opened_review
from roles.review.policy import ReviewPolicy

WRONG = {"t01", "t02", "t03", "t04", "t05", "t06"}  # a fifth of the 30 items: near 0.2


def review_in_cli_ledger(policy: ReviewPolicy) -> tuple[int, int]:
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, wrong=WRONG)
        review = open_sampled_review(session, change_id, policy)
        post_opened_review(session, review=review, reasons=["ok: target correct improved"])
        session.commit()
    assert review.id is not None
    return change_id, review.id


def vote_all(cli, expert: str) -> dict:  # type: ignore[no-untyped-def]
    """``expert`` votes the truth on every item waiting for them; the last vote's JSON."""
    last: dict = {}
    for item in cli("review", "list", "--as", expert, "--json").json():
        bad = item["item_id"] in WRONG
        args = ["fail", "--category", "wrong"] if bad else ["pass"]
        voted = cli("review", "vote", str(item["review_item_id"]), *args, "--as", expert, "--json")
        assert voted.code == 0, voted.stderr
        last = voted.json()
    return last


def test_more_labels_then_the_cap_then_the_deciders_call(cli) -> None:  # type: ignore[no-untyped-def]
    change_id, review_id = review_in_cli_ledger(
        ReviewPolicy(items=6, batch=4, max_items=10, picks=0)
    )
    first = cli("review", "list", "--json").json()
    assert len(first) == 6 and {"review_item_id", "item_id", "change_id"} <= first[0].keys()
    vote_all(cli, "omar")
    look = vote_all(cli, "ines")["look"]  # the second expert's vote completes the first look
    assert look["decision"] == "more" and len(look["added"]) == 4 and look["labels"] == 6
    added = cli("review", "list", "--json").json()
    assert len(added) == 4 and not {a["item_id"] for a in added} & {f["item_id"] for f in first}
    assert all(a["batch"] == 1 and a["change_id"] == change_id for a in added)

    shown = cli("review", "estimate", str(review_id), "--json").json()
    assert shown["labels"] == 6 and shown["decision"] == "more" and shown["status"] == "open"
    outbox = cli("outbox", "list", "--json").json()
    keys = [m["key"] for m in outbox]
    more = next(m for m in outbox if m["text"].startswith("More labels"))
    # the thread says why, then the new items follow in it (keyed, so never posted twice)
    assert all(keys.index(more["key"]) < keys.index(f"review:{change_id}:{review_id}:item:{a['review_item_id']}")
               for a in added)  # fmt: skip
    assert sum(m["kind"] == "review_item" for m in outbox) == 10 and len(first) == 6
    text = cli("review", "estimate", str(review_id)).stdout
    assert "failure rate" in text and "S (a scorer failed it)" in text

    vote_all(cli, "omar")
    assert cli("review", "list", "--json").json() == []  # undecided: no item takes a vote
    shown = cli("review", "estimate", str(review_id), "--json").json()
    assert shown["status"] == "undecided" and shown["deciders"] == ["dana"]
    assert shown["lower"] <= 0.2 < shown["upper"]
    undecided = [m for m in cli("outbox", "list", "--json").json() if "undecided" in m["text"]]
    assert len(undecided) == 1 and undecided[0]["kind"] == "notice"

    refused = cli("review", "decide", str(review_id), "pass", "--reason", "x", "--as", "omar")
    assert refused.code == 1 and "data_scientist or admin" in refused.stderr
    no_reason = cli("review", "decide", str(review_id), "pass", "--reason", " ", "--as", "dana")
    assert no_reason.code == 2 and "reason" in no_reason.stderr
    decided = cli("review", "decide", str(review_id), "pass", "--as", "dana", "--json",
                  "--reason", "the six are one known ticket family")  # fmt: skip
    assert decided.code == 0, decided.stderr
    assert decided.json()["outcome"] == "passed"
    assert decided.json()["state"] == "awaiting_approval"
    shown = cli("change", "show", str(change_id), "--json").json()
    move = shown["history"][-1]
    assert (move["actor"], move["to_state"]) == ("dana", "awaiting_approval")
    assert "decided by dana at the cap" in move["note"]
