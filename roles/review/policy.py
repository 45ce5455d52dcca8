"""The review policy of a prompt: the defaults live in ``roles.policies``, a prompt's suite
may override them.

::

    suite:
      review: {items: 6, min_experts: 1, deadline_hours: 24}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roles.policies import ReviewPolicy as ReviewPolicy  # its home before roles.policies


def policy_from_suite(suite: Mapping[str, Any] | None) -> ReviewPolicy:
    """The policy a stored suite asks for under ``review`` (checked at push), else the defaults."""
    return ReviewPolicy.model_validate((suite or {}).get("review") or {})
