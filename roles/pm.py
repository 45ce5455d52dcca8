"""The prompt author's part (a product manager, or an expert acting as one).

Submit a change, revise it after the loop sends it back, or withdraw it. Every
candidate is checked first: its template must render for every item of its dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from roles.clock import utcnow
from roles.datasets import find_dataset
from roles.errors import ConflictError, InputError, PolicyError
from roles.ledger import ChangeRequest, Dataset, Member, PromptVersion
from roles.prompt_file import PromptSpec, parse_prompt_doc
from roles.registry import PRODUCTION, add_version, find_prompt, label_target
from roles.render_check import check_renders
from roles.roster import require_member
from roles.states import AUTHORS, OPEN_STATES, Role, State
from roles.transitions import first_handoff, get_change, transition

if TYPE_CHECKING:
    from roles.yamlfile import YamlDoc  # YAML is imported only by commands that read a file


def dataset_for(session: Session, spec: PromptSpec, base: PromptVersion | None) -> Dataset | None:
    name = spec.dataset or (base.dataset if base else None)
    return find_dataset(session, name=name) if name else None


def require_author(session: Session, *, handle: str) -> tuple[Member, Role]:
    """The active member ``handle`` and the role they submit with (pm, or expert acting as
    a prompt author), or a RoleError: who may propose or revise a change."""
    return require_member(session, handle=handle, roles=AUTHORS)


def submit_doc(
    session: Session,
    *,
    doc: YamlDoc,
    author: str,
    note: str | None = None,
    not_evaluated: str | None = None,
) -> ChangeRequest:
    """``change submit`` on a prompt document: a file (the CLI) or a form's fields (Slack,
    ``roles.prompt_fields``), through the same checks; an error says where (FieldError)."""
    spec = parse_prompt_doc(doc)
    return submit_change(session, spec=spec, author=author, note=note, not_evaluated=not_evaluated)


def submit_change(
    session: Session,
    *,
    spec: PromptSpec,
    author: str,
    note: str | None = None,
    not_evaluated: str | None = None,
) -> ChangeRequest:
    """Open a change request proposing ``spec`` as the prompt's next production version.

    ``not_evaluated`` says why no evaluation starts now (e.g. ``"--no-eval"``), so the
    change is shown as waiting for someone to run ``change evaluate``, not for promptloop.
    Two submits of the same file at once open one change; the other gets a PolicyError.
    """
    member, role = require_author(session, handle=author)
    prompt = find_prompt(session, name=spec.name)
    base = label_target(session, prompt=prompt, label=PRODUCTION)
    dataset = dataset_for(session, spec, base)
    if dataset is None:
        raise InputError(
            f"'{spec.name}' names no eval dataset, so the change could not be evaluated; add "
            "`dataset: NAME` to the file (see `promptloop dataset list`)"
        )
    check_renders(session, spec=spec, dataset=dataset)
    if base is not None and base.content_hash == spec.content_hash():
        raise InputError(
            f"the file is identical to production (version {base.number} of '{spec.name}'); "
            "there is nothing to change"
        )
    candidate = _candidate(session, spec=spec, author=member)
    _refuse_duplicate(session, candidate=candidate, name=spec.name)
    now = utcnow()
    assert prompt.id is not None and candidate.id is not None and member.id is not None
    change = ChangeRequest(
        prompt_id=prompt.id,
        base_version_id=base.id if base else None,
        candidate_version_id=candidate.id,
        author_id=member.id,
        state=State.SUBMITTED.value,
        note=note,
        not_evaluated=not_evaluated,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(change)
    except IntegrityError:
        # The same version was proposed by a submit that committed while we checked:
        # the database's one-open-change-per-version index refused ours.
        _refuse_duplicate(session, candidate=candidate, name=spec.name)
        raise
    first_handoff(session, change=change, actor_id=member.id, role=role.value, note=note)
    return change


def _candidate(session: Session, *, spec: PromptSpec, author: Member) -> PromptVersion:
    """The candidate version for ``spec``: stored now, or the identical one already stored
    (also when another submit of the same file stored it at this very moment)."""
    try:
        candidate, _ = add_version(session, spec=spec, author=author)
    except ConflictError:
        # Once more: now it finds what the other submit stored.
        candidate, _ = add_version(session, spec=spec, author=author)
    return candidate


def revise_change(
    session: Session,
    *,
    change_id: int,
    spec: PromptSpec,
    author: str,
    note: str | None = None,
    not_evaluated: str | None = None,
) -> ChangeRequest:
    """A new candidate for a change the loop sent back; the loop runs again from submitted."""
    change = get_change(session, change_id)
    prompt = find_prompt(session, name=spec.name)
    if prompt.id != change.prompt_id:
        raise InputError(f"change {change_id} is not about prompt '{spec.name}'")
    member, _ = require_author(session, handle=author)
    if member.id != change.author_id:
        raise PolicyError(f"only the author of change {change_id} may revise it")
    if State(change.state) not in (State.EVAL_FAILED, State.CHANGES_REQUESTED):
        raise PolicyError(
            f"change {change_id} is {change.state}; only eval_failed or changes_requested "
            "changes can be revised"
        )
    # A revision is judged against production as it is now, which may have moved.
    base = label_target(session, prompt=prompt, label=PRODUCTION)
    check_renders(session, spec=spec, dataset=dataset_for(session, spec, base))
    if base is not None and base.content_hash == spec.content_hash():
        raise InputError(
            f"the file is identical to production (version {base.number} of '{spec.name}'); "
            "there is nothing to change"
        )
    candidate = _candidate(session, spec=spec, author=member)
    if candidate.id == change.candidate_version_id:
        raise InputError(f"the file is identical to the current candidate of change {change_id}")
    _refuse_duplicate(session, candidate=candidate, name=spec.name)
    previous = change.candidate_version_id
    change.candidate_version_id = candidate.id  # type: ignore[assignment]
    change.base_version_id = base.id if base else None
    change.not_evaluated = not_evaluated
    session.add(change)
    session.flush()
    transition(
        session,
        change_id=change_id,
        target=State.SUBMITTED,
        actor=author,
        note=note,
        payload={"revised_from_version_id": previous, "candidate_version": candidate.number},
    )
    return change


def withdraw_change(
    session: Session, *, change_id: int, author: str, note: str | None = None
) -> ChangeRequest:
    """Close an open change: ``author`` is its author, or an admin giving a reason in ``note``
    (e.g. for a change whose author has left the team)."""
    transition(session, change_id=change_id, target=State.WITHDRAWN, actor=author, note=note)
    return get_change(session, change_id)


def expect_evaluation(session: Session, *, change_id: int) -> None:
    """An evaluation of the change is being started: it no longer waits for a person."""
    change = get_change(session, change_id)
    if change.not_evaluated is not None:
        change.not_evaluated = None
        session.add(change)
        session.flush()


def _refuse_duplicate(session: Session, *, candidate: PromptVersion, name: str) -> None:
    open_change = session.exec(
        select(ChangeRequest)
        .where(ChangeRequest.candidate_version_id == candidate.id)
        .where(col(ChangeRequest.state).in_([s.value for s in OPEN_STATES]))
    ).first()
    if open_change is not None:
        raise PolicyError(
            f"change {open_change.id} already proposes version {candidate.number} of '{name}' "
            f"({open_change.state}); see `promptloop change show {open_change.id}`"
        )
