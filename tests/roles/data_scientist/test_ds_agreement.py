"""Agreement between experts against scikit-learn, Fleiss' worked example and
Krippendorff's own; majority votes and ties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from roles.data_scientist.agreement import (
    ExpertAgreement,
    expert_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    majority,
)


def test_majority_and_ties() -> None:
    assert majority([True, True, False]) is True
    assert majority([False, False, True]) is False
    assert majority([True]) is True
    assert majority([True, False]) is None
    assert majority([True, True, False, False]) is None
    assert majority([]) is None


def test_two_experts_get_cohens_kappa_as_sklearn() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        n = int(rng.integers(2, 30))
        ana = rng.uniform(size=n) < rng.uniform()
        bo = np.where(rng.uniform(size=n) < 0.7, ana, ~ana)
        votes = {
            f"i{i}": {"ana": bool(a), "bo": bool(b)}
            for i, (a, b) in enumerate(zip(ana, bo, strict=True))
        }
        votes["single"] = {"ana": True}  # one vote: not an agreement item
        ours = expert_agreement(votes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = float(cohen_kappa_score(ana, bo, labels=[False, True]))
        assert (ours.method, ours.n_items, ours.n_raters) == ("cohen", n, 2)
        if np.isnan(theirs):
            assert ours.value is None
        else:
            assert ours.value == pytest.approx(theirs)


def test_fleiss_kappa_of_the_worked_example() -> None:
    # Wikipedia's "Fleiss' kappa" example: 10 subjects, 14 raters, 5 categories;
    # P-bar = 0.378, P-bar_e = 0.213, kappa = 0.210.
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]  # fmt: skip
    units = [[category for category, k in enumerate(row) for _ in range(k)] for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_by_hand_on_three_experts() -> None:
    # Items (fails of 3): 3, 0, 2, 1. Per-item agreement P_i = (sum n_ij^2 - 3) / 6:
    # 1, 1, 1/3, 1/3 -> P-bar = 2/3. Fail share 6/12 -> P_e = 1/2. kappa = (2/3 - 1/2) / (1/2).
    votes = {
        "a": {"x": True, "y": True, "z": True},
        "b": {"x": False, "y": False, "z": False},
        "c": {"x": True, "y": True, "w": False},  # a fourth expert: any three may vote
        "d": {"x": True, "y": False, "z": False},
    }
    result = expert_agreement(votes)
    assert (result.method, result.n_items, result.n_raters) == ("fleiss", 4, 4)
    assert result.value == pytest.approx(1 / 3)


def test_krippendorffs_alpha_of_his_own_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 observers x
    # 12 units example with missing values: nominal alpha = 0.743.
    rows = ["1 2 3 3 2 1 4 1 2 . . .", "1 2 3 3 2 2 4 1 2 5 . 3",
            ". 3 3 3 2 3 4 2 2 5 1 .", "1 2 3 3 2 4 4 1 2 5 1 ."]  # fmt: skip
    table = [row.split() for row in rows]
    units = [[row[u] for row in table if row[u] != "."] for u in range(12)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_missing_votes_use_krippendorff() -> None:
    votes = {
        "a": {"x": True, "y": True, "z": True},
        "b": {"x": False, "y": False},
        "c": {"y": True, "z": False},
        "d": {"x": False},  # one vote: left out
    }
    result = expert_agreement(votes)
    assert (result.method, result.n_items, result.n_raters) == ("krippendorff", 3, 3)
    # by hand: 7 pairable values, 4 fails 3 passes; coincidences within units:
    # a: 3 fails -> o_ff += 3; b: 2 passes -> o_pp += 2; c: 1 fail 1 pass -> o_fp = o_pf = 1.
    # D_o = 2/7; D_e = (4*3 + 3*4) / (7*6) = 24/42; alpha = 1 - (2/7) / (24/42) = 1/2
    assert result.value == pytest.approx(0.5)


def test_degenerate_expert_agreement() -> None:
    assert expert_agreement({}) == ExpertAgreement("none", None, 0, 0)
    assert expert_agreement({"a": {"x": True}}) == ExpertAgreement("none", None, 0, 0)
    # everyone always says pass: agreement is total, the coefficient undefined
    same = {f"i{i}": {"x": False, "y": False} for i in range(5)}
    assert expert_agreement(same) == ExpertAgreement("cohen", None, 5, 2)
    same3 = {f"i{i}": {"x": False, "y": False, "z": False} for i in range(5)}
    assert expert_agreement(same3) == ExpertAgreement("fleiss", None, 5, 3)
    ragged = {"a": {"x": True, "y": True, "z": True}, "b": {"x": True, "y": True}}
    assert expert_agreement(ragged) == ExpertAgreement("krippendorff", None, 2, 3)
    perfect = {"a": {"x": True, "y": True}, "b": {"x": False, "y": False}}
    assert expert_agreement(perfect).value == pytest.approx(1.0)
