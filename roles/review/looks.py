"""A look at a review: the failure rate its labels estimate, and what the bound decides.

    judged = judge_review(session, review)       # no writes: the estimate and its decision
    judged.estimate.interval(), judged.decision  # '0.12 (0.05–0.23)', 'pass'
    look = take_look(session, review=review, now=now)  # the vote that completed a look:
    look.added                                   # more labels → the batch it added

The statistics are ``roles.data_scientist.review_estimate``'s; this module reads a
review's labels from the ledger (each sampled item's counted votes: failed when at least
half say fail) and, when the bound asks for more, draws the next batch within the strata
fixed when the review opened. A review opened before strata existed is counted as a
census of its items (its fail share, against its tolerable rate).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from roles.data_scientist.review_estimate import (
    Decision,
    Estimate,
    LookPlan,
    ReviewTally,
    StratumTally,
    decide,
    estimate,
    labels_needed,
)
from roles.data_scientist.review_strata import (
    PRIOR_RATES,
    REVIEWED,
    STRATUM_NAMES,
    allocate,
    draw,
)
from roles.ledger import Review, ReviewItem
from roles.ledger.review import SAMPLE
from roles.review.tally import counted_verdicts, verdicts_failed


@dataclass(frozen=True)
class Judged:
    tally: ReviewTally
    estimate: Estimate
    decision: Decision
    max_failure_rate: float
    next_size: int | None  # the labels the next look wants (None: this is the last)
    looks: int  # how many looks the plan has
    alpha: float  # each side's error over every look (1 − confidence)

    def summary(self) -> str:
        """``failure rate 0.12 (0.05–0.23, 95 %) from 30 labels of 100 items; at most 0.20``."""
        e = self.estimate
        return (
            f"failure rate {e.interval()} from {e.labels} labels of {e.total} items "
            f"(one-sided bounds at {1 - e.alpha:.1%}: this look's share of the "
            f"{self.alpha:g} each side may err over {self.looks} looks); at most "
            f"{self.max_failure_rate:.2f} tolerated"
        )

    def strata_lines(self) -> list[str]:
        """One line per stratum: what it is, its items, labels and fails."""
        lines = []
        if self.tally.errors:
            lines.append(
                f"E ({STRATUM_NAMES['E']}): {self.tally.errors} items, counted as failures"
            )
        for s in self.tally.strata:
            name = STRATUM_NAMES.get(s.stratum, s.stratum)
            lines.append(
                f"{s.stratum} ({name}): {s.failed}/{s.labelled} labelled failed, "
                f"of {s.population} items"
            )
        return lines


def plan_of(review: Review) -> LookPlan:
    if not review.strata:  # opened before strata: one look at its items
        return LookPlan(first=review.items_needed, batch=1, cap=review.items_needed,
                        alpha=1 - review.confidence)  # fmt: skip
    return LookPlan(
        first=review.items_needed,
        batch=max(1, review.batch_size),
        cap=max(review.items_needed, review.max_items),
        alpha=1 - review.confidence,
    )


def review_tally(session: Session, review: Review) -> ReviewTally:
    """Per stratum: its items, its sampled items with every vote they need, their fails."""
    assert review.id is not None
    rows = session.exec(
        select(ReviewItem.id, ReviewItem.stratum, ReviewItem.strategy).where(
            ReviewItem.review_id == review.id
        )
    ).all()
    counted = counted_verdicts(session, review_id=review.id)
    labelled: dict[str, int] = {}
    failed: dict[str, int] = {}
    for item_id, stratum, strategy in rows:
        if review.strata and (strategy != SAMPLE or stratum is None):
            continue  # a purposeful pick: shown for learning, never counted
        votes = counted.get(item_id or 0, {})
        if len(votes) < review.votes_per_item:
            continue
        h = (stratum or "R") if review.strata else "R"  # a census: every item is one stratum
        labelled[h] = labelled.get(h, 0) + 1
        failed[h] = failed.get(h, 0) + verdicts_failed(list(votes.values()))
    if not review.strata:
        return ReviewTally(
            total=len(rows),
            errors=0,
            strata=[StratumTally("R", len(rows), labelled.get("R", 0), failed.get("R", 0))],
        )
    members = review.strata
    return ReviewTally(
        total=sum(len(ids) for ids in members.values()),
        errors=len(members.get("E", [])),
        strata=[
            StratumTally(h, len(members[h]), labelled.get(h, 0), failed.get(h, 0))
            for h in REVIEWED
            if members.get(h)
        ],
    )


def judge_review(session: Session, review: Review) -> Judged:
    """The estimate from the labels so far, and what the bound decides (no writes)."""
    tally = review_tally(session, review)
    plan = plan_of(review)
    reviewable = tally.reviewable
    nxt = plan.next_size(tally.labels, reviewable)
    alpha = plan.alpha_at(tally.labels, reviewable)
    looks = plan.looks(reviewable)
    est = estimate(tally, alpha=alpha, seed=review.seed * 1009 + looks.count(tally.labels))
    return Judged(
        tally=tally,
        estimate=est,
        decision=decide(est, max_failure_rate=review.max_failure_rate, more=nxt is not None),
        max_failure_rate=review.max_failure_rate,
        next_size=nxt,
        looks=len(looks),
        alpha=plan.alpha,
    )


@dataclass(frozen=True)
class Look:
    judged: Judged
    added: list[int] = field(default_factory=list)  # review item ids of the new batch


def take_look(session: Session, *, review: Review, now: datetime) -> Look:
    """The look a completing vote makes (the review's row already taken by the vote):
    more labels → the next batch added, within the strata; at the cap undecided → the
    review waits for its decider. Pass or fail are left to ``conclude_review``."""
    added: list[int] = []
    while True:
        judged = judge_review(session, review)
        if judged.decision == "undecided":
            review.status, review.updated_at = "undecided", now
            session.add(review)
            session.flush()
            return Look(judged, added)
        if judged.decision != "more":
            return Look(judged, added)
        new = _add_batch(session, review, judged)
        added += new
        if new or review_tally(session, review).labels == judged.tally.labels:
            return Look(judged, added)  # new items to vote on, or drawn picks short of votes
        # every item drawn was a pick with its votes already: the next look is now


def _add_batch(session: Session, review: Review, judged: Judged) -> list[int]:
    """The next batch, drawn within each stratum from its items not in the sample yet. A
    purposeful pick drawn joins the sample with the votes it has (a label is a label; it
    was left out only because it was not drawn at random)."""
    assert review.id is not None and review.strata is not None
    rows = {
        row.item_id: row
        for row in session.exec(select(ReviewItem).where(ReviewItem.review_id == review.id))
    }
    taken: dict[str, list[str]] = {}
    for row in rows.values():
        if row.strategy == SAMPLE and row.stratum:
            taken.setdefault(row.stratum, []).append(row.item_id)
    wanted = allocate(
        populations={h: len(review.strata.get(h, [])) for h in REVIEWED},
        labelled={s.stratum: s.labelled for s in judged.tally.strata},
        failed={s.stratum: s.failed for s in judged.tally.strata},
        total=judged.next_size or 0,
    )
    batch = 1 + max((row.batch for row in rows.values()), default=0)
    position = max((row.position for row in rows.values()), default=0)
    rng = random.Random(f"review-batch:{review.seed}:{batch}")
    added: list[int] = []
    for stratum, item_id in draw(review.strata, wanted, taken=taken, rng=rng):
        reason = f"look {batch + 1}: a random item of its stratum ({STRATUM_NAMES[stratum]})"
        pick = rows.get(item_id)
        if pick is not None:  # a pick, drawn now: it joins the sample with its votes
            pick.strategy, pick.stratum, pick.batch = SAMPLE, stratum, batch
            pick.reason = f"{pick.reason}; then {reason}"
            session.add(pick)
            continue
        position += 1
        row = ReviewItem(review_id=review.id, item_id=item_id, position=position,
                         strategy=SAMPLE, reason=reason, stratum=stratum, batch=batch)  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        added.append(row.id)
    session.flush()
    return added


def plan_line(review: Review) -> str:
    """What the review estimates and about how many labels it takes, for its opening."""
    plan = plan_of(review)
    if not review.strata:
        return f"a census of its {review.items_needed} items, at most {review.max_failure_rate:.0%} failed"
    populations = {h: len(review.strata.get(h, [])) for h in REVIEWED if review.strata.get(h)}
    errors = len(review.strata.get("E", []))
    sizes = plan.looks(sum(populations.values()))
    needed = labels_needed(
        populations=populations,
        errors=errors,
        rates=dict(PRIOR_RATES),
        max_failure_rate=review.max_failure_rate,
        plan=plan,
    )
    priors = ", ".join(f"{h} {PRIOR_RATES[h]:.0%}" for h in populations)
    about = (
        f"about {needed} labels if its strata fail at the prior rates ({priors})"
        if needed is not None
        else f"more than {sizes[-1]} labels at the prior rates ({priors}): a decider may be needed"
    )
    return (
        f"estimates the candidate's failure rate (at most {review.max_failure_rate:.0%} "
        f"tolerated, {review.confidence:.0%} each side) from {sizes[0]} random labels in "
        f"{len(populations)} strata, then {review.batch_size} more a look up to {sizes[-1]}: "
        f"{about}"
    )


__all__ = [
    "SAMPLE", "Judged", "Look", "judge_review", "plan_line", "plan_of", "review_tally", "take_look",
]  # fmt: skip
