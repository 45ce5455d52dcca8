"""Ledger set-up shared by the role tests: the sample team, prompt and dataset, and a change
walked to any state through legal transitions only."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sqlmodel import Session

from integrations.db import get_engine
from roles.errors import PolicyError
from roles.ledger import ChangeRequest
from roles.pm import submit_change
from roles.prompt_file import parse_prompt_file
from roles.sample import load_sample, sample_path
from roles.states import TRANSITIONS, Role, Rule, State
from roles.transitions import transition

AUTHOR = "maya"


def load(session: Session) -> None:
    load_sample(session)
    session.commit()


def submit(session: Session, *, author: str = AUTHOR) -> ChangeRequest:
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    change = submit_change(session, spec=spec, author=author, note="few-shot examples")
    session.commit()
    return change


def path_to(target: State) -> list[Rule]:
    """The shortest chain of legal moves from submitted to ``target``."""
    queue: deque[tuple[State, list[Rule]]] = deque([(State.SUBMITTED, [])])
    seen = {State.SUBMITTED}
    while queue:
        state, path = queue.popleft()
        if state == target:
            return path
        for rule in TRANSITIONS:
            if rule.source == state and rule.target not in seen:
                seen.add(rule.target)
                queue.append((rule.target, [*path, rule]))
    raise AssertionError(f"{target} is unreachable")


def actor_for(rule: Rule, *, author: str = AUTHOR) -> str:
    """A sample-team handle allowed to make this move."""
    if rule.author_only:
        return author
    by_role = {
        Role.SYSTEM: "promptloop",
        Role.ENGINEER: "sam",
        Role.EXPERT: "omar",
        Role.ADMIN: "lee",
    }
    return by_role[rule.roles[0]]


def walk(session: Session, change_id: int, target: State) -> None:
    for rule in path_to(target):
        transition(session, change_id=change_id, target=rule.target, actor=actor_for(rule))
    session.commit()


def while_uncommitted(first: Session, second: Callable[[Session], object]) -> object:
    """Run ``second`` in a session of its own while ``first`` holds its writes uncommitted;
    commit ``first`` half a second later. Returns what ``second`` returned or the
    PolicyError it raised."""
    outcome: list[object] = []

    def run() -> None:
        with Session(get_engine()) as session:
            try:
                outcome.append(second(session))
                session.commit()
            except PolicyError as exc:
                outcome.append(exc)

    racer = threading.Thread(target=run)
    racer.start()
    time.sleep(0.5)  # the second has read what it needs and now waits on the first's write
    first.commit()
    first.close()
    racer.join(timeout=30)
    return outcome[0]


def all_at_once(*actions: Callable[[Session], object]) -> list[object]:
    """Run each action in a thread and session of its own, released together by a barrier;
    each one's result (committed) or PolicyError, in the order they finished."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = []

    def run(action: Callable[[Session], object]) -> None:
        with Session(get_engine()) as session:
            barrier.wait()
            try:
                value = action(session)
                session.commit()
                results.append(value)
            except PolicyError as exc:
                results.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
