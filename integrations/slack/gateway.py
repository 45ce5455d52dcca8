"""The Slack gateway's app: Bolt, configured from the settings, with promptloop's listeners.

    gateway = build_app(on_review_concluded=resume_run)   # checks the settings, auth.test
    gateway.bolt.dispatch(request)                        # what the HTTP / Socket Mode adapters do
    gateway.close()                                       # waits for work in hand

Bolt checks each HTTP request's signature and its 5-minute window (401 otherwise). Before
any listener, :func:`check_request` refuses another workspace (``PROMPTLOOP_SLACK_TEAM_ID``)
and stamps the request, so the work it carries is written once however often it comes
(:mod:`integrations.slack.replay`). Listeners: :mod:`integrations.slack.handlers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.error import BoltError

from integrations.settings import Settings, get_settings
from integrations.slack import handlers
from integrations.slack.client import SLACK_API_URL, make_client
from integrations.slack.hooks import ConclusionHook, OnReviewConcluded
from integrations.slack.lanes import VoteLanes
from integrations.slack.local import LOCAL_TOKEN, local_secret
from integrations.slack.payloads import MalformedPayload, request_stamp, team_of
from roles.clock import utcnow
from roles.errors import InputError, OutageError

log = logging.getLogger("promptloop.gateway")
WORKERS = 8  # lazy listeners at once (votes hand over to their lanes); acks never wait


@dataclass
class Gateway:
    bolt: App
    hook: ConclusionHook
    executor: ThreadPoolExecutor
    lanes: VoteLanes | None = None

    def close(self) -> None:
        """Let the work already acknowledged finish (listeners, then the votes they handed
        over and their answers), then the hook calls it made."""
        self.executor.shutdown(wait=True)
        if self.lanes is not None:
            self.lanes.close()
        self.hook.shutdown()


def build_app(
    settings: Settings | None = None,
    *,
    on_review_concluded: OnReviewConcluded | None = None,
    socket_mode: bool = False,
    local: bool = False,
    local_api_url: str | None = None,
) -> Gateway:
    """The gateway's Bolt app; a clear error for each setting it cannot work without.

    Args:
        on_review_concluded: called with the change id, off the request path, after a vote
            that concluded its review was committed (serve: resume the pipeline run).
        socket_mode: requests arrive over Socket Mode (``SLACK_APP_TOKEN``), unsigned.
        local: no Slack workspace (no ``SLACK_BOT_TOKEN``): requests signed with this
            home's secret, answers written to the log (``integrations.slack.local``):
            the gateway's client calls ``local_api_url`` (the gateway's own stand-in).
    """
    settings = settings or get_settings()
    base_url = settings.slack_api_url or SLACK_API_URL
    client: Any
    if local:  # no workspace: signed requests (the demo's) still come; answers are logged
        from slack_sdk import WebClient

        client = WebClient(token=LOCAL_TOKEN, base_url=local_api_url or "http://127.0.0.1:9/")
        secret = local_secret(settings)
    else:
        token, secret = _required(settings, socket_mode=socket_mode)
        client = make_client(
            token=token,
            base_url=base_url,
            timeout_s=settings.slack_timeout_s,
            max_retries=settings.slack_max_retries,
            base_delay_s=settings.retry_base_delay_s,
        )
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gateway-work")
    try:
        bolt = App(
            client=client,
            signing_secret=secret,
            process_before_response=True,  # acks run in the request's thread, work is lazy
            listener_executor=executor,
            logger=log,
            token_verification_enabled=not local,
        )
    except BoltError as exc:
        raise InputError(f"SLACK_BOT_TOKEN was refused by Slack: {exc}") from None
    except (URLError, OSError) as exc:
        raise OutageError(f"Slack did not answer auth.test at {base_url}: {exc}") from None
    hook = ConclusionHook(on_review_concluded)
    bolt.use(_checker(settings.slack_team_id))
    bolt.error(_log_error)
    from integrations.slack.submit_handlers import register_submit

    register_submit(bolt)  # before handlers': their catch-all takes any other modal
    lanes = VoteLanes.for_ledger(settings.resolved_database_url)
    handlers.register(bolt, hook, lanes)
    return Gateway(bolt=bolt, hook=hook, executor=executor, lanes=lanes)


def _required(settings: Settings, *, socket_mode: bool) -> tuple[str, str]:
    if settings.slack_bot_token is None:
        raise InputError(
            "SLACK_BOT_TOKEN is not set: the gateway cannot open modals or answer clicks "
            "(the app's Bot User OAuth Token, xoxb-…)"
        )
    token = settings.slack_bot_token.get_secret_value()
    if socket_mode:
        app_token = settings.slack_app_token
        if app_token is None or not app_token.get_secret_value().startswith("xapp-"):
            raise InputError(
                "SLACK_APP_TOKEN is not an app-level token (xapp-…, scope connections:write): "
                "Socket Mode cannot connect"
            )
        return token, ""
    if settings.slack_signing_secret is None:
        raise InputError(
            "SLACK_SIGNING_SECRET is not set: the gateway cannot check that requests come "
            "from Slack (the app's Basic Information → Signing Secret)"
        )
    return token, settings.slack_signing_secret.get_secret_value()


def _checker(team_id: str | None) -> Callable[..., Any]:
    def check_request(
        request: BoltRequest, body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> Any:
        """Refuse another workspace; stamp the request for the replay check."""
        team = team_of(body)
        if team_id is not None and team != team_id:
            log.warning(
                "refused a request from workspace %s (this gateway serves %s)", team, team_id
            )
            return BoltResponse(status=403, body=f"this app serves workspace {team_id}, not {team}")
        try:
            context["stamp"] = request_stamp(
                mode=request.mode, headers=request.headers, body=body, now=utcnow()
            )
        except MalformedPayload as exc:
            return BoltResponse(status=400, body=str(exc))
        return next()

    return check_request


def _log_error(error: Exception, body: dict[str, Any]) -> None:
    log.error("a Slack request (%s) failed", body.get("type", "?"), exc_info=error)
