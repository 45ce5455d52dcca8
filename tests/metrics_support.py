"""A ledger with known handoff times, written through the real role functions under a
manual clock (``roles.clock.manual_clock``). Hours after ``start``:

    A  0 submitted · 1 evaluating · 2 in_review (omar 5, ines 8) · 8 awaiting_approval
       · 10 approved, deployed (sam) · 20 rolled back (sam)
    B  30 submitted · 30.5 evaluating · 32 in_review (omar fails "wrong" 33, ines 36)
       · 36 changes_requested · 40 revised → submitted · 41 evaluating · 42 eval_failed
    C  50 submitted · 52 evaluating · 53 in_review (omar 54, ines 55) · 55 awaiting_approval
       · 61 rejected (sam: "too risky for the holidays")
    E  62 submitted · 63 evaluating · 64 in_review (omar 65, ines 66) · 66 awaiting_approval
       · 68 approved, deployed (lee)
    D  70 submitted, on another prompt (faq-answers), and still there at NOW_H = 72

Every review is a census of 2 items (decided by its last vote: 0/2 failed passes, 1/2
fails) and needs 2 experts, one vote each.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from review_support import open_census_review, record_run
from sqlmodel import Session, col, select

from roles.clock import ManualClock, manual_clock
from roles.engineer import Who, approve, reject, rollback
from roles.evaluation.change import conclude_evaluation, open_evaluation
from roles.expert import vote_and_conclude
from roles.ledger import PromptVersion, ReviewItem
from roles.pm import revise_change, submit_change
from roles.prompt_file import PromptSpec, parse_prompt_file
from roles.registry import add_version
from roles.review.inputs import policy_for_change
from roles.roster import find_member
from roles.sample import load_sample, sample_path
from roles.transitions import get_change

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW_H = 72
H = 3600.0  # seconds in an hour: expected figures read as hours
OTHER_PROMPT = "faq-answers"


def variant(name: str, *, prompt: str | None = None) -> PromptSpec:
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    update: dict[str, str] = {"description": f"{spec.description} ({name})"}
    if prompt:
        update["name"] = prompt
    return spec.model_copy(update=update)


class History:
    """Writes the scenario; ``at(h)`` sets the clock to ``h`` hours after the start."""

    def __init__(self, session: Session, clock: ManualClock, start: datetime) -> None:
        self.session, self.clock, self.start = session, clock, start

    def at(self, hours: float) -> datetime:
        self.clock.now = self.start + timedelta(hours=hours)
        return self.clock.now

    def submit(self, hours: float, name: str, *, prompt: str | None = None) -> int:
        self.at(hours)
        change = submit_change(self.session, spec=variant(name, prompt=prompt), author="maya")
        self.session.commit()
        assert change.id is not None
        return change.id

    def evaluating(self, hours: float, change_id: int) -> None:
        self.at(hours)
        open_evaluation(self.session, change_id=change_id)
        self.session.commit()

    def gate(self, hours: float, change_id: int, *, passed: bool = True) -> list[int]:
        """The gate's verdict (runs recorded as the eval flow records them); a pass opens the
        review. Returns the review's item ids, in order."""
        self.at(hours)
        change = get_change(self.session, change_id)
        payload: dict[str, object] = {
            "baseline_run": record_run(self.session, change, change.base_version_id, wrong=()),
            "candidate_run": record_run(
                self.session, change, change.candidate_version_id, wrong=()
            ),
            "outcome": "pass" if passed else "fail",
        }
        reasons = [] if passed else ["FAIL: target correct must improve: no gain (n=30)"]
        if not passed:
            payload["failed_checks"] = [
                {"check": "target correct", "reason": "target correct must improve: no gain"}
            ]
        conclude_evaluation(
            self.session, change_id=change_id, passed=passed, reasons=reasons, payload=payload
        )
        items: list[int] = []
        if passed:
            # production's policy (2 items), its sample opened as a census: two labels
            # of a stratified sample would ask for more, and these times need a decision
            policy = policy_for_change(self.session, change_id=change_id)
            review = open_census_review(self.session, change_id, policy, now=self.clock.now)
            items = [
                i.id or 0
                for i in self.session.exec(
                    select(ReviewItem)
                    .where(ReviewItem.review_id == review.id)
                    .order_by(col(ReviewItem.position))
                ).all()
            ]
        self.session.commit()
        return items

    def vote(self, hours: float, item_id: int, expert: str, verdict: str = "pass") -> None:
        self.at(hours)
        fail = {"category": "wrong", "reason": "a billing ticket"} if verdict == "fail" else {}
        vote_and_conclude(
            self.session,
            review_item_id=item_id,
            actor=expert,
            verdict=verdict,
            now=self.clock.now,
            **fail,
        )
        self.session.commit()

    def reviewed(
        self,
        name: str,
        submitted: float,
        evaluating: float,
        in_review: float,
        *,
        omar: float,
        ines: float,
        omar_says: str = "pass",
    ) -> int:
        """A change submitted, evaluated, passed by the gate and reviewed (omar votes on the
        first item, ines passes the second) at these hours; its id."""
        change_id = self.submit(submitted, name)
        self.evaluating(evaluating, change_id)
        first, second = self.gate(in_review, change_id)
        self.vote(omar, first, "omar", omar_says)
        self.vote(ines, second, "ines")
        return change_id

    def approve(self, hours: float, change_id: int, engineer: str) -> None:
        self.at(hours)
        outcome = approve(
            self.session, change_id=change_id, who=Who(handle=engineer), now=self.clock.now
        )
        assert outcome.decision == "deployed", outcome.message
        self.session.commit()


def build_history(session: Session, *, start: datetime = START) -> dict[str, int]:
    """The scenario above; the change ids by letter."""
    with manual_clock(start - timedelta(hours=1)) as clock:
        load_sample(session)
        base = session.exec(select(PromptVersion).where(PromptVersion.number == 1)).one()
        base.suite = {**(base.suite or {}), "review": {"items": 2, "min_experts": 2}}
        session.add(base)
        session.commit()
        h = History(session, clock, start)
        ids = {"A": h.reviewed("a", 0, 1, 2, omar=5, ines=8)}
        h.approve(10, ids["A"], "sam")
        h.at(20)
        rollback(session, prompt="support-triage", actor="sam", now=clock.now, reason="worse")
        session.commit()

        ids["B"] = h.reviewed("b", 30, 30.5, 32, omar=33, ines=36, omar_says="fail")
        h.at(40)
        revise_change(session, change_id=ids["B"], spec=variant("b2"), author="maya")
        session.commit()
        h.evaluating(41, ids["B"])
        h.gate(42, ids["B"], passed=False)

        ids["C"] = h.reviewed("c", 50, 52, 53, omar=54, ines=55)
        h.at(61)
        reject(
            session,
            change_id=ids["C"],
            who=Who(handle="sam"),
            reason="too risky for the holidays",
            now=clock.now,
        )
        session.commit()

        ids["E"] = h.reviewed("e", 62, 63, 64, omar=65, ines=66)
        h.approve(68, ids["E"], "lee")

        h.at(69)
        add_version(session, spec=variant("v1", prompt=OTHER_PROMPT), author=find_member(
            session, handle="maya"
        ))  # fmt: skip
        session.commit()
        ids["D"] = h.submit(70, "d", prompt=OTHER_PROMPT)
    return ids


def hours_after(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)
