"""The labelled pairs of each LLM judge: its verdict and people's, on the same output.

    labels = collect_labels(session)             # every judge with any label; or judge_id=…
    labels["3f9c2a71d0b4"].pairs[0]              # LabelledPair(judge_fail=True, human_fail=…)

Two sources, each pair says which:

- ``vote``: a reviewed item of the review's probability sample. The expert saw the
  candidate run's output for that item, so the judge's verdict is its score on that result
  in that run (the review names the run). Each expert's latest vote counts; several
  experts → their majority; an even split is no label (counted in ``ties``). Each pair
  weighs its inverse inclusion probability N_h / m_h (``roles.calibration.weights``); a
  purposeful pick's pair is kept apart in ``picks`` (shown, never in the metrics).
- ``dataset``: an item of the run's dataset carrying ``human: {<label>: pass|fail}``. The
  newest finished run holding the judge gives its verdict, one pair per dataset item,
  weight 1.

"Fail" is the positive class. An item the judge left unscored is no pair: it is counted
in ``unscored`` (a judge that cannot answer is not a good judge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session, col, select

from roles.calibration.identity import JudgeRef, judges_in_suite
from roles.calibration.weights import counts_for_calibration, inclusion_weights
from roles.data_scientist.agreement import majority
from roles.ledger import Dataset, DatasetItem, EvalResult, EvalRun, EvalScore, Member, Review
from roles.review.tally import counted_votes, review_items

Source = Literal["vote", "dataset"]


@dataclass(frozen=True)
class LabelledPair:
    judge_id: str
    item_id: str
    judge_fail: bool
    human_fail: bool
    source: Source
    run_id: int
    tags: tuple[str, ...] = ()
    review_item_id: int | None = None
    votes: dict[str, str] = field(default_factory=dict)  # expert → their counted verdict
    judge_explanation: str | None = None
    weight: float = 1.0  # its inverse inclusion probability; a pick's 0 (it counts nothing)
    stratum: str | None = None  # the review's stratum of a sampled item
    review_id: int | None = None

    @property
    def agrees(self) -> bool:
        return self.judge_fail == self.human_fail


@dataclass
class JudgeLabels:
    """What one judge can be calibrated on."""

    judge: JudgeRef
    pairs: list[LabelledPair] = field(default_factory=list)  # what the metrics count
    # Reviewed purposeful picks: people's labels on items chosen for the judge's doubts,
    # for learning (which items it gets wrong), never for its metrics.
    picks: list[LabelledPair] = field(default_factory=list)
    unscored: int = 0
    ties: int = 0
    # review item → expert → says fail: every labelled item, for the experts' own agreement
    expert_votes: dict[int, dict[str, bool]] = field(default_factory=dict)

    def count(self, source: Source) -> int:
        return sum(p.source == source for p in self.pairs)

    @property
    def picks_left_out(self) -> int:
        return len(self.picks)

    @property
    def weights(self) -> list[float]:
        """What the metrics weigh each pair by: its weight, each review's scaled to sum to
        its number of pairs. Within a review the N_h / m_h estimate its items' agreement;
        reviews and datasets then combine by their labels, not by their items (unscaled,
        one label standing for 30 items outweighs 40 dataset labels, and Kish's n_eff of
        the 41 falls to 5)."""
        totals: dict[int, list[float]] = {}
        for p in self.pairs:
            if p.review_id is not None:
                totals.setdefault(p.review_id, []).append(p.weight)
        scale = {r: len(ws) / sum(ws) for r, ws in totals.items()}
        return [p.weight * scale.get(p.review_id or 0, 1.0) for p in self.pairs]


def collect_labels(session: Session, *, judge_id: str | None = None) -> dict[str, JudgeLabels]:
    """Per judge id, its pairs from votes and from labelled datasets."""
    found: dict[str, JudgeLabels] = {}
    handles = dict(session.exec(select(Member.id, Member.handle)).all())
    for review in session.exec(select(Review).order_by(col(Review.id))):
        _from_review(session, review, found, handles, judge_id)
    _from_datasets(session, found, judge_id)
    return found


def _wanted(run: EvalRun, judge_id: str | None) -> list[JudgeRef]:
    return [j for j in judges_in_suite(run.suite) if judge_id in (None, j.judge_id)]


def _scores(session: Session, run_id: int, item_ids: list[str]) -> dict[str, dict[str, EvalScore]]:
    """Item id → metric → the run's score of it."""
    if not item_ids:
        return {}
    rows = session.exec(
        select(EvalResult.item_id, EvalScore)
        .join(EvalScore, col(EvalScore.result_id) == col(EvalResult.id))
        .where(EvalResult.run_id == run_id)
        .where(col(EvalResult.item_id).in_(item_ids))
    ).all()
    out: dict[str, dict[str, EvalScore]] = {}
    for item_id, score in rows:
        out.setdefault(item_id, {})[score.metric] = score
    return out


