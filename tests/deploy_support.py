"""Deploys for the tests, through the real roles: a change awaiting approval with its
deploy request in the outbox (the gate passed, or flagged inconclusive), deployed by an
engineer as the CLI does it; and a webhook receiver: a real HTTP server on a free port
that answers with the statuses it is told and keeps every request it got."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from review_support import change_in_review
from sqlmodel import Session

from integrations.db import get_engine
from integrations.slack.deploys import post_deploy_request
from integrations.slack.notices import after_decision
from roles.clock import utcnow
from roles.engineer import Who, approve
from roles.ledger import PromptVersion
from roles.states import State
from roles.transitions import get_change, transition


def awaiting_approval(
    *, gate_outcome: str | None = None, allow_override: bool = False, variant: str = ""
) -> int:
    """A change awaiting approval, its deploy request written (as the pipeline does); with
    ``variant``, another candidate of the sample prompt (the sample loaded already)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        change_id = change_in_review(session, gate_outcome=gate_outcome, variant=variant)
        if allow_override:  # production's policy decides
            base = session.get(PromptVersion, get_change(session, change_id).base_version_id)
            assert base is not None
            base.suite = {**(base.suite or {}), "approval": {"allow_override": True}}
            session.add(base)
        transition(session, change_id=change_id, target=State.AWAITING_APPROVAL, actor="promptloop")
        post_deploy_request(session, change_id=change_id, run_url="http://127.0.0.1:4200/runs/x")
        session.commit()
    return change_id


def deploy(change_id: int, *, by: str = "sam", override_reason: str | None = None) -> int:
    """Approved by ``by`` as ``change approve`` does it; the deployment's id."""
    with Session(get_engine(), expire_on_commit=False) as session:
        outcome = approve(
            session,
            change_id=change_id,
            who=Who(handle=by),
            now=utcnow(),
            override_reason=override_reason,
        )
        after_decision(session, outcome)
        session.commit()
    assert outcome.deployment_id is not None, outcome.message
    return outcome.deployment_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_socket() -> socket.socket:
    """A socket bound to a free port and not listening: connections to it are refused until
    ``webhook_receiver(sock=...)`` listens on it, and no one else can take the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """Answers each POST with the next of ``statuses`` (then 200); keeps what it got."""

    port: int
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/promptloop"


@contextmanager
def webhook_receiver(
    statuses: list[int] | None = None, port: int = 0, sock: socket.socket | None = None
) -> Iterator[Receiver]:
    """A receiver on ``port`` (0: any free one), or listening on ``sock``, already bound."""
    receiver = Receiver(port=port, statuses=list(statuses or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                receiver.received.append(Received(dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"bad request: no such pipeline")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler, bind_and_activate=sock is None)
    if sock is not None:  # the port stays ours from the test's start: no race to bind it
        server.socket.close()
        server.socket = sock
        server.server_address = sock.getsockname()
        server.server_activate()
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
