"""A small Slack Web API server for tests: the real ``slack_sdk`` client talks to it over HTTP.

It speaks ``chat.postMessage`` (returns a ``ts``, keeps ``metadata``), ``chat.update``,
``conversations.history`` and ``conversations.replies`` (with metadata when
``include_all_metadata`` is asked for), ``conversations.open``, ``views.open``,
``chat.postEphemeral``, ``apps.connections.open`` (the URL in ``socket_url``) and
``auth.test``; a post to a user id goes to their DM (``D…``). Every call is
recorded with the moment it arrived, and a script of faults makes the next calls fail::

    with FakeSlackServer() as slack:
        slack.fail(429, retry_after="0")             # the next call is rate limited
        slack.fail(503, times=5, method="chat.postMessage")
        slack.fail_channel("CGONE", "channel_not_found")
        slack.hang(2.0, process=True)                # posts, then answers too late
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        ...
        assert [c.params["text"] for c in slack.calls_to("chat.postMessage")] == [...]

From a shell (a demo, a benchmark), printing each message as it arrives::

    python tests/fakes/slack_server.py --port 8766
    SLACK_BOT_TOKEN=xoxb-fake PROMPTLOOP_SLACK_API_URL=http://127.0.0.1:8766/api/ …
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    status: int = 0  # the HTTP status answered (0: none, the connection was dropped)
    error: str | None = None  # the Slack error answered, if any


@dataclass
class Fault:
    status: int | None = None  # answer with this HTTP status (429, 500, 503, ...)
    retry_after: str | None = None
    error: str | None = None  # answer 200 with ``{"ok": false, "error": ...}``
    hang_s: float = 0.0  # wait this long before answering
    process: bool = (
        False  # with ``hang_s``: do the work first (the outcome is unknown to the client)
    )
    drop: bool = False  # close the connection without answering
    times: int = 1
    method: str | None = None  # only calls of this method; None matches all


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None
    thread_ts: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first

    def as_api(self, *, with_metadata: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "user": FakeSlackServer.BOT_USER,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.edits:
            data["edited"] = {"user": FakeSlackServer.BOT_USER, "ts": self.ts}
        if with_metadata and self.metadata:
            data["metadata"] = self.metadata
        return data


class FakeSlackServer:
    """A Slack-compatible Web API on 127.0.0.1 in a background thread (port 0: any free)."""

    BOT_USER = "UBOT"
    TEAM = "T0FAKE"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._channel_errors: dict[str, str] = {}
        self._ts = itertools.count(1)
        self.calls: list[Call] = []
        self.messages: list[Message] = []
        self.views: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.socket_url: str | None = None  # what apps.connections.open answers
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """What ``WebClient(base_url=...)`` wants (the trailing slash matters)."""
        return self.url + "/api/"

    def __enter__(self) -> FakeSlackServer:
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # The fault script.
    def fail(
        self,
        status: int | None = None,
        *,
        error: str | None = None,
        times: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
    ) -> None:
        """The next ``times`` calls (of ``method``) get HTTP ``status``, or 200 with ``error``."""
        self._add(
            Fault(status=status, error=error, retry_after=retry_after, times=times, method=method)
        )

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every call naming ``channel`` answers ``error`` until ``recover``."""
        with self._lock:
            self._channel_errors[channel] = error

    def hang(
        self, seconds: float, *, times: int = 1, process: bool = False, method: str | None = None
    ) -> None:
        self._add(Fault(hang_s=seconds, times=times, process=process, method=method))

    def drop(self, *, times: int = 1, method: str | None = None) -> None:
        self._add(Fault(drop=True, times=times, method=method))

    def recover(self) -> None:
        with self._lock:
            self._faults.clear()
            self._channel_errors.clear()

    # What happened.
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def in_channel(self, channel: str) -> list[Message]:
        """The channel's messages and replies, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.channel == channel]

    def post_directly(
        self, channel: str, text: str, *, metadata: dict[str, Any] | None = None
    ) -> str:
        """A message that reached Slack without the client hearing back (a crash): its ``ts``."""
        return self._post({"channel": channel, "text": text, "metadata": metadata})["ts"]

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method in (None, method):
                    fault.times -= 1
                    return fault
        return None

    # The methods. Each returns the JSON answer; Slack errors are ``ok: false``.
    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        with self._lock:
            channel_error = self._channel_errors.get(str(channel)) if channel else None
        if channel_error:
            return {"ok": False, "error": channel_error}
        handler = {
            "chat.postMessage": self._post,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "views.open": self._open_view,
            "conversations.open": self._open_dm,
            "auth.test": self._auth,
            "chat.postEphemeral": self._ephemeral,
            "apps.connections.open": self._connections_open,
        }.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(params)

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = Message(
                channel=dm_channel(params["channel"]),
                ts=ts,
                text=params.get("text") or "",
                blocks=_json(params.get("blocks")) or [],
                metadata=_json(params.get("metadata")),
                thread_ts=params.get("thread_ts"),
            )
            self.messages.append(message)
        return {
            "ok": True,
            "channel": message.channel,
            "ts": ts,
            "message": message.as_api(with_metadata=True),
        }

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = [
                m for m in self.messages if m.channel == params["channel"] and m.ts == params["ts"]
            ]
            if not found:
                return {"ok": False, "error": "message_not_found"}
            message = found[0]
            message.edits.append({"text": message.text, "blocks": message.blocks})
            message.text = params.get("text", message.text)
            message.blocks = _json(params.get("blocks", message.blocks))
            if params.get("metadata"):
                message.metadata = _json(params["metadata"])
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        oldest = float(params.get("oldest") or 0)
        with self._lock:
            found = [
                m
                for m in self.messages
                if m.channel == params["channel"] and not m.thread_ts and float(m.ts) >= oldest
            ]
        return self._page(found[::-1], params)

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = [
                m
                for m in self.messages
                if m.channel == params["channel"] and params["ts"] in (m.ts, m.thread_ts)
            ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        return self._page(found, params)

    def _page(self, found: list[Message], params: dict[str, Any]) -> dict[str, Any]:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = found[start : start + limit]
        more = start + limit < len(found)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        return {
            "ok": True,
            "messages": [m.as_api(with_metadata=with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _open_view(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = _json(params.get("view")) or {}
        with self._lock:
            self.views.append(view)
            view_id = f"V{len(self.views):06d}"
        return {"ok": True, "view": {**view, "id": view_id}}

    def _ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("user") or not params.get("channel"):
            return {"ok": False, "error": "user_not_in_channel"}
        with self._lock:
            self.ephemerals.append(params)
        return {"ok": True, "message_ts": f"{time.time():.6f}"}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def _open_dm(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": dm_channel(params["users"])}}

    def _auth(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user_id": self.BOT_USER, "team_id": self.TEAM, "bot_id": "BFAKE"}


def dm_channel(channel: str) -> str:
    """A user id posted to is their direct-message conversation, as in Slack."""
    return "D" + channel[1:] if channel[:1] in ("U", "W") else channel


def _json(value: Any) -> Any:
    """Form-encoded calls send structured arguments as JSON strings."""
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    fake: FakeSlackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _serve(self, body: bytes) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        method = url.path.removeprefix("/api/")
        params: dict[str, Any] = dict(parse_qsl(url.query))
        if "json" in (self.headers.get("Content-Type") or ""):
            params.update(json.loads(body or b"{}"))
        else:
            params.update(parse_qsl(body.decode("utf-8")))
        call = Call(method=method, params=params, at=time.monotonic())
        with fake._lock:
            fake.calls.append(call)
        fault = fake._take_fault(method)
        if fault is not None and fault.drop:
            self.close_connection = True
            return
        if fault is not None and fault.hang_s:
            answer = fake.answer(method, params) if fault.process else None
            time.sleep(fault.hang_s)
            if answer is not None:
                return self._send(call, 200, answer)
        if fault is not None and fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            error = "ratelimited" if fault.status == 429 else "fake_server_error"
            return self._send(call, fault.status, {"ok": False, "error": error}, headers)
        if fault is not None and fault.error is not None:
            return self._send(call, 200, {"ok": False, "error": fault.error})
        self._send(call, 200, fake.answer(method, params))

    def _send(
        self,
        call: Call,
        status: int,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        call.status, call.error = status, payload.get("error")
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)  # unless the client gave up waiting: it never hears it


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Slack Web API that prints what it gets.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    args = parser.parse_args()
    server = FakeSlackServer(host=args.host, port=args.port)
    print(f"fake Slack Web API on {server.api_url}", flush=True)
    seen = 0
    with server:
        try:
            while True:
                time.sleep(0.2)
                for call in server.calls[seen:]:
                    text = str(call.params.get("text", ""))[:100]
                    print(f"{call.method} {call.params.get('channel', '')} {text}", flush=True)
                seen = len(server.calls)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
