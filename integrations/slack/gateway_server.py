"""Running the gateway: over HTTP (Starlette under uvicorn) or over Socket Mode.

Both return when cancelled, having finished the work already acknowledged, so ``serve``
runs either as one task of its loop (it owns the signals; these install none)::

    await serve_gateway("127.0.0.1", 3000, on_review_concluded=resume, announce=say)
    await serve_socket_gateway(on_review_concluded=resume, announce=say)  # SLACK_APP_TOKEN

HTTP: ``POST /slack/events`` (Slack's interactivity request URL) and ``GET /healthz``
(``{"ok": true, "ledger": "reachable"}``, 503 when the ledger is not).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from slack_bolt import BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations.db import get_engine, session_scope
from integrations.settings import Settings, get_settings
from integrations.slack.gateway import Gateway, build_app
from integrations.slack.hooks import OnReviewConcluded
from integrations.slack.inbound import Refused, payload_problem, read_capped
from integrations.slack.ledger_header import LedgerHeader, ledger_fields
from integrations.slack.local import LOCAL_API_PATH, signing_secret, terminal_slack
from integrations.slack.signing import verified
from roles.errors import InputError, OutageError, PromptloopError

Announce = Callable[[str], None]
MAX_VERSION = 2**63 - 1  # a ledger integer (BIGINT on PostgreSQL, INTEGER on SQLite)
log = logging.getLogger("promptloop.gateway")


def asgi_app(gateway: Gateway, signing_secret: str, *, local: bool = False) -> Starlette:
    """``/slack/events`` dispatched to Bolt on a worker thread, and ``/healthz``; with no
    workspace (``local``), a stand-in for Slack's Web API that logs what it is asked.

    A Slack request is read up to ``MAX_BODY_BYTES`` (413 past it), its signature checked
    on the raw bytes (401), and its shape (400, one sentence) before Bolt parses it."""

    async def events(request: Request) -> Response:
        try:
            body = await read_capped(request)
            headers = request.headers
            if not verified(
                body,
                timestamp=headers.get("x-slack-request-timestamp"),
                given=headers.get("x-slack-signature"),
                secret=signing_secret,
            ):
                return JSONResponse({"error": "invalid request"}, status_code=401)
            problem = payload_problem(body, headers.get("content-type"))
            if problem is not None:
                raise Refused(400, f"malformed Slack payload: {problem}")
            bolt_request = _bolt_request(request, body)
        except Refused as refused:
            log.warning("refused a Slack request (%d): %s", refused.status, refused.message)
            return PlainTextResponse(refused.message, status_code=refused.status)
        return to_starlette_response(await run_in_threadpool(gateway.bolt.dispatch, bolt_request))

    async def healthz(request: Request) -> JSONResponse:
        ledger = await run_in_threadpool(ledger_status)
        ok = ledger == "reachable"
        named = ledger_fields()  # which ledger answers (two homes, two gateways)
        return JSONResponse({"ok": ok, "ledger": ledger, **named}, status_code=200 if ok else 503)

    async def local_slack(request: Request) -> Response:
        from urllib.parse import parse_qsl

        try:
            raw = await read_capped(request)
        except Refused as refused:
            return PlainTextResponse(refused.message, status_code=refused.status)
        body = raw.decode("utf-8", "replace")
        form = dict(parse_qsl(body)) if "form" in request.headers.get("content-type", "") else {}
        params = {**form, **_json(request, raw)}
        return JSONResponse(terminal_slack(request.path_params["method"], params))

    routes = [
        Route("/slack/events", events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/prompts/{name}", prompt_version, methods=["GET"]),
    ]
    if local:
        routes.append(Route(LOCAL_API_PATH + "{method}", local_slack, methods=["POST"]))
    return Starlette(routes=routes, middleware=[Middleware(LedgerHeader)])


async def prompt_version(request: Request) -> Response:
    """``GET /prompts/{name}?label=production`` (or ``?version=N``): the version as JSON,
    with an ``ETag``; ``If-None-Match`` → 304. Read-only; behind ``Authorization: Bearer``
    when ``PROMPTLOOP_API_TOKEN`` is set."""
    token = get_settings().api_token
    if token is not None:
        # As bytes: a header of other characters than ASCII is a wrong token, not a 500.
        given = request.headers.get("authorization", "").encode()
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "a bearer token is required"}, status_code=401)
    label = request.query_params.get("label", "production")
    raw_version = request.query_params.get("version")
    version = None
    if raw_version:  # `?version=` alone: the label, as before
        # ASCII digits only: int() would also read '٣' (an Arabic-Indic three) as 3.
        if not (raw_version.isascii() and raw_version.isdigit()):
            return JSONResponse(
                {"error": "version must be a number (ASCII digits)"}, status_code=400
            )
        digits = raw_version.lstrip("0") or "0"  # int() refuses over 4,300 digits
        if len(digits) > len(str(MAX_VERSION)) or int(digits) > MAX_VERSION:
            return JSONResponse(
                {"error": f"version {raw_version[:30]} is out of range"}, status_code=400
            )
        version = int(digits)
    try:
        view = await run_in_threadpool(_prompt_json, request.path_params["name"], label, version)
    except OutageError as exc:  # the ledger did not answer: try again, not "no such prompt"
        return JSONResponse({"error": exc.message}, status_code=503)
    except PromptloopError as exc:
        return JSONResponse({"error": exc.message}, status_code=404)
    etag = '"' + hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:32] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(view, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _prompt_json(name: str, label: str, version: int | None) -> dict[str, Any]:
    from dataclasses import asdict

    from roles.published import read_version

    with session_scope() as session:
        return asdict(read_version(session, name=name, label=label, version=version))


def _bolt_request(request: Request, body: bytes) -> BoltRequest:
    """Bolt's request for a signed body of the right shape; ``Refused(400)`` when Bolt
    still cannot read it (its context is built from the payload's fields at once)."""
    try:
        return to_bolt_request(request, body)
    except Exception as exc:  # Bolt reading a payload no Slack sends, e.g. "user": 3
        raise Refused(
            400,
            f"malformed Slack payload: its fields are not of the types Slack sends "
            f"({type(exc).__name__})",
        ) from None


def _json(request: Request, raw: bytes) -> dict[str, Any]:
    if "json" not in request.headers.get("content-type", ""):
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def ledger_status() -> str:
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, PromptloopError, OSError) as exc:
        return f"unreachable: {str(exc).strip().splitlines()[0]}"
    return "reachable"


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # whoever runs the loop owns SIGINT/SIGTERM, and cancels us


