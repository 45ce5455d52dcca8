"""After an act that changes how a change ended (a rollback, a withdrawal): its pipeline
run in the Prefect UI is told, so its name and pinned summary stay true."""

from __future__ import annotations


def retell(change_id: int) -> None:
    """Rename the change's run and refresh its summary from the ledger; never raises (a
    Prefect that does not answer is a logged warning: the ledger is the truth)."""
    from integrations.pipeline_runs import retell as retell_run

    retell_run(change_id)
