"""A change submitted from Slack gets its pipeline run as ``change submit`` gives it one.

The gateway does not start ``promptloop serve`` (the CLI does, on demand): it creates
the run on the Prefect server of its process (``serve`` sets ``PREFECT_API_URL`` for the
gateway it runs). A run created while no ``serve`` runs waits as Scheduled and starts
when one does. Prefect unreachable: the change stays recorded, why the run could not be
created is noted where ``change show`` looks, and the author is told how to start it.
"""

from __future__ import annotations

import logging

from integrations.pipeline_runs import attempt_key, note_launch_failure, start_pipeline, ui_link
from integrations.settings import get_settings
from roles.errors import OutageError, PromptloopError

log = logging.getLogger("promptloop.gateway")


def launch(change_id: int, prompt: str) -> tuple[list[str], str | None]:
    """Create the change's pipeline run; what to tell its author, and the run's link."""
    if not get_settings().auto_evaluate:
        return [
            "its evaluation is not started (PROMPTLOOP_AUTO_EVALUATE=false): "
            f"`promptloop change evaluate {change_id}` starts it"
        ], None
    try:
        require_prefect()
        run = start_pipeline(change_id, prompt=prompt, attempt=attempt_key(change_id))
    except Exception as exc:  # noted on the change and told; logged with its traceback
        if not isinstance(exc, PromptloopError):
            log.warning("change %s: its pipeline run was not created", change_id, exc_info=exc)
            exc = OutageError(f"Prefect did not create the run: {type(exc).__name__}: {exc}")
        note_launch_failure(change_id, exc)
        return [
            f"the change is recorded, but its pipeline run could not be created ({exc.message})",
            f"once `promptloop serve` is up, `promptloop change evaluate {change_id}` starts it",
        ], None
    url = ui_link(run.id)
    return [
        f"its pipeline run {run.name} is created: it starts as soon as `promptloop serve` "
        "picks it up (if serve is down, when it is up again)",
        f"`/promptloop status` or `promptloop change show {change_id}` says where it is",
    ], url


def require_prefect() -> None:
    """Refuse before Prefect would start a temporary server of its own in this process."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise OutageError(
            "no Prefect server is set for the gateway (PREFECT_API_URL; `promptloop serve` "
            "sets it for the gateway it runs)"
        )
