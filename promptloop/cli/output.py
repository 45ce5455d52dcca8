"""How commands print: one JSON document with ``--json``, Rich tables otherwise.

Data goes to stdout, messages and errors to stderr, so ``--json`` output can be piped.
Nothing printed is read as Rich markup (or emoji codes): names, notes, model outputs and
exception messages appear verbatim (``pip install 'promptloop[local]'`` keeps its
``[local]``). Our own styling is explicit: ``styled("plain", ("bold words", "bold"))``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _console(*, stderr: bool) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)


out = _console(stderr=False)
err = _console(stderr=True)


def reset_consoles() -> None:
    """Look at the terminal again (a warm process's child took over another one's): the
    same objects, which other modules hold, detect colours and width anew."""
    out.__dict__.update(_console(stderr=False).__dict__)
    err.__dict__.update(_console(stderr=True).__dict__)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("-" if cell is None else str(cell) for cell in row))
    if out.is_terminal:
        out.print(grid)  # fits the terminal's width
        return
    # Piped (to a file, grep, less): every character of every cell, not cut at 80 columns.
    from rich.measure import Measurement

    wide = Measurement.get(out, out.options.update(max_width=100_000), grid).maximum
    width = out.width
    out.width = max(width, wide)
    try:
        out.print(grid)
    finally:
        out.width = width


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from plain strings and ``(text, style)`` pairs; no part is read as markup."""
    return Text.assemble(*parts)


def say(message: str | Text) -> None:
    """A human-facing note on stderr (never mixed into data on stdout), printed verbatim."""
    err.print(message)


def error(message: str, *, kind: str = "error") -> None:
    """``error: MESSAGE`` on stderr, the message verbatim."""
    say(styled((f"{kind}:", "red"), " ", message))


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
