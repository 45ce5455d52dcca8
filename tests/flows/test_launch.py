"""A background evaluation that cannot start leaves its reason where `change show` looks."""

from __future__ import annotations

import os
import subprocess
import sys

from support import invoke, submit_sample


def test_an_unreachable_prefect_server_is_reported_on_the_change() -> None:
    change = submit_sample()
    env = {
        **os.environ,
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
        "PREFECT_CLIENT_MAX_RETRIES": "0",
    }
    launched = subprocess.run(
        [sys.executable, "-m", "flows.launch", "evaluate", str(change["id"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launched.returncode != 0
    shown = invoke("change", "show", str(change["id"]))
    assert "the evaluation could not run" in shown.stdout
    assert f"promptloop change evaluate {change['id']}" in shown.stdout
    assert invoke("change", "show", str(change["id"]), "--json").json()["state"] == "submitted"
