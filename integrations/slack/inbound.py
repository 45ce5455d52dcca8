"""What the HTTP gateway checks before Bolt sees a request: its size, its signature, its shape.

Slack's interaction payloads are a few kilobytes; anything over ``MAX_BODY_BYTES`` is
refused (413) before more than that is read, whatever ``Content-Length`` says or whether
it is there at all. Only then is the signature checked, on the raw bytes, so nothing
unsigned is ever parsed; a signed body that is not a payload Bolt can read is one
sentence (400), not a traceback::

    body = await read_capped(request)          # raises Refused(413, …)
    if not verified(body, …): 401
    problem = payload_problem(body, request.headers.get("content-type"))  # None, or why
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a large modal submission is tens of kilobytes
MAX_DEPTH = 64  # Slack's deepest payload (a view's state values) nests about ten levels


class Refused(Exception):
    """The request is answered ``status`` with ``message`` and goes no further."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_capped(request: Request, cap: int = MAX_BODY_BYTES) -> bytes:
    """The body, read in chunks; ``Refused(413)`` once it is over ``cap`` (or says it is)."""
    too_large = Refused(413, f"the request body is over {cap} bytes, the gateway's limit")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def payload_problem(body: bytes, content_type: str | None) -> str | None:
    """Why Bolt could not read ``body`` as a Slack payload (one sentence), or None.

    Reads it as Bolt does (``slack_bolt.request.internals.parse_body``): JSON when the
    content type says so or it starts with ``{``, else a form, whose ``payload`` field
    (when there is one) is JSON. The JSON must be an object nested at most ``MAX_DEPTH``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text.strip():
        return "the body is empty"
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or text.startswith("{"):
        return _json_problem(text, "the body")
    if "payload" in text:
        payload = dict(parse_qsl(text, keep_blank_values=True)).get("payload")
        return None if payload is None else _json_problem(payload, "its payload field")
    return None  # a slash command's form fields


def _json_problem(text: str, what: str) -> str | None:
    try:
        data = json.loads(text)
    except RecursionError:
        return f"{what} is nested deeper than {MAX_DEPTH} levels"
    except ValueError as exc:
        return f"{what} is not JSON ({getattr(exc, 'msg', exc)})"
    if not isinstance(data, dict):
        return f"{what} is a JSON {_JSON_KINDS.get(type(data), 'value')}, not an object"
    if _depth(data) > MAX_DEPTH:
        return f"{what} is nested deeper than {MAX_DEPTH} levels"
    return None


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def _depth(value: Any) -> int:
    """How deep ``value`` nests (an object or an array is one level), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend(
            (child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
        )
    return deepest
