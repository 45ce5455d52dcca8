"""The ledger's tables. Every handoff between people is a row here."""

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

__all__ = [
    "Approval",
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
    "Vote",
    "VotePublic",
]
