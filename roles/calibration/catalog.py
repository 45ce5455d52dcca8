"""Every LLM judge the ledger knows: in a prompt version's suite or an eval run's.

known_judges(session)["3f9c2a71d0b4"].prompts   # ["support-triage"]
find_judge(session, "3f9c")                     # an id prefix or a metric label
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from roles.calibration.identity import JudgeRef, judges_in_suite
from roles.errors import InputError, NotFoundError
from roles.ledger import EvalRun, Prompt, PromptVersion


@dataclass
class KnownJudge:
    judge: JudgeRef
    prompts: list[str] = field(default_factory=list)  # the prompts whose suites hold it
    suite: Mapping[str, Any] | None = None  # the newest prompt version's suite holding it


def known_judges(session: Session) -> dict[str, KnownJudge]:
    names = dict(session.exec(select(Prompt.id, Prompt.name)).all())
    version_prompt = dict(session.exec(select(PromptVersion.id, PromptVersion.prompt_id)).all())
    suites: list[tuple[str | None, Mapping[str, Any] | None, bool]] = [
        (names.get(prompt_id), suite, True)
        for prompt_id, suite in session.exec(
            select(PromptVersion.prompt_id, PromptVersion.suite).order_by(col(PromptVersion.id))
        )
    ]
    seen_hashes: set[str] = set()
    for suite_hash, stored, version_id in session.exec(
        select(EvalRun.suite_hash, EvalRun.suite, EvalRun.prompt_version_id)
    ):
        if suite_hash not in seen_hashes:
            seen_hashes.add(suite_hash)
            suites.append((names.get(version_prompt.get(version_id)), stored, False))
    found: dict[str, KnownJudge] = {}
    for prompt, suite, a_version in suites:
        for judge in judges_in_suite(suite):
            entry = found.setdefault(judge.judge_id, KnownJudge(judge=judge))
            if a_version:  # a run's stored suite keeps no policies: a version's does
                entry.suite = suite
            if prompt and prompt not in entry.prompts:
                entry.prompts.append(prompt)
    return found


def find_judge(session: Session, ref: str) -> KnownJudge:
    """The judge ``ref`` names: its id, a unique id prefix, or a unique metric label."""
    judges = known_judges(session)
    matches = [j for j in judges.values() if j.judge.judge_id.startswith(ref)]
    if not matches:
        matches = [j for j in judges.values() if j.judge.label == ref]
    if not matches:
        raise NotFoundError(f"there is no LLM judge '{ref}' (see `promptloop judge list`)")
    if len(matches) > 1:
        ids = ", ".join(f"{j.judge.judge_id} ({j.judge.label})" for j in matches)
        raise InputError(f"'{ref}' names {len(matches)} judges: {ids}; give the id")
    return matches[0]