def _tags(session: Session, dataset_id: int) -> dict[str, tuple[str, ...]]:
    rows = session.exec(
        select(DatasetItem.item_id, DatasetItem.tags).where(DatasetItem.dataset_id == dataset_id)
    ).all()
    return {item_id: tuple(tags or ()) for item_id, tags in rows}


def _verdict(score: EvalScore | None) -> bool | None:
    """The judge says fail (True), pass (False), or nothing usable (None)."""
    if score is None or score.unscored or score.passed is None:
        return None
    return not score.passed


def _from_review(
    session: Session,
    review: Review,
    found: dict[str, JudgeLabels],
    handles: dict[int | None, str],
    judge_id: str | None,
) -> None:
    run = session.get(EvalRun, review.candidate_run_id)
    judges = _wanted(run, judge_id) if run is not None else []
    if run is None or run.id is None or not judges:
        return
    counted = counted_votes(session, review_id=review.id or 0)
    items = [i for i in review_items(session, review_id=review.id or 0) if counted.get(i.id or 0)]
    scores = _scores(session, run.id, [i.item_id for i in items])
    tags = _tags(session, run.dataset_id)
    humans = {
        i.id: majority([v.verdict == "fail" for v in counted[i.id or 0].values()]) for i in items
    }
    in_sample = {
        i.item_id
        for i in items
        if counts_for_calibration(strata=review.strata, strategy=i.strategy, stratum=i.stratum)
    }
    weights = inclusion_weights(
        review.strata,
        {
            i.item_id: i.stratum
            for i in items
            if i.item_id in in_sample and humans[i.id] is not None
        },
    )
    for item in items:
        votes = {handles.get(m, str(m)): v.verdict for m, v in counted[item.id or 0].items()}
        says_fail = {expert: verdict == "fail" for expert, verdict in votes.items()}
        human = humans[item.id]
        weight = weights.get(item.item_id)
        for judge in judges:
            labels = found.setdefault(judge.judge_id, JudgeLabels(judge=judge))
            labels.expert_votes[item.id or 0] = says_fail
            score = scores.get(item.item_id, {}).get(judge.label)
            judged = _verdict(score)
            if human is None or judged is None:  # a pick's tie or gap is no loss to the metrics
                if item.item_id in in_sample:
                    labels.ties += human is None
                    labels.unscored += human is not None
                continue
            pair = LabelledPair(
                judge_id=judge.judge_id,
                item_id=item.item_id,
                judge_fail=judged,
                human_fail=human,
                source="vote",
                run_id=run.id,
                tags=tags.get(item.item_id, ()),
                review_item_id=item.id,
                votes=votes,
                judge_explanation=score.explanation if score else None,
                weight=0.0 if weight is None else weight,
                stratum=item.stratum,
                review_id=review.id,
            )
            (labels.pairs if weight is not None else labels.picks).append(pair)


def _from_datasets(session: Session, found: dict[str, JudgeLabels], judge_id: str | None) -> None:
    """One pair per (judge, dataset, labelled item): the newest finished run's verdict."""
    names = dict(session.exec(select(Dataset.id, Dataset.name)).all())
    labelled: dict[int, list[DatasetItem]] = {}
    seen: set[tuple[str, str, str]] = set()
    runs = session.exec(
        select(EvalRun).where(EvalRun.status == "finished").order_by(col(EvalRun.id).desc())
    )
    for run in runs:
        judges = _wanted(run, judge_id)
        if not judges or run.id is None:
            continue
        if run.dataset_id not in labelled:
            rows = session.exec(select(DatasetItem).where(DatasetItem.dataset_id == run.dataset_id))
            labelled[run.dataset_id] = [r for r in rows if r.human]
        items = labelled[run.dataset_id]
        if not items:
            continue
        scores = _scores(session, run.id, [i.item_id for i in items])
        for judge in judges:
            for item in items:
                said = item.human.get(judge.label)
                key = (judge.judge_id, str(names.get(run.dataset_id)), item.item_id)
                if said is None or key in seen or item.item_id not in scores:
                    continue
                seen.add(key)
                labels = found.setdefault(judge.judge_id, JudgeLabels(judge=judge))
                score = scores[item.item_id].get(judge.label)
                judged = _verdict(score)
                if judged is None:
                    labels.unscored += 1
                    continue
                labels.pairs.append(
                    LabelledPair(
                        judge_id=judge.judge_id,
                        item_id=item.item_id,
                        judge_fail=judged,
                        human_fail=said == "fail",
                        source="dataset",
                        run_id=run.id,
                        tags=tuple(item.tags or ()),
                        judge_explanation=score.explanation if score else None,
                    )
                )
