"""The review policy of a prompt: the defaults live in ``roles.policies``, a prompt's suite
may override them.

::

    suite:
      review: {items: 20, max_failure_rate: 0.2, min_experts: 1, deadline_hours: 24}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roles.policies import REPLACED_REVIEW_KEYS
from roles.policies import ReviewPolicy as ReviewPolicy  # its home before roles.policies


def policy_from_suite(suite: Mapping[str, Any] | None) -> ReviewPolicy:
    """The policy a stored suite asks for under ``review`` (checked at push), else the defaults."""
    stored = dict((suite or {}).get("review") or {})
    for old in REPLACED_REVIEW_KEYS:  # a suite pushed before they were replaced
        stored.pop(old, None)
    return ReviewPolicy.model_validate(stored)
