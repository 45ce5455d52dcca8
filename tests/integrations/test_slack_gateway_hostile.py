"""The HTTP gateway against hostile requests, over real HTTP to real uvicorn and Bolt: the
signature is checked on the raw bytes before anything parses them (401), a body over the
cap is refused before it is read whole (413), a signed body Bolt could not read is one
sentence (400), and none of them leaves a traceback in the log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import select
import socket
import time
from urllib.parse import quote, urlsplit

import pytest
from fakes.slack_server import FakeSlackServer
from gateway_support import SECRET, RunningGateway
from sqlmodel import Session
from sqlmodel import select as sql_select

from integrations.db import get_engine
from integrations.slack.inbound import MAX_BODY_BYTES, MAX_DEPTH
from roles.ledger import SlackRequest

SQLITE = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)
JSON, FORM = "application/json", "application/x-www-form-urlencoded"
DEEP = 100_000

MALFORMED: dict[str, tuple[bytes, str]] = {
    "a JSON array": (b"[1, 2, 3]", JSON),
    "null": (b"null", JSON),
    "a JSON string": (b'"hello"', JSON),
    "deeply nested arrays": (b"[" * DEEP + b"]" * DEEP, JSON),
    "deeply nested objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, FORM),
    "objects nested past the cap": (
        b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
        JSON,
    ),
    "a payload field that is an array": (b"payload=" + quote("[1]").encode(), FORM),
    "a payload field nested deeply": (b"payload=" + quote("[" * DEEP).encode(), FORM),
    "a payload field that is null": (b"payload=null", FORM),
    "a body that is not UTF-8": (b"payload=\xff\xfe\xfd", FORM),
    "JSON that does not parse": (b"{not json", JSON),
    "an empty body": (b"", FORM),
    "a user that is a number": (b'{"type": "block_actions", "user": 3, "team": 4}', JSON),
}


def signed_headers(body: bytes, content_type: str) -> dict[str, str]:
    """Slack's v0 signature of the raw bytes (``signature`` takes text: these may be none)."""
    timestamp = int(time.time())
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest(),
    }


def no_traceback(caplog: pytest.LogCaptureFixture, requests: int) -> None:
    """At most one log line per request, and no traceback in any of them."""
    client = ("httpx", "httpcore")  # the test's own client says what it sent
    records = [r for r in caplog.get_records("call") if not r.name.startswith(client)]
    assert len(records) <= requests, [r.getMessage() for r in records]
    for record in records:
        assert record.exc_info is None and record.exc_text is None, record.getMessage()
        assert "\n" not in record.getMessage() and len(record.getMessage()) < 300


def requests_written() -> list[SlackRequest]:
    with Session(get_engine()) as session:
        return list(session.exec(sql_select(SlackRequest)).all())


