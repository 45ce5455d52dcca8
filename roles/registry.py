"""The prompt registry: immutable numbered versions and labels that move with a history.

Pushing content identical to an existing version returns that version. Label moves
are conditional on where the label pointed when read, so a label moves exactly once
even when two deploys race.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from roles.clock import utcnow
from roles.datasets import find_dataset
from roles.errors import ConflictError, InputError, NotFoundError
from roles.ledger import Deployment, Label, LabelMove, Member, Prompt, PromptVersion
from roles.prompt_file import PromptSpec
from roles.render_check import check_renders
from roles.roster import require_member
from roles.states import Role

PRODUCTION = "production"
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
PUSH_ROLES = (Role.PM, Role.EXPERT, Role.DATA_SCIENTIST, Role.ADMIN)


def find_prompt(session: Session, *, name: str) -> Prompt:
    prompt = session.exec(select(Prompt).where(Prompt.name == name)).first()
    if prompt is None:
        raise NotFoundError(f"there is no prompt named '{name}' (see `promptloop prompt list`)")
    return prompt


def get_or_create_prompt(session: Session, *, name: str) -> Prompt:
    prompt = session.exec(select(Prompt).where(Prompt.name == name)).first()
    if prompt is None:
        prompt = Prompt(name=name)
        session.add(prompt)
        session.flush()
    return prompt


def add_version(
    session: Session, *, spec: PromptSpec, author: Member
) -> tuple[PromptVersion, bool]:
    """Store ``spec`` as the prompt's next version, or return the identical one (created=False)."""
    prompt = get_or_create_prompt(session, name=spec.name)
    digest = spec.content_hash()
    existing = session.exec(
        select(PromptVersion)
        .where(PromptVersion.prompt_id == prompt.id)
        .where(PromptVersion.content_hash == digest)
    ).first()
    if existing is not None:
        return existing, False
    number = (
        session.exec(
            select(func.max(PromptVersion.number)).where(PromptVersion.prompt_id == prompt.id)
        ).one()
        or 0
    ) + 1
    content = spec.content()
    assert prompt.id is not None
    version = PromptVersion(
        prompt_id=prompt.id,
        number=number,
        content_hash=digest,
        author_id=author.id,
        **content,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        raise ConflictError(
            f"someone pushed version {number} of '{spec.name}' at the same moment; push again"
        ) from None
    return version, True


def push(session: Session, *, spec: PromptSpec, actor: str) -> tuple[PromptVersion, bool]:
    """Store a version as ``actor``; a named dataset must exist and every item must render."""
    member, _ = require_member(session, handle=actor, roles=PUSH_ROLES)
    if spec.dataset:
        try:
            dataset = find_dataset(session, name=spec.dataset)
        except NotFoundError:
            raise InputError(
                f"'{spec.name}' names dataset '{spec.dataset}', which does not exist; push it "
                "first (`promptloop dataset push FILE.jsonl --name NAME`)"
            ) from None
        check_renders(session, spec=spec, dataset=dataset)
    return add_version(session, spec=spec, author=member)


def version_by_number(session: Session, *, prompt: Prompt, number: int) -> PromptVersion:
    version = session.exec(
        select(PromptVersion)
        .where(PromptVersion.prompt_id == prompt.id)
        .where(PromptVersion.number == number)
    ).first()
    if version is None:
        raise NotFoundError(f"prompt '{prompt.name}' has no version {number}")
    return version


def label_target(session: Session, *, prompt: Prompt, label: str) -> PromptVersion | None:
    row = session.exec(
        select(Label).where(Label.prompt_id == prompt.id).where(Label.name == label)
    ).first()
    return session.get(PromptVersion, row.version_id) if row else None


def latest_version(session: Session, *, prompt: Prompt) -> PromptVersion:
    version = session.exec(
        select(PromptVersion)
        .where(PromptVersion.prompt_id == prompt.id)
        .order_by(col(PromptVersion.number).desc())
    ).first()
    if version is None:
        raise NotFoundError(f"prompt '{prompt.name}' has no versions")
    return version


def resolve(
    session: Session, *, name: str, version: int | None = None, label: str | None = None
) -> PromptVersion:
    """A version by number, by label, or else production (falling back to the latest)."""
    if version is not None and label is not None:
        raise InputError("give either a version or a label, not both")
    prompt = find_prompt(session, name=name)
    if version is not None:
        return version_by_number(session, prompt=prompt, number=version)
    if label is not None:
        found = label_target(session, prompt=prompt, label=label)
        if found is None:
            raise NotFoundError(f"prompt '{name}' has no label '{label}'")
        return found
    return label_target(session, prompt=prompt, label=PRODUCTION) or latest_version(
        session, prompt=prompt
    )


def labels_of(session: Session, *, prompt: Prompt) -> dict[str, int]:
    rows = session.exec(
        select(Label.name, PromptVersion.number)
        .join(PromptVersion, col(PromptVersion.id) == Label.version_id)
        .where(Label.prompt_id == prompt.id)
        .order_by(col(Label.name))
    ).all()
    return {name: number for name, number in rows}


def move_label(
    session: Session,
    *,
    prompt: Prompt,
    label: str,
    version: PromptVersion,
    actor: Member,
    expected_from: int | bool | None = False,
    change_id: int | None = None,
    note: str | None = None,
) -> LabelMove:
    """Point ``label`` at ``version`` and record the move.

    Args:
        expected_from: the version id the caller believes the label points at now
            (None: the label must not exist yet). When given and stale, nothing is
            written and a ConflictError says so. False: no expectation.
    """
    assert prompt.id is not None and version.id is not None and actor.id is not None
    if version.prompt_id != prompt.id:
        raise InputError(f"version {version.number} does not belong to '{prompt.name}'")
    if not LABEL_PATTERN.match(label):
        raise InputError(
            f"'{label}' is not a label name (letters, digits, '.', '_' or '-', at most 100)"
        )
    row = session.exec(
        select(Label).where(Label.prompt_id == prompt.id).where(Label.name == label)
    ).first()
    current = row.version_id if row else None
    if expected_from is not False and expected_from != current:
        raise ConflictError(f"label '{label}' of '{prompt.name}' was moved by someone else")
    now = utcnow()
    if row is None:
        try:
            with session.begin_nested():
                session.add(Label(prompt_id=prompt.id, name=label, version_id=version.id))
        except IntegrityError:
            raise ConflictError(f"label '{label}' was created by someone else") from None
    else:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Label)
            .where(col(Label.id) == row.id)
            .where(col(Label.version_id) == current)
            .values(version_id=version.id, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        moved = result.rowcount
        if moved != 1:
            raise ConflictError(f"label '{label}' of '{prompt.name}' was moved by someone else")
    move = LabelMove(
        prompt_id=prompt.id,
        label=label,
        from_version_id=current,
        to_version_id=version.id,
        actor_id=actor.id,
        change_id=change_id,
        note=note,
        at=now,
    )
    session.add(move)
    session.flush()
    return move


@dataclass
class LabelMoveView:
    label: str
    from_version: int | None
    to_version: int
    actor: str
    at: datetime
    change_id: int | None
    note: str | None


def label_history(session: Session, *, prompt: Prompt) -> list[LabelMoveView]:
    numbers = dict(
        session.exec(
            select(PromptVersion.id, PromptVersion.number).where(
                PromptVersion.prompt_id == prompt.id
            )
        ).all()
    )
    handles = dict(session.exec(select(Member.id, Member.handle)).all())
    moves = session.exec(
        select(LabelMove).where(LabelMove.prompt_id == prompt.id).order_by(col(LabelMove.id))
    ).all()
    deployments = _deployments(session, prompt=prompt)
    return [
        LabelMoveView(
            label=m.label,
            from_version=numbers.get(m.from_version_id) if m.from_version_id else None,
            to_version=numbers[m.to_version_id],
            actor=handles.get(m.actor_id, "?") if m.actor_id else "?",
            at=m.at,
            change_id=m.change_id if m.change_id is not None else _deployed_by(m, deployments),
            note=m.note,
        )
        for m in moves
    ]


def _deployments(session: Session, *, prompt: Prompt) -> list[Deployment]:
    return list(
        session.exec(
            select(Deployment)
            .where(Deployment.prompt_id == prompt.id)
            .where(Deployment.kind == "rollback")
            .where(col(Deployment.change_id).is_not(None))
        ).all()
    )


def _deployed_by(move: LabelMove, deployments: list[Deployment]) -> int | None:
    """The change a production move without one rolled back: a rollback's label move names
    no change, its deployment row (same versions, the same transaction) does."""
    if move.label != PRODUCTION:
        return None
    same = [
        d
        for d in deployments
        if d.from_version_id == move.from_version_id
        and d.to_version_id == move.to_version_id
        and abs((d.created_at - move.at).total_seconds()) < 60
    ]
    if not same:
        return None
    return min(same, key=lambda d: abs((d.created_at - move.at).total_seconds())).change_id


def versions_of(session: Session, *, prompt: Prompt) -> list[PromptVersion]:
    return list(
        session.exec(
            select(PromptVersion)
            .where(PromptVersion.prompt_id == prompt.id)
            .order_by(col(PromptVersion.number))
        ).all()
    )


def spec_of(version: PromptVersion, *, name: str) -> PromptSpec:
    """The spec a version was made from (export reads it back to the same hash)."""
    return PromptSpec.model_validate(
        {
            "name": name,
            "model": version.model,
            "template": version.template,
            "description": version.description,
            "system": version.system,
            "params": version.params,
            "examples": version.examples,
            "dataset": version.dataset,
            "suite": version.suite,
        }
    )


def version_diff(old: PromptVersion | None, new: PromptVersion, *, name: str) -> str:
    """A unified diff of two versions as their prompt files (``old`` None: all added)."""
    import difflib

    from roles.prompt_file import export_yaml

    text_old = export_yaml(spec_of(old, name=name)) if old is not None else ""
    text_new = export_yaml(spec_of(new, name=name))
    return "".join(
        difflib.unified_diff(
            text_old.splitlines(keepends=True),
            text_new.splitlines(keepends=True),
            fromfile=f"{name} v{old.number}" if old is not None else "(none)",
            tofile=f"{name} v{new.number}",
        )
    )
