"""Whether a prompt is swept on the schedule: the ``sweep:`` section of its suite.

::

    suite:
      sweep: {enabled: false}   # left out of scheduled sweeps (`promptloop sweep --prompt
                                # NAME` still sweeps it)
"""

from __future__ import annotations

from typing import Any

from roles.policies import SweepPolicy as SweepPolicy  # its home before roles.policies


def sweep_policy(suite: dict[str, Any] | None) -> SweepPolicy:
    """The stored suite's ``sweep`` section (validated when the version was pushed)."""
    return SweepPolicy.model_validate((suite or {}).get("sweep") or {})
