"""What a classifier answers, class by class: a confusion matrix and per-class recall.

::

    matrix = confusion(results, scorer)        # None unless the answers are categorical
    matrix.recall["negative"]                  # share of 'negative' items answered 'negative'
    matrix.sole_answer                         # 'positive' when it says nothing else
    one_class_note(matrix, "candidate")        # "the candidate answers 'positive' for every item"

A metric is **categorical** when all of these hold:

- its scorer is ``exact_match`` comparing the output with the item's ``expected`` (no fixed
  ``value`` argument), so the expected values are the labels and the score is "the answer
  is the label";
- every item the scorer could score expects one string (or a one-element list) of at most
  ``MAX_LABEL_CHARS`` characters;
- those strings, normalized as the scorer compares them (its ``ignore_case``,
  ``normalize_whitespace``, ``strip_punctuation``), take 2 to ``MAX_CLASSES`` distinct
  values, and at most half as many as there are items: a class is seen twice on average,
  so short free answers that are each different ("Paris", "42") are not taken for classes.

An answer is put in the class whose label it equals after the same normalization; one that
equals no label is ``OTHER``, a failed call ``ERROR``. Recall of a class is the share of its
items answered with it (failed calls count as wrong, as the scorer cannot pass them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from roles.data_scientist.deterministic import normalized
from roles.data_scientist.registry import Scorer
from roles.data_scientist.scores import ItemResult

MAX_CLASSES = 20
MAX_LABEL_CHARS = 40
OTHER = "(other)"
ERROR = "(error)"


class Confusion(BaseModel):
    """Rows: the expected classes (most frequent first); columns: the answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    classes: list[str]
    columns: list[str]  # the classes, then OTHER and ERROR when any answer is one
    counts: list[list[int]]  # counts[i][j]: items of classes[i] answered columns[j]
    recall: dict[str, float]
    n_items: int
    sole_answer: str | None  # the one class every answered item got, if there is one

    def answered(self, column: str) -> int:
        """Items given ``column`` as their answer (0 when no item was)."""
        if column not in self.columns:
            return 0
        return sum(row[self.columns.index(column)] for row in self.counts)

    def wrong(self, label: str) -> tuple[int, int]:
        """(items of ``label`` answered otherwise, items of ``label``)."""
        row = self.counts[self.classes.index(label)]
        total = sum(row)
        return total - row[self.columns.index(label)], total


def confusion(results: Sequence[ItemResult], scorer: Scorer) -> Confusion | None:
    """The matrix of ``scorer``'s metric over ``results``, or None if it is not categorical."""
    if scorer.name != "exact_match" or scorer.args.get("value") is not None:
        return None
    options = {k: scorer.args[k] for k in _NORMALIZING if k in scorer.args}

    def norm(text: str) -> str:
        return normalized(text, **options)

    pairs: list[tuple[str, str | None]] = []  # (expected, output or None for an error)
    for result in results:
        label = _label(result.sample.expected)
        if label is None:
            if result.sample.expected is None:
                continue  # unscored: nothing to compare with
            return None  # a list of answers, a long text, a number: not a label
        pairs.append((label, result.sample.output if result.sample.error is None else None))
    shown: dict[str, str] = {}  # normalized → the label as the dataset first spells it
    for label, _ in pairs:
        shown.setdefault(norm(label), label)
    if not 2 <= len(shown) <= min(MAX_CLASSES, len(pairs) // 2):
        return None
    tally: Counter[tuple[str, str]] = Counter()
    for label, output in pairs:
        answer = ERROR if output is None else shown.get(norm(output), OTHER)
        tally[(shown[norm(label)], answer)] += 1
    sizes = Counter(shown[norm(label)] for label, _ in pairs)
    classes = sorted(sizes, key=lambda c: (-sizes[c], c))
    extra = [c for c in (OTHER, ERROR) if any(answer == c for _, answer in tally)]
    columns = classes + extra
    counts = [[tally[(row, col)] for col in columns] for row in classes]
    answered = {answer for (_, answer), n in tally.items() if n and answer != ERROR}
    sole = next(iter(answered)) if len(answered) == 1 else None
    return Confusion(
        metric=scorer.label,
        classes=classes,
        columns=columns,
        counts=counts,
        recall={c: tally[(c, c)] / sizes[c] for c in classes},
        n_items=len(pairs),
        sole_answer=sole if sole in sizes else None,
    )


def confusions(results: Sequence[ItemResult], scorers: Sequence[Scorer]) -> list[Confusion]:
    """One matrix per categorical metric of the suite, in the suite's order."""
    found = (confusion(results, scorer) for scorer in scorers)
    return [matrix for matrix in found if matrix is not None]


def one_class_note(matrix: Confusion, side: str) -> str | None:
    """ "the candidate answers 'positive' for every item", when it does."""
    if matrix.sole_answer is None:
        return None
    errors = matrix.answered(ERROR)
    where = "every item" if not errors else f"every item it answered ({errors} failed)"
    return f"the {side} answers {matrix.sole_answer!r} for {where}"


def worst_class(matrix: Confusion) -> tuple[str, int, int]:
    """The class with the lowest recall: (label, items answered wrong, items)."""
    label = min(matrix.classes, key=lambda c: (matrix.recall[c], c))
    return (label, *matrix.wrong(label))


def as_rows(matrix: Confusion) -> list[list[str]]:
    """Display cells: expected class, one count per answer column, recall."""
    return [
        [label, *(str(n) for n in row), f"{matrix.recall[label]:.2f}"]
        for label, row in zip(matrix.classes, matrix.counts, strict=True)
    ]


_NORMALIZING = ("ignore_case", "normalize_whitespace", "strip_punctuation")


def _label(expected: Any) -> str | None:
    if isinstance(expected, list) and len(expected) == 1:
        expected = expected[0]
    if isinstance(expected, str) and 0 < len(expected.strip()) <= MAX_LABEL_CHARS:
        return expected
    return None
