"""Beyond one machine: the Prefect server promptloop starts keeps its runs in PostgreSQL
when `PREFECT_API_DATABASE_CONNECTION_URL` names a database (as a team's shared server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import invoke

pytestmark = [pytest.mark.prefect, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
DIGEST = "from flows.weekly_digest import weekly_digest; print(weekly_digest())"


def test_promptloop_server_on_postgresql_records_a_flow_run(
    pg_empty: str, monkeypatch: Any
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    prefect_db = make_url(pg_empty).set(drivername="postgresql+asyncpg")
    monkeypatch.setenv(
        "PREFECT_API_DATABASE_CONNECTION_URL", prefect_db.render_as_string(hide_password=False)
    )
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert invoke("init").code == 0
    started = time.monotonic()
    up = invoke("server", "start", "--json")
    try:
        assert up.code == 0, up.stderr
        print(f"prefect server on PostgreSQL healthy in {time.monotonic() - started:.1f} s")
        api_url = up.json()["api_url"]
        ran = subprocess.run(
            [sys.executable, "-c", DIGEST], cwd=ROOT, capture_output=True, text=True, timeout=90,
            env={**os.environ, "PREFECT_API_URL": api_url, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
    finally:
        assert invoke("server", "stop").code == 0
    engine = create_engine(pg_empty)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.name, r.state_type, r.state_name FROM flow_run r"
                " JOIN flow f ON f.id = r.flow_id"
            )
        ).all()
    engine.dispose()
    assert [(name, str(state), label) for name, state, label in rows] == [
        ("weekly-digest", "COMPLETED", "Completed")
    ], rows
