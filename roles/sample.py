"""The sample team, prompt and dataset that ``promptloop init --sample`` loads.

Loading is idempotent: a second run finds everything in place and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sqlmodel import Session

from roles.datasets import parse_jsonl, push_dataset
from roles.prompt_file import parse_prompt_file
from roles.registry import PRODUCTION, add_version, find_prompt, label_target, move_label
from roles.roster import find_member, read_team_file, sync_team

SAMPLE_PROMPT = "support-triage"
SAMPLE_DATASET = "support-tickets"
SAMPLE_AUTHOR = "maya"
SAMPLE_DEPLOYER = "lee"


def sample_path(name: str) -> Path:
    """A file shipped in ``roles/samples`` (team.yaml, support-triage.yaml, ...)."""
    return Path(str(resources.files("roles.samples") / name))


@dataclass
class SampleReport:
    written: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written)


def load_sample(session: Session) -> SampleReport:
    report = SampleReport()
    team = sync_team(
        session,
        people=read_team_file(sample_path("team.yaml")),
        deactivate_missing=False,
        add_only=True,
    )
    report.written += [f"member {h} added" for h in team.added]
    report.written += [f"member {h} updated" for h in team.updated]
    author = find_member(session, handle=SAMPLE_AUTHOR)
    items = parse_jsonl(sample_path(f"{SAMPLE_DATASET}.jsonl"))
    dataset, created = push_dataset(
        session, name=SAMPLE_DATASET, items=items, source="sample", author_id=author.id
    )
    if created:
        report.written.append(f"dataset {SAMPLE_DATASET} v{dataset.version}")
    # The sample's own history is authored by its people whether or not they are active now.
    version, created = add_version(
        session, spec=parse_prompt_file(sample_path(f"{SAMPLE_PROMPT}.yaml")), author=author
    )
    if created:
        report.written.append(f"prompt {SAMPLE_PROMPT} v{version.number}")

    prompt = find_prompt(session, name=SAMPLE_PROMPT)
    if label_target(session, prompt=prompt, label=PRODUCTION) is None:
        move_label(
            session,
            prompt=prompt,
            label=PRODUCTION,
            version=version,
            actor=find_member(session, handle=SAMPLE_DEPLOYER),
            expected_from=None,
            note="sample: production starts at version 1",
        )
        report.written.append(f"label production → v{version.number}")
    return report
