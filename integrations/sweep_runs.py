"""The regression sweep's runs on the Prefect server: start one now.

::

    run = start_sweep(prompt=None)  # returns at once; serve (or a worker) runs it
"""

from __future__ import annotations

from typing import Any

from integrations.db import ledger_tag

FLOW_NAME = "regression-sweep"


def sweep_deployment() -> str:
    """Serve's sweep deployment for this ledger, or prefect.yaml's ``regression-sweep/sweep``
    when the pipelines run on Prefect workers (``PROMPTLOOP_PIPELINE_DEPLOYMENT``)."""
    from integrations.pipeline_runs import deployment_name
    from integrations.settings import get_settings

    if get_settings().pipeline_deployment:
        return f"{FLOW_NAME}/sweep"
    return f"{FLOW_NAME}/{deployment_name()}"


def start_sweep(*, prompt: str | None) -> Any:
    """A run of the sweep deployment now (``run_deployment(..., timeout=0)``)."""
    from prefect.deployments import run_deployment

    tags = ["promptloop", "sweep", f"ledger:{ledger_tag()}"]
    return run_deployment(
        sweep_deployment(),
        parameters={"prompt": prompt},
        flow_run_name=f"sweep-{prompt or 'all'}-{ledger_tag()}",
        timeout=0,
        tags=[*tags, f"prompt:{prompt}"] if prompt else tags,
        as_subflow=False,
    )
