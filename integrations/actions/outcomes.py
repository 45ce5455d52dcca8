"""After an act that changes how a change ended (a rollback, a withdrawal): its pipeline
run in the Prefect UI is told, so its name and pinned summary stay true."""

from __future__ import annotations

import logging

log = logging.getLogger("promptloop.actions")


def retell(change_id: int) -> None:
    """Rename the change's run and refresh its summary from the ledger; never raises."""
    try:
        from integrations.pipeline_runs import retell as retell_run
    except ImportError:  # not built yet on this checkout
        return
    try:
        retell_run(change_id)
    except Exception as exc:  # Prefect away: the ledger is the truth, the UI catches up
        log.warning("change %s: its Prefect run is not renamed (%s)", change_id, exc)
