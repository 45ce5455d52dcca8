"""A small OpenAI-compatible chat server for tests and benchmarks.

It speaks ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP, so the real
``openai`` SDK talks to it unchanged. Answers are deterministic (a function of the
request; the default echoes the last user message), ``usage`` is filled in, every request
waits ``latency_s``, and a script of faults can make the next requests fail::

    with FakeOpenAIServer(latency_s=0.2) as server:
        server.fail(429, times=2, retry_after="1")
        client = AsyncOpenAI(base_url=server.base_url, api_key="x")
        ...
        assert server.requests_received == 3

``answer_raw`` and ``answer_json`` make the next answers misbehave instead: a 200 with an
HTML page, broken JSON, or JSON that is not a chat completion.

Each connection gets its own thread, so 32 concurrent requests at 200 ms take about
0.2 s in total. From a shell, for a benchmark::

    python tests/fakes/openai_server.py --port 8765 --latency-ms 200

``GET /stats`` returns the counters as JSON (``{"requests": N, "chat_requests": ...,
"max_in_flight": ..., "messages_digest": ...}``) and ``POST /stats/reset`` zeroes them;
neither is counted as a request.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def echo(body: dict[str, Any]) -> str:
    """``echo: <last user message>``, or ``{"echo": ...}`` when JSON output is asked for."""
    text = last_user_text(body)
    if (body.get("response_format") or {}).get("type") in ("json_object", "json_schema"):
        return json.dumps({"echo": text})
    return f"echo: {text}"


def rules(table: dict[str, str], default: Responder = echo) -> Responder:
    """Answer with the value of the first regex (searched in the last user message) that matches."""
    compiled = [(re.compile(pattern), answer) for pattern, answer in table.items()]

    def respond(body: dict[str, Any]) -> str:
        text = last_user_text(body)
        for pattern, answer in compiled:
            if pattern.search(text):
                return answer
        return default(body)

    return respond


def count_tokens(text: str) -> int:
    """A crude, deterministic token count: whitespace-separated words."""
    return len(text.split())


@dataclass
class Fault:
    """What to do instead of answering, for the next ``times`` matching requests."""

    status: int | None = None  # answer with this HTTP status (429, 500, 400, ...)
    retry_after: str | None = None  # the Retry-After header to send with it
    hang_s: float = 0.0  # wait this long before doing anything (past a client's timeout)
    drop: bool = False  # close the connection without answering
    times: int = 1
    match: str | None = None  # regex searched in the last user message; None matches all
    body: bytes | None = None  # send these bytes as the answer (status 200 unless ``status``)
    content_type: str = "application/json"  # with ``body``
    headers: dict[str, str] | None = None  # extra headers with ``body``


class FakeOpenAIServer:
    """An OpenAI-compatible server in a background thread on 127.0.0.1 (port 0: any free)."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        responder: Responder = echo,
        models: tuple[str, ...] = ("fake-model",),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.responder = responder
        self.models = models
        self.snapshot: str | None = None  # the model an answer names (default: the asked one)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self.requests_received = 0  # every HTTP request, faults included
        self.chat_bodies: list[dict[str, Any]] = []  # the JSON of every chat request
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeOpenAIServer:
        # A short poll interval keeps stop() (and each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # The fault script.
    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        match: str | None = None,
    ) -> None:
        self.add_fault(Fault(status=status, retry_after=retry_after, times=times, match=match))

    def recover(self) -> None:
        """Drop every scripted fault: the endpoint answers normally from now on."""
        with self._lock:
            self._faults.clear()

    def hang(self, seconds: float, *, times: int = 1, match: str | None = None) -> None:
        self.add_fault(Fault(hang_s=seconds, times=times, match=match))

    def drop(self, *, times: int = 1, match: str | None = None) -> None:
        self.add_fault(Fault(drop=True, times=times, match=match))

    def answer_raw(
        self,
        body: bytes | str,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        times: int = 1,
        match: str | None = None,
    ) -> None:
        """Answer with ``body`` verbatim: an HTML page, broken JSON, JSON that is no completion."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.add_fault(
            Fault(
                status=status,
                body=data,
                content_type=content_type,
                headers=headers,
                times=times,
                match=match,
            )
        )

    def answer_json(self, payload: Any, *, times: int = 1, match: str | None = None) -> None:
        """Answer 200 with ``payload`` as JSON instead of a chat completion."""
        self.answer_raw(
            json.dumps(payload), content_type="application/json", times=times, match=match
        )

    def reset_counts(self) -> None:
        with self._lock:
            self.requests_received = 0
            self.chat_bodies.clear()
            self.max_in_flight = 0

    def stats(self) -> dict[str, Any]:
        """The counters as JSON (``GET /stats``); ``POST /stats/reset`` zeroes them first.

        ``messages_digest`` is a SHA-256 over the sorted chat requests' model and messages
        (not their order): two clients that sent the same calls get the same digest.
        ``params`` lists the distinct values seen for a few sampling parameters.
        """
        with self._lock:
            bodies = list(self.chat_bodies)
            counts = {
                "requests": self.requests_received,
                "chat_requests": len(bodies),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }
        keys = sorted(
            json.dumps({"model": b.get("model"), "messages": b.get("messages")}, sort_keys=True)
            for b in bodies
        )
        digest = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()
        params = {
            name: sorted({json.dumps(b.get(name)) for b in bodies})
            for name in ("temperature", "max_tokens", "max_completion_tokens", "seed")
        }
        return {
            **counts,
            "distinct_chat_requests": len(set(keys)),
            "messages_digest": digest,
            "params": params,
        }

    def _take_fault(self, body: dict[str, Any]) -> Fault | None:
        text = last_user_text(body)
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and (fault.match is None or re.search(fault.match, text)):
                    fault.times -= 1
                    return fault
        return None

    def _enter(self, body: dict[str, Any] | None) -> None:
        with self._lock:
            self.requests_received += 1
            if body is not None:
                self.chat_bodies.append(body)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        text = self.responder(body)
        prompt_tokens = sum(
            count_tokens(str(m.get("content", ""))) + 4 for m in body.get("messages", [])
        )
        completion_tokens = max(count_tokens(text), 1)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.snapshot or body.get("model", ""),
            "system_fingerprint": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops bursts of connections
    allow_reuse_address = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    disable_nagle_algorithm = True  # else headers and body, sent apart, meet a 40 ms delayed ACK
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/") == "/stats":  # read by benchmarks; not counted as a request
            return self._send(200, fake.stats())
        fake._enter(None)
        self._counted = True
        try:
            if self.path.rstrip("/") != "/v1/models":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
            self._send(200, {"object": "list", "data": data})
        finally:
            self._done()

    def do_POST(self) -> None:
        fake = self.server.fake
        if self.path.rstrip("/") == "/stats/reset":  # not counted as a request either
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fake.reset_counts()
            return self._send(200, fake.stats())
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            body = None
        fake._enter(body)
        self._counted = True
        try:
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            if not isinstance(body, dict):
                return self._send(400, _error("the body is not a JSON object", "invalid_request"))
            fault = fake._take_fault(body)
            if fault is not None and fault.hang_s:
                time.sleep(fault.hang_s)
            if fault is not None and fault.drop:
                self.close_connection = True
                return
            time.sleep(fake.latency_s)
            if fault is not None and fault.body is not None:
                return self._send_bytes(
                    fault.status or 200, fault.body, fault.content_type, fault.headers
                )
            if fault is not None and fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return self._send(fault.status, _error(f"fake {fault.status}", "fake"), headers)
            self._send(200, fake.completion(body))
        finally:
            self._done()

    def _done(self) -> None:
        """Out of flight: before the answer's bytes go, since the client may send its next
        request the moment it has them (counting after the write saw one too many)."""
        if getattr(self, "_counted", False):
            self._counted = False
            self.server.fake._leave()

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._done()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="A fake OpenAI-compatible chat server (echoes the last user message)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait per request")
    args = parser.parse_args()
    server = FakeOpenAIServer(latency_s=args.latency_ms / 1000, host=args.host, port=args.port)
    print(f"fake OpenAI server on {server.base_url} (latency {args.latency_ms:g} ms)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill` stops it cleanly too
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
        print(f"served {server.requests_received} requests", flush=True)


if __name__ == "__main__":
    main()
