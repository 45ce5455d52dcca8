"""Sweep rows as the CLI shows them (``sweep list``, ``sweep show``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from roles.clock import iso
from roles.errors import NotFoundError
from roles.ledger import Prompt, PromptVersion
from roles.ledger.sweeps import Sweep
from roles.registry import find_prompt


def sweep_view(session: Session, row: Sweep) -> dict[str, Any]:
    prompt = session.get(Prompt, row.prompt_id)
    version = session.get(PromptVersion, row.version_id)
    return {
        "id": row.id,
        "prompt": prompt.name if prompt else None,
        "version": version.number if version else None,
        "verdict": row.verdict,
        "eval_run_id": row.eval_run_id,
        "baseline_run_id": row.baseline_run_id,
        "baseline_source": row.baseline_source,
        "reasons": list(row.reasons),
        "alert_id": row.alert_id,
        "flow_run_id": row.flow_run_id,
        "created_at": iso(row.created_at),
    }


def list_sweeps(
    session: Session,
    *,
    prompt: str | None = None,
    flow_run_id: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(Sweep).order_by(col(Sweep.id).desc())
    if prompt is not None:
        query = query.where(Sweep.prompt_id == find_prompt(session, name=prompt).id)
    if flow_run_id is not None:
        query = query.where(Sweep.flow_run_id == flow_run_id)
    if limit:
        query = query.limit(limit)
    return [sweep_view(session, row) for row in session.exec(query)]


def get_sweep(session: Session, sweep_id: int) -> dict[str, Any]:
    row = session.get(Sweep, sweep_id)
    if row is None:
        raise NotFoundError(f"there is no sweep {sweep_id} (see `promptloop sweep list`)")
    return sweep_view(session, row)
