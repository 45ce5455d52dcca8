"""promptloop's Python API for agents and scripts (against a ledger with the sample,
``promptloop init --sample``)::

    import promptloop
    prompt = promptloop.get_prompt("support-triage")          # the production version
    messages = prompt.render(ticket="I was charged twice")   # OpenAI-style chat messages
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptloop.api import PromptVersionView, get_prompt

__all__ = ["PromptVersionView", "get_prompt"]


def __getattr__(name: str) -> Any:
    # The API loads on first use: `python -m promptloop` imports this package too, and a
    # CLI command should not pay for the prompt registry unless it uses it.
    if name in __all__:
        from promptloop import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
