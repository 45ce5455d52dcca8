"""promptloop's Python API for agents and scripts.

    >>> import promptloop
    >>> prompt = promptloop.get_prompt("support-triage")          # the production version
    >>> messages = prompt.render(ticket="I was charged twice")   # OpenAI-style chat messages
"""

from promptloop.api import PromptVersionView, get_prompt

__all__ = ["PromptVersionView", "get_prompt"]
