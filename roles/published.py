"""A prompt version as agents receive it: detached from the database, renderable.

Read by ``promptloop.get_prompt`` (in-process, cached) and by the gateway's
``GET /prompts/{name}`` (over HTTP, with an ETag).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from roles.registry import find_prompt, labels_of, resolve


@dataclass(frozen=True)
class PromptVersionView:
    """One immutable prompt version, detached from the database."""

    name: str
    version: int
    model: str
    params: dict[str, Any]
    system: str | None
    template: str
    examples: list[dict[str, Any]] = field(default_factory=list)
    dataset: str | None = None
    labels: tuple[str, ...] = ()

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """OpenAI-style chat messages; an undefined variable raises ``roles.templates.RenderError``."""
        from roles.templates import render_messages  # Jinja2: only when rendering

        return render_messages(
            system=self.system, template=self.template, examples=self.examples, variables=variables
        )


def read_version(
    session: Session, *, name: str, label: str | None, version: int | None
) -> PromptVersionView:
    """The version of ``name`` that ``label`` points at (or ``version``, when given)."""
    found = resolve(session, name=name, version=version, label=None if version is not None else label)
    labels = labels_of(session, prompt=find_prompt(session, name=name))
    return PromptVersionView(
        name=name,
        version=found.number,
        model=found.model,
        params=dict(found.params),
        system=found.system,
        template=found.template,
        examples=list(found.examples),
        dataset=found.dataset,
        labels=tuple(k for k, v in labels.items() if v == found.number),
    )