def listen(host: str, port: int) -> socket.socket:
    """The gateway's socket, bound now: a port in use is an error that names the setting."""
    try:
        return socket.create_server((host, port), backlog=512)
    except OSError as exc:
        raise InputError(
            f"the gateway cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(--port, or PROMPTLOOP_GATEWAY_PORT)"
        ) from None


async def serve_http(
    gateway: Gateway,
    sock: socket.socket,
    *,
    signing_secret: str,
    started: asyncio.Event | None = None,
    local: bool = False,
) -> None:
    """Serve ``gateway`` on ``sock`` until cancelled; then stop accepting, finish, return."""
    config = uvicorn.Config(
        asgi_app(gateway, signing_secret, local=local),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = _Embedded(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if started is not None and server.started:
            started.set()
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
    finally:
        sock.close()


async def serve_gateway(
    host: str | None = None,
    port: int | None = None,
    *,
    on_review_concluded: OnReviewConcluded | None = None,
    started: asyncio.Event | None = None,
    announce: Announce | None = None,
    settings: Settings | None = None,
) -> None:
    """The HTTP gateway (default ``PROMPTLOOP_GATEWAY_HOST``:``PROMPTLOOP_GATEWAY_PORT``,
    127.0.0.1:3000) until cancelled; ``announce`` hears its URL once it listens."""
    settings = settings or get_settings()
    local = settings.slack_bot_token is None
    sock = listen(host or settings.gateway_host, settings.gateway_port if port is None else port)
    bound_host, bound_port = sock.getsockname()[:2]
    try:
        gateway = await asyncio.to_thread(
            build_app,
            settings,
            on_review_concluded=on_review_concluded,
            local=local,
            local_api_url=f"http://{bound_host}:{bound_port}{LOCAL_API_PATH}",
        )
    except BaseException:
        sock.close()
        raise
    try:
        ready = started or asyncio.Event()
        announcing = asyncio.create_task(
            _announce(ready, announce, f"http://{bound_host}:{bound_port}")
        )
        try:
            secret = signing_secret(settings)
            await serve_http(gateway, sock, signing_secret=secret, started=ready, local=local)
        finally:
            announcing.cancel()
    finally:
        await asyncio.to_thread(gateway.close)


async def serve_socket_gateway(
    *,
    on_review_concluded: OnReviewConcluded | None = None,
    started: asyncio.Event | None = None,
    announce: Announce | None = None,
    settings: Settings | None = None,
) -> None:
    """The gateway over Socket Mode (``SLACK_APP_TOKEN``, no public URL) until cancelled."""
    settings = settings or get_settings()
    gateway = await asyncio.to_thread(
        build_app, settings, on_review_concluded=on_review_concluded, socket_mode=True
    )
    assert settings.slack_app_token is not None  # build_app refused to start without it
    handler = SocketModeHandler(gateway.bolt, app_token=settings.slack_app_token.get_secret_value())
    try:
        await asyncio.to_thread(handler.connect)
        if started is not None:
            started.set()
        if announce is not None:
            announce("Slack gateway connected over Socket Mode")
        await asyncio.Event().wait()  # until cancelled
    finally:
        await asyncio.to_thread(handler.close)
        await asyncio.to_thread(gateway.close)


def socket_mode(settings: Settings | None = None) -> bool:
    """Whether the gateway takes Slack's requests over Socket Mode (``SLACK_APP_TOKEN`` set)."""
    return (settings or get_settings()).slack_app_token is not None


async def _announce(ready: asyncio.Event, announce: Announce | None, url: str) -> None:
    await ready.wait()
    if announce is not None:
        announce(f"Slack gateway listening on {url} (request URL {url}/slack/events)")
