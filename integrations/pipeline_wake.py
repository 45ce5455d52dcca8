"""Wake a change's suspended pipeline run from a command, over Prefect's REST API.

A command that has just committed a decision (``change approve``, the deciding ``review
vote``, ``change withdraw``) wakes the change's run with two small requests to this home's
Prefect server: read the run, then resume it with the nudge as its input
(``POST /flow_runs/ID/resume``, what Prefect's own ``resume_flow_run`` sends). Importing
Prefect's client for them cost a command 1.5 s on an idle machine and 5 s at load 9. With
an API key or an auth string (Prefect Cloud, a protected server), or no server known
here, Prefect's own client does it (``integrations.pipeline_runs.wake``).

    wake(7, reason="approved by sam")  # True if the run was suspended and is resumed
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("promptloop.pipeline")
TIMEOUT_S = 5.0


def wake(change_id: int, *, reason: str) -> bool:
    """Resume the change's pipeline run if it is suspended; True if it was. A server that
    does not answer is logged, not raised: the decision is in the ledger already, and
    ``serve`` wakes the run on its next round."""
    from integrations.db import session_scope
    from integrations.prefect_server import recorded_url
    from roles.transitions import get_change

    url = os.environ.get("PREFECT_API_URL") or recorded_url()
    if (
        url is None
        or os.environ.get("PREFECT_API_KEY")
        or os.environ.get("PREFECT_API_AUTH_STRING")
    ):
        from integrations.pipeline_runs import wake as wake_with_prefects_client

        return wake_with_prefects_client(change_id, reason=reason)
    with session_scope() as session:
        flow_run_id = get_change(session, change_id).flow_run_id
    if not flow_run_id:
        return False
    try:
        run = _call(url, "GET", f"/flow_runs/{flow_run_id}")
        if (run.get("state") or {}).get("type") != "PAUSED":
            return False  # running, ended, or woken by someone else meanwhile
        answer = _call(
            url, "POST", f"/flow_runs/{flow_run_id}/resume",
            {"run_input": {"reason": reason[:500]}},
        )  # fmt: skip
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False  # a run this server does not hold: not ours to wake
        log.warning("could not wake the pipeline of change %s (%s); serve will", change_id, exc)
        return False
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("could not wake the pipeline of change %s (%s); serve will", change_id, exc)
        return False
    return bool(answer.get("status") == "ACCEPT")


def _call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}{path}", data=data, method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:
        return json.loads(reply.read())
