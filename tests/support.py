"""Helpers importable from any test: the sample files and the in-process CLI runner."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "roles" / "samples"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


CANDIDATE_MARK = "something broken"  # only the sample change's system text says this


def invoke(*args: str) -> CliResult:
    """Run the promptloop CLI in this process, as `promptloop ARGS` would."""
    from promptloop.cli.app import run_cli

    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = run_cli(list(args))
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


def judge_aware(answer: Any, verdict: str = "yes") -> Any:
    """A fake-server responder: the LLM judge's requests (JSON mode, or the sample suite's
    judge grammar) get a judge verdict, every other request gets ``answer(body)``."""
    import json as _json

    def respond(body: dict[str, Any]) -> str:
        json_mode = (body.get("response_format") or {}).get("type") == "json_object"
        judge_grammar = '"choice' in str(body.get("grammar") or "")  # the sample's judge
        if json_mode or judge_grammar:
            return _json.dumps({"rationale": "matches the ticket", "choice": verdict})
        return str(answer(body))

    return respond


def submit_sample(*extra: str) -> dict[str, Any]:
    """Load the sample and submit its change as maya (the PM); the change's JSON view."""
    assert invoke("init", "--sample").code == 0
    result = invoke(
        "change",
        "submit",
        "--file",
        str(SAMPLES / "support-triage-change.yaml"),
        "--as",
        "maya",
        "--json",
        *extra,
    )
    assert result.code == 0, result.stderr
    return dict(result.json())


def point_at(server: Any, monkeypatch: Any, **settings: str) -> None:
    """Send this test's model calls to a local fake server (no retries unless given)."""
    from integrations.settings import get_settings

    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("PROMPTLOOP_MAX_RETRIES", "0")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def serve_log() -> str:
    """The log of the `promptloop serve` this test's commands started (for failure messages)."""
    import os

    path = Path(os.environ["PROMPTLOOP_HOME"]) / "logs" / "serve.log"
    return path.read_text(errors="replace")[-4000:] if path.exists() else "(no serve log)"


def wait_until(what: str, check: Any, timeout: float = 120) -> Any:
    """``check()``'s first true answer, polled; fails saying ``what`` did not come, with
    serve's log."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout:.0f} s\n{serve_log()}")


def right_answers(body: dict[str, Any]) -> str:
    """A fake-server responder: the sample change's candidate answers every ticket right,
    production says 'billing' to all (so the candidate passes the gate)."""
    from fakes.openai_server import last_user_text

    answers = {
        json.loads(line)["input"]["ticket"]: json.loads(line)["expected"]
        for line in (SAMPLES / "support-tickets.jsonl").read_text().splitlines()
    }
    system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
    ticket = last_user_text(body).split("Ticket: ", 1)[-1].split("\n", 1)[0]
    return answers.get(ticket, "billing") if CANDIDATE_MARK in system else "billing"


class Held:
    """A fake-server responder that answers the first ``free`` requests with ``answer``
    and holds every later one until :meth:`release`: a command calling the model is then
    surely mid-run when the test interrupts it (``holding`` is set once one is held)::

        held = Held(judge_aware(lambda body: "billing"), free=8)
        with FakeOpenAIServer(responder=held) as server:
            try:
                ...  # start the command
                assert held.holding.wait(60)
                process.send_signal(signal.SIGINT)
            finally:
                held.release()
    """

    def __init__(self, answer: Any, *, free: int) -> None:
        import threading

        self._answer = answer
        self._free = free
        self._lock = threading.Lock()
        self._count = 0
        self.holding = threading.Event()
        self._released = threading.Event()

    def __call__(self, body: dict[str, Any]) -> str:
        with self._lock:
            self._count += 1
            held = self._count > self._free
        if held:
            self.holding.set()
            self._released.wait(120)
        return str(self._answer(body))

    def release(self) -> None:
        self._released.set()
