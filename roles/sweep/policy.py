"""Whether a prompt is swept on the schedule: the ``sweep:`` section of its suite.

::

    suite:
      sweep: {enabled: false}   # left out of scheduled sweeps (`promptloop sweep --prompt
                                # NAME` still sweeps it)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class SweepPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True  # swept by the scheduled (and the all-prompts) sweep

    @model_validator(mode="before")
    @classmethod
    def _no_cron_here(cls, data: Any) -> Any:
        # The prompts share one scheduled run (and one model concurrency): when it runs is
        # the ledger's setting, not a prompt's.
        if isinstance(data, dict) and "cron" in data:
            raise ValueError(
                "a prompt has no schedule of its own: PROMPTLOOP_SWEEP_CRON sets when every "
                "prompt is swept; here only `enabled: false` (left out of scheduled sweeps)"
            )
        return data


def sweep_policy(suite: dict[str, Any] | None) -> SweepPolicy:
    """The stored suite's ``sweep`` section (validated when the version was pushed)."""
    return SweepPolicy.model_validate((suite or {}).get("sweep") or {})
