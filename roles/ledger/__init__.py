"""The ledger's tables. Every handoff between people is a row here.

    from roles.ledger import ChangeRequest   # loads roles/ledger/changes.py, and only it

Each table's module is imported on first use of one of its names: building an SQLModel
table class costs a few milliseconds, and a command that reads two tables should not pay
for all seventeen. ``load_all()`` registers every table on ``SQLModel.metadata`` (the
migrations and their comparison with the models need the whole schema).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roles.ledger.calibration import CalibrationRecord
    from roles.ledger.changes import ChangeRequest, Handoff
    from roles.ledger.datasets import Dataset, DatasetItem
    from roles.ledger.deploys import Approval, Deployment
    from roles.ledger.evals import EvalResult, EvalRun, EvalScore
    from roles.ledger.members import Member, MemberRole
    from roles.ledger.outbox import (
        OutboxBase,
        OutboxCreate,
        OutboxKind,
        OutboxMessage,
        OutboxRead,
        OutboxStatus,
    )
    from roles.ledger.prompts import Label, LabelMove, Prompt, PromptVersion
    from roles.ledger.review import Review, ReviewItem, ReviewPublic, Vote, VotePublic
    from roles.ledger.slack import SlackRequest
    from roles.ledger.sweeps import Sweep
    from roles.ledger.team import RosterChange, RosterWhat, TeamSetting

# Each public name and the module (under roles.ledger) that defines it.
_MODULE_OF = {
    "Approval": "deploys",
    "CalibrationRecord": "calibration",
    "Deployment": "deploys",
    "ChangeRequest": "changes",
    "Handoff": "changes",
    "Dataset": "datasets",
    "DatasetItem": "datasets",
    "EvalResult": "evals",
    "EvalRun": "evals",
    "EvalScore": "evals",
    "Member": "members",
    "MemberRole": "members",
    "OutboxBase": "outbox",
    "OutboxCreate": "outbox",
    "OutboxKind": "outbox",
    "OutboxMessage": "outbox",
    "OutboxRead": "outbox",
    "OutboxStatus": "outbox",
    "Label": "prompts",
    "LabelMove": "prompts",
    "Prompt": "prompts",
    "PromptVersion": "prompts",
    "Review": "review",
    "ReviewItem": "review",
    "ReviewPublic": "review",
    "Vote": "review",
    "VotePublic": "review",
    "SlackRequest": "slack",
    "Sweep": "sweeps",
    "RosterChange": "team",
    "RosterWhat": "team",
    "TeamSetting": "team",
}

__all__ = [
    "Approval",
    "CalibrationRecord",
    "ChangeRequest",
    "Dataset",
    "DatasetItem",
    "Deployment",
    "EvalResult",
    "EvalRun",
    "EvalScore",
    "Handoff",
    "Label",
    "LabelMove",
    "Member",
    "MemberRole",
    "OutboxBase",
    "OutboxCreate",
    "OutboxKind",
    "OutboxMessage",
    "OutboxRead",
    "OutboxStatus",
    "Prompt",
    "PromptVersion",
    "Review",
    "ReviewItem",
    "ReviewPublic",
    "RosterChange",
    "RosterWhat",
    "SlackRequest",
    "Sweep",
    "TeamSetting",
    "Vote",
    "VotePublic",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups do not come back here
    return value


def load_all() -> None:
    """Import every table module, so that ``SQLModel.metadata`` holds the whole schema."""
    for module in sorted(set(_MODULE_OF.values())):
        importlib.import_module(f"{__name__}.{module}")
