"""The two kinds of refusal a command can meet, and their exit codes.

``PolicyError`` (exit 1): the request is well formed but the team's rules refuse it —
a missing role, an illegal transition, a conflict with someone else's move.
``InputError`` (exit 2): the request itself is wrong — a bad file, an unknown name.
``InternalError`` (exit 3): a bug of ours, reported in one sentence with where the
traceback went.
``OutageError`` (exit 4): a service it needs did not answer (a model endpoint down or
refusing): nothing was concluded, and the same command can be run again later.
"""

from __future__ import annotations


class PromptloopError(Exception):
    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(PromptloopError):
    """Invalid input: a file, an argument or a name that does not exist."""

    exit_code = 2


class FieldError(InputError):
    """Invalid input at a known place of a prompt: ``loc`` is its path in the prompt file
    (``("template",)``, ``("examples", 2, "input")``), so a form can show it by its field."""

    def __init__(self, message: str, *, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class NotFoundError(InputError):
    """A change, prompt, dataset or version that the ledger does not hold."""


class PolicyError(PromptloopError):
    """Refused by the team's rules."""

    exit_code = 1


class RoleError(PolicyError):
    """The actor is unknown, inactive, or lacks the role the action needs."""


class TransitionError(PolicyError):
    """The state machine does not allow this move from the change's current state."""


class ConflictError(PolicyError):
    """Someone else changed the same record first; nothing was written."""


class OutageError(PromptloopError):
    """A model endpoint (or another service) failed; no verdict was drawn from it."""

    exit_code = 4


class InternalError(PromptloopError):
    """A bug: something failed that should not have; the traceback is in a log."""

    exit_code = 3