@SQLITE
def test_unsigned_malformed_bodies_are_refused_before_anything_parses_them(
    gateway: RunningGateway, gateway_env: FakeSlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = {}
    for name, (body, content_type) in MALFORMED.items():
        forged = signed_headers(body, content_type)
        forged["X-Slack-Signature"] = "v0=" + "0" * 64
        unsigned = {"Content-Type": content_type}
        answers[name] = [
            gateway.http.post("/slack/events", content=body, headers=h).status_code
            for h in (forged, unsigned)
        ]
    assert answers == {name: [401, 401] for name in MALFORMED}
    no_traceback(caplog, 0)  # an unsigned request is not even worth a line
    assert requests_written() == [] and gateway_env.ephemerals == []


@SQLITE
@pytest.mark.parametrize(
    ("timestamp", "mac"),
    [
        ("not-a-number", "v0=" + "0" * 64),
        ("١٧٠٠٠٠٠٠٠٠", "v0=" + "0" * 64),  # Arabic-Indic digits: int() would read them
        ("9" * 5000, "v0=" + "0" * 64),  # int() refuses over 4,300 digits
        (None, "v0=é" + "0" * 62),  # a signature that is not ASCII
    ],
    ids=["letters", "arabic-indic-digits", "5000-digits", "non-ascii-signature"],
)
def test_signature_headers_of_any_form_are_a_401(
    gateway: RunningGateway,
    caplog: pytest.LogCaptureFixture,
    timestamp: str | None,
    mac: str,
) -> None:
    caplog.set_level(logging.INFO)
    stamp = timestamp or str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": mac}
    raw = {k: v.encode() for k, v in headers.items()}  # sent as UTF-8 bytes, as an attacker can
    answer = gateway.http.post("/slack/events", content=b"payload=%7B%7D", headers=raw)
    assert answer.status_code == 401
    no_traceback(caplog, 0)


@SQLITE
def test_signed_malformed_bodies_are_a_400_of_one_sentence(
    gateway: RunningGateway, gateway_env: FakeSlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = {}
    for name, (body, content_type) in MALFORMED.items():
        answer = gateway.http.post(
            "/slack/events", content=body, headers=signed_headers(body, content_type)
        )
        answers[name] = (answer.status_code, answer.text)
    assert {name: code for name, (code, _) in answers.items()} == {n: 400 for n in MALFORMED}
    for name, (_, text) in answers.items():
        assert text.startswith("malformed Slack payload: ") and "\n" not in text, name
        assert len(text) < 200, name
    assert "not an object" in answers["a JSON array"][1]
    assert "a JSON null" in answers["null"][1]
    assert f"deeper than {MAX_DEPTH} levels" in answers["deeply nested arrays"][1]
    assert f"deeper than {MAX_DEPTH} levels" in answers["objects nested past the cap"][1]
    assert "not UTF-8" in answers["a body that is not UTF-8"][1]
    assert "not JSON" in answers["JSON that does not parse"][1]
    assert "not of the types Slack sends" in answers["a user that is a number"][1]
    no_traceback(caplog, len(MALFORMED))
    assert requests_written() == [] and gateway_env.ephemerals == []


def _raw_post(url: str, head: str, chunks: list[bytes], *, timeout: float = 10.0) -> bytes:
    """Send ``head`` then ``chunks`` over one socket, stopping as soon as the server
    answers; what it answered (the client never finishes the body it promised)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before reading it all
            try:
                sock.sendall(chunk)
            except OSError:
                break
        answer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer:
                break
    return answer


@SQLITE
def test_a_body_over_the_cap_is_refused_before_it_is_read_whole(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ten_mb = 10 * 1024 * 1024
    piece = b"a" * 65536
    over = MAX_BODY_BYTES // len(piece) + 4  # a little over the cap, never the promised 10 MB
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: gateway\r\n"
        f"Content-Type: {FORM}\r\nX-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=0\r\n"
    )
    # Content-Length says 10 MB: refused on the header, before the body is read
    said_large = _raw_post(gateway.url, head + f"Content-Length: {ten_mb}\r\n\r\n", [piece])
    assert said_large.startswith(b"HTTP/1.1 413"), said_large[:200]
    # no Content-Length (chunked): refused once the cap is passed, not at the end
    chunked = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    streamed = _raw_post(gateway.url, head + "Transfer-Encoding: chunked\r\n\r\n", [chunked] * over)
    assert streamed.startswith(b"HTTP/1.1 413"), streamed[:200]
    # Content-Length lies low: the server reads what it said, refused as unsigned (not hung)
    lying = _raw_post(gateway.url, head + "Content-Length: 10\r\n\r\n", [piece])
    assert lying.startswith(b"HTTP/1.1 401"), lying[:200]
    no_traceback(caplog, 3)
    # and one just under the cap is read whole and only refused as unsigned
    answer = gateway.http.post(
        "/slack/events", content=b"a" * (MAX_BODY_BYTES - 1), headers={"Content-Type": FORM}
    )
    assert answer.status_code == 401
    signed_over = b"payload=" + b"a" * MAX_BODY_BYTES
    answer = gateway.http.post(
        "/slack/events", content=signed_over, headers=signed_headers(signed_over, FORM)
    )
    assert answer.status_code == 413 and str(MAX_BODY_BYTES) in answer.text


@SQLITE
def test_prompts_refuses_versions_that_are_not_ascii_numbers_in_range(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    from support import invoke

    assert invoke("init", "--sample").code == 0
    caplog.set_level(logging.INFO)
    assert gateway.http.get("/prompts/support-triage", params={"version": "1"}).status_code == 200
    answers = {
        version: gateway.http.get("/prompts/support-triage", params={"version": version})
        for version in ("١", "٣", str(10**23), "9" * 5000, "-1", "1.0", "0x1")
    }
    assert {v: a.status_code for v, a in answers.items()} == {v: 400 for v in answers}
    assert "out of range" in answers[str(10**23)].json()["error"]
    assert "out of range" in answers["9" * 5000].json()["error"]
    assert "ASCII digits" in answers["١"].json()["error"]
    no_traceback(caplog, 0)


@SQLITE
def test_prompts_answers_a_token_of_any_characters_with_401(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import invoke

    from integrations.settings import get_settings

    assert invoke("init", "--sample").code == 0
    monkeypatch.setenv("PROMPTLOOP_API_TOKEN", "s3cret")
    get_settings.cache_clear()
    caplog.set_level(logging.INFO)
    right = gateway.http.get("/prompts/support-triage", headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    for given in ("Bearer s3crét".encode(), "Bearer ٣".encode(), b"\xff\xfe", b"Bearer s3cre"):
        answer = gateway.http.get("/prompts/support-triage", headers={"Authorization": given})
        assert answer.status_code == 401, given
    no_traceback(caplog, 0)
