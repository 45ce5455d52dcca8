"""Which reviewed items calibrate a judge, and how much each weighs.

    weights = inclusion_weights(review.strata, {"b01": "S", "b07": "R", ...})
    weights["b07"]          # N_R / m_R: one labelled R item stands for that many R items

A review labels a stratified probability sample (strategy ``sample``) and shows purposeful
picks beside it. The sample's labelled items calibrate, each weighted by its inverse
inclusion probability N_h / m_h (N_h: the stratum's items when the review opened; m_h: its
sample items with a label, i.e. a majority of the experts' counted votes — an even split is
no label, so the stratum's labelled items stand for it); the metrics scale each review's
weights to sum to its pairs (``JudgeLabels.weights``). The picks were chosen for the
judge's doubts and the scorers' disagreements: on them a judge looks better than it is
(the classes are balanced there), so they are left out of the metrics and only counted.
A review opened before strata had a random ``control`` share: those items count, weight 1;
its other items were picks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from roles.ledger.review import SAMPLE

CONTROL = "control"  # a review opened before strata: its uniformly drawn share


def counts_for_calibration(*, strata: Mapping[str, object] | None, strategy: str,
                           stratum: str | None) -> bool:  # fmt: skip
    """Whether a review item (of a review with ``strata``, or None before them) is part of
    the review's probability sample, not a purposeful pick."""
    if strata is None:
        return strategy == CONTROL
    return strategy == SAMPLE and stratum is not None and stratum in strata


def inclusion_weights(
    strata: Mapping[str, Collection[str]] | None, labelled: Mapping[str, str | None]
) -> dict[str, float]:
    """Item id → its weight, for the labelled items of the probability sample.

    Args:
        strata: the review's stratum → item ids (None: a review opened before strata; every
            labelled item weighs 1).
        labelled: the sample's labelled items, item id → its stratum.
    """
    if strata is None:
        return dict.fromkeys(labelled, 1.0)
    m: dict[str, int] = {}
    for stratum in labelled.values():
        if stratum is not None:
            m[stratum] = m.get(stratum, 0) + 1
    return {
        item: len(strata[h]) / m[h]
        for item, h in labelled.items()
        if h is not None and h in strata and strata[h]
    }
