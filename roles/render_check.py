"""Does a prompt render for every item of its dataset? Checked before anything is written.

Few-shot examples are checked where the prompt file is read (``roles.prompt_file``), with
their line numbers; this checks the items, which live in the ledger.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from roles.datasets import items_of
from roles.errors import FieldError
from roles.ledger import Dataset
from roles.prompt_file import PromptSpec


def check_renders(session: Session, *, spec: PromptSpec, dataset: Dataset | None) -> int:
    """Render the candidate for every dataset item; return the item count.

    Raises:
        FieldError: naming the first item that fails and the missing variable.
    """
    if dataset is None:
        return 0
    items = items_of(session, dataset=dataset)
    for item in items:
        where = f"item '{item.item_id}' of dataset '{dataset.name}' v{dataset.version}"
        _render_or_refuse(spec, item.input, where)
    return len(items)


def _render_or_refuse(spec: PromptSpec, variables: dict[str, Any], where: str) -> None:
    from roles.templates import RenderError, render_messages  # Jinja2: only when rendering

    try:
        render_messages(
            system=spec.system, template=spec.template, examples=[], variables=variables
        )
    except RenderError as exc:
        what = f"variable '{exc.variable}' is undefined" if exc.variable else exc.message
        raise FieldError(
            f"the {exc.part} of '{spec.name}' does not render for {where}: {what}; "
            "nothing was written",
            loc=(exc.part,),
        ) from None
