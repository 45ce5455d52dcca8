"""Coverage gaps: failures the experts report that no scorer of the suite catches.

    gaps = prompt_gaps(session, prompt="support-triage")
    [g.category for g in gaps if g.flagged]   # ["tone"]: "experts failed 6 items for tone;
                                              #  no scorer flagged any of them"

For every reviewed item of the prompt's changes, each category its experts chose when
voting fail (their counted votes) is one expert fail; it is *caught* when some scorer
failed that output. The suite as it stands now judges: the newest finished run of the
same version on the same dataset that gave the same output (a scorer added since, and
an `eval run`, closes the gap), else the run the experts reviewed.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from roles.data_scientist.gaps import CoverageGap, GapPolicy, coverage_gaps
from roles.ledger import ChangeRequest, EvalResult, EvalRun, EvalScore, Review
from roles.registry import find_prompt
from roles.review.tally import counted_votes, review_items

UNCATEGORISED = "uncategorised"


def expert_fails(session: Session, *, prompt: str) -> list[tuple[str, bool]]:
    """(category, caught by a scorer) for every expert fail on the prompt's reviewed items."""
    found = find_prompt(session, name=prompt)
    reviews = session.exec(
        select(Review)
        .join(ChangeRequest, col(ChangeRequest.id) == col(Review.change_id))
        .where(ChangeRequest.prompt_id == found.id)
        .order_by(col(Review.id))
    ).all()
    fails: list[tuple[str, bool]] = []
    for review in reviews:
        counted = counted_votes(session, review_id=review.id or 0)
        for item in review_items(session, review_id=review.id or 0):
            categories = {
                v.category or UNCATEGORISED
                for v in counted.get(item.id or 0, {}).values()
                if v.verdict == "fail"
            }
            if categories:
                caught = _caught(session, run_id=review.candidate_run_id, item_id=item.item_id)
                fails += [(category, caught) for category in sorted(categories)]
    return fails


def prompt_gaps(
    session: Session, *, prompt: str, policy: GapPolicy | None = None
) -> list[CoverageGap]:
    """The gaps under ``policy``, by default production's ``suite.calibration.gaps``."""
    if policy is None:
        from roles.data_scientist.trust import calibration_policy_from_suite
        from roles.registry import resolve

        policy = calibration_policy_from_suite(resolve(session, name=prompt).suite).gaps
    return coverage_gaps(expert_fails(session, prompt=prompt), policy)


def gap_line(gap: CoverageGap) -> str:
    if gap.caught == 0:
        caught = "no scorer flagged any of them"
    else:
        caught = f"scorers flagged only {gap.caught} ({gap.share_caught:.0%})"
    return f"experts failed {gap.expert_fails} items for {gap.category}; {caught}"


def flagged_gap_notes(session: Session, *, change_id: int) -> list[str]:
    """The scorecard's notes on what the change's prompt's suite does not measure."""
    from roles.ledger import Prompt
    from roles.transitions import get_change

    prompt = session.get(Prompt, get_change(session, change_id).prompt_id)
    if prompt is None:
        return []
    found = prompt_gaps(session, prompt=prompt.name)
    return [f"note: coverage gap: {gap_line(g)}" for g in found if g.flagged]


def _caught(session: Session, *, run_id: int, item_id: str) -> bool:
    reviewed = session.get(EvalRun, run_id)
    seen = _result(session, run_id=run_id, item_id=item_id)
    if reviewed is None or seen is None:
        return False
    newest = session.exec(
        select(EvalRun.id)
        .where(EvalRun.prompt_version_id == reviewed.prompt_version_id)
        .where(EvalRun.dataset_id == reviewed.dataset_id)
        .where(EvalRun.status == "finished")
        .where(col(EvalRun.id) > run_id)
        .order_by(col(EvalRun.id).desc())
    ).all()
    for later in newest:
        result = _result(session, run_id=later or 0, item_id=item_id)
        if result is not None and result.output == seen.output:
            seen = result
            break
    failed = session.exec(
        select(EvalScore.id)
        .where(EvalScore.result_id == seen.id)
        .where(col(EvalScore.passed).is_(False))
        .limit(1)
    ).first()
    return failed is not None


def _result(session: Session, *, run_id: int, item_id: str) -> EvalResult | None:
    return session.exec(
        select(EvalResult).where(EvalResult.run_id == run_id).where(EvalResult.item_id == item_id)
    ).first()
