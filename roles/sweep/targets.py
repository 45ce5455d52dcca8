"""Which prompts a sweep watches: every prompt whose ``production`` label points somewhere.

::

    targets = sweep_targets(session)                          # all, but disabled ones
    targets = sweep_targets(session, prompt="support-triage")  # one, even if disabled
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from roles.datasets import find_dataset
from roles.errors import InputError
from roles.ledger import Label, Prompt, PromptVersion
from roles.registry import PRODUCTION, find_prompt
from roles.sweep.policy import sweep_policy


@dataclass(frozen=True)
class SweepTarget:
    prompt: str
    prompt_id: int
    version_id: int
    version_number: int
    model: str
    dataset_id: int


def sweep_targets(session: Session, *, prompt: str | None = None) -> list[SweepTarget]:
    """The production versions to sweep, by prompt name.

    Raises:
        InputError: ``prompt`` is unknown, has no production label, or names no dataset.
    """
    if prompt is not None:
        found = find_prompt(session, name=prompt)
        label = session.exec(
            select(Label).where(Label.prompt_id == found.id).where(Label.name == PRODUCTION)
        ).first()
        if label is None:
            raise InputError(
                f"prompt '{prompt}' has no '{PRODUCTION}' label, so there is nothing deployed "
                f"to sweep (see `promptloop prompt show {prompt}`)"
            )
        target = _target(session, found, label.version_id, strict=True)
        assert target is not None  # strict: raises rather than leave it out
        return [target]
    rows = session.exec(
        select(Prompt, Label.version_id)
        .join(Label, col(Label.prompt_id) == col(Prompt.id))
        .where(Label.name == PRODUCTION)
        .order_by(col(Prompt.name))
    ).all()
    targets = [_target(session, p, version_id, strict=False) for p, version_id in rows]
    return [t for t in targets if t is not None]


def _target(
    session: Session, prompt: Prompt, version_id: int, *, strict: bool
) -> SweepTarget | None:
    version = session.get(PromptVersion, version_id)
    assert version is not None and prompt.id is not None and version.id is not None
    if not strict and not sweep_policy(version.suite).enabled:
        return None
    if not version.dataset:
        if not strict:
            return None
        raise InputError(
            f"prompt '{prompt.name}' v{version.number} (production) names no dataset to sweep"
        )
    dataset = find_dataset(session, name=version.dataset)
    assert dataset.id is not None
    return SweepTarget(
        prompt=prompt.name,
        prompt_id=prompt.id,
        version_id=version.id,
        version_number=version.number,
        model=version.model,
        dataset_id=dataset.id,
    )
