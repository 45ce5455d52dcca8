"""A Socket Mode endpoint for tests: the WebSocket that ``apps.connections.open`` hands out.

Slack sends ``hello`` on connect, then envelopes (``{"envelope_id", "type", "payload",
"accepts_response_payload"}``); the app answers each with ``{"envelope_id", "payload"?}``
within 3 seconds::

    with FakeSocketMode() as socket_mode:
        slack.socket_url = socket_mode.url          # the fake Web API's apps.connections.open
        socket_mode.wait_connected()
        envelope_id = socket_mode.send(payload)     # an interactive envelope
        ack = socket_mode.ack(envelope_id, timeout=3)
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._server: Server = serve(self._connected, "127.0.0.1", 0)
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=fake"

    def __enter__(self) -> FakeSocketMode:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def wait_connected(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not self._connections:
            if time.monotonic() > deadline:
                raise AssertionError("no Socket Mode client connected")
            time.sleep(0.02)

    def send(self, payload: dict[str, Any], *, kind: str = "interactive") -> str:
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": True,
        }
        self._connections[-1].send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        """The app's answer to the envelope, or AssertionError after ``timeout``."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: envelope_id in self._acks, timeout):
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout} s")
            return self._acks[envelope_id]

    def _connected(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        self._connections.append(connection)
        for message in connection:
            data = json.loads(message)
            self.received.put(data)
            with self._arrived:
                if "envelope_id" in data:
                    self._acks[data["envelope_id"]] = data
                self._arrived.notify_all()
