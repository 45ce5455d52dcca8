"""Checking a dataset's human labels against the suite that uses them (at prompt push).

    label_warnings(session, spec=spec)
    # ["dataset 'support-tickets' v2: human label 'tone' (3 items, e.g. b01) names no
    #   scorer of support-triage's suite (its scorers: correct, judge_correct)"]

A label is a verdict on one scorer's metric; one naming no scorer calibrates nothing (a
typo, or a scorer renamed since), so it is reported, not refused.
"""

from __future__ import annotations

from sqlmodel import Session

from roles.calibration.identity import scorer_labels
from roles.datasets import find_dataset, items_of
from roles.errors import NotFoundError
from roles.prompt_file import PromptSpec


def label_warnings(session: Session, *, spec: PromptSpec) -> list[str]:
    if not spec.dataset:
        return []
    try:
        dataset = find_dataset(session, name=spec.dataset)
    except NotFoundError:
        return []
    items = items_of(session, dataset=dataset)
    scorers = (
        scorer_labels(spec.suite)
        if spec.suite
        else (["exact_match"] if any(i.expected is not None for i in items) else [])
    )
    unknown: dict[str, list[str]] = {}
    for item in items:
        for label in item.human or {}:
            if label not in scorers:
                unknown.setdefault(label, []).append(item.item_id)
    return [
        f"dataset '{dataset.name}' v{dataset.version}: human label '{label}' ({len(ids)} "
        f"item(s), e.g. {ids[0]}) names no scorer of {spec.name}'s suite (its scorers: "
        f"{', '.join(scorers) or 'none'})"
        for label, ids in sorted(unknown.items())
    ]
