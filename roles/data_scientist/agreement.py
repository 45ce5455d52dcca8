"""How well the experts agree with each other: the ceiling a judge is measured against.

::

    expert_agreement({"item-1": {"ana": True, "bo": True}, "item-2": {"ana": False, "bo": True}})
    # ExpertAgreement(method="cohen", value=0.0, n_items=2, n_raters=2)
    majority([True, True, False])   # True; majority([True, False]) is None (a tie)

Which coefficient, on the items with at least two votes:

- ``cohen``: exactly two experts voted, both on every such item (scikit-learn's
  ``cohen_kappa_score``);
- ``fleiss``: every such item has the same number of votes, from any of three or more
  experts (Fleiss 1971);
- ``krippendorff``: the number of votes differs between items (nominal α, which takes
  missing votes as they come; Krippendorff 2011);
- ``none``: no item has two votes.

``value`` is None when the coefficient is undefined: every vote the same class (chance
agreement 1; the experts agree, but on data that cannot tell agreement from chance).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

Method = Literal["cohen", "fleiss", "krippendorff", "none"]
Item = TypeVar("Item", bound=Hashable)
Expert = TypeVar("Expert", bound=Hashable)


@dataclass(frozen=True)
class ExpertAgreement:
    method: Method
    value: float | None
    n_items: int  # items with at least two votes
    n_raters: int  # distinct experts who voted on them


def majority(labels: Sequence[bool]) -> bool | None:
    """The label most votes gave; None on a tie (and for no votes)."""
    fails = sum(1 for label in labels if label)
    passes = len(labels) - fails
    return None if fails == passes else fails > passes


def expert_agreement(votes: Mapping[Item, Mapping[Expert, bool]]) -> ExpertAgreement:
    """Agreement of ``votes[item][expert] = expert_says_fail`` (see the module docstring)."""
    items = [dict(by_expert) for by_expert in votes.values() if len(by_expert) >= 2]
    raters = {expert for by_expert in items for expert in by_expert}
    if not items:
        return ExpertAgreement("none", None, 0, len(raters))
    if len(raters) == 2:
        first, second = sorted(raters, key=repr)
        kappa = cohen_kappa([v[first] for v in items], [v[second] for v in items])
        return ExpertAgreement("cohen", kappa, len(items), 2)
    units = [list(by_expert.values()) for by_expert in items]
    if len({len(unit) for unit in units}) == 1:
        return ExpertAgreement("fleiss", fleiss_kappa(units), len(items), len(raters))
    return ExpertAgreement("krippendorff", krippendorff_alpha(units), len(items), len(raters))


def cohen_kappa(first: Sequence[bool], second: Sequence[bool]) -> float | None:
    """scikit-learn's Cohen's κ of two raters' labels; None where it is undefined (nan)."""
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():  # "undefined" is our None, not a warning
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(first, second, labels=[False, True]))
    return None if math.isnan(kappa) else kappa


def fleiss_kappa(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' κ of units that each carry the same number (>= 2) of category labels."""
    m = len(units[0])
    if m < 2 or any(len(unit) != m for unit in units):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings on every unit")
    tallies = [Counter(unit) for unit in units]
    totals: Counter[Hashable] = Counter()
    for tally in tallies:
        totals.update(tally)
    observed = math.fsum(
        (sum(c * c for c in tally.values()) - m) / (m * (m - 1)) for tally in tallies
    ) / len(units)
    chance = math.fsum((c / (m * len(units))) ** 2 for c in totals.values())
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def krippendorff_alpha(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Krippendorff's α for nominal data; each unit lists the values it got (missing ones
    simply absent). Units with fewer than two values are not pairable and are left out."""
    pairable = [Counter(unit) for unit in units if len(unit) >= 2]
    # The coincidence matrix, kept as its diagonal and margins: nominal disagreement is
    # 0 on the diagonal and 1 off it.
    agree: dict[Hashable, float] = defaultdict(float)
    margins: Counter[Hashable] = Counter()
    for tally in pairable:
        m = sum(tally.values())
        for value, count in tally.items():
            agree[value] += count * (count - 1) / (m - 1)
            margins[value] += count
    total = sum(margins.values())
    if total == 0:
        return None
    observed = 1 - math.fsum(agree.values()) / total
    expected = 1 - math.fsum(c * (c - 1) for c in margins.values()) / (total * (total - 1))
    return None if expected == 0 else 1 - observed / expected
