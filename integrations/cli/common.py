"""Options shared by every command."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ActorOpt = Annotated[str, typer.Option("--as", help="Your handle on the team (see `team list`).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note kept with the handoff.")]
