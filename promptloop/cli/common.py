"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from roles.prompt_file import PromptSpec
    from roles.yamlfile import YamlDoc

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ActorOpt = Annotated[str, typer.Option("--as", help="Your handle on the team (see `team list`).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note kept with the handoff.")]
PromptFilterOpt = Annotated[
    str | None, typer.Option("--prompt", help="Only changes to this prompt.")
]


def read_prompt_doc(path: Path) -> YamlDoc:
    """A prompt file's document, or standard input's when the path is ``-``."""
    from roles.yamlfile import load_yaml, load_yaml_text, read_stdin  # only commands that read one

    if str(path) == "-":
        return load_yaml_text(read_stdin(), "<stdin>")
    return load_yaml(path)


def read_prompt_spec(path: Path) -> PromptSpec:
    """A prompt file, or standard input when the path is ``-`` (``prompt export | push -``)."""
    from roles.prompt_file import parse_prompt_doc

    return parse_prompt_doc(read_prompt_doc(path))
