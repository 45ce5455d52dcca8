"""Socket Mode: the same handlers over a WebSocket (``SLACK_APP_TOKEN``, no public URL).
The envelope is acked at once and the vote recorded, through real Bolt and slack_sdk."""

from __future__ import annotations

import time

import pytest
from fakes.slack_server import FakeSlackServer
from fakes.socket_mode_server import FakeSocketMode
from gateway_support import in_own_loop, review_in_slack, votes
from sqlmodel import Session

from integrations.db import get_engine
from integrations.settings import get_settings
from integrations.slack import ids
from integrations.slack.gateway_server import serve_socket_gateway
from integrations.slack.signing import click

pytestmark = pytest.mark.parametrize("ledger", ["sqlite"], indirect=True)


def test_an_envelope_is_acked_and_its_vote_recorded(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")  # Socket Mode needs none
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-test")
    get_settings.cache_clear()
    concluded: list[int] = []
    with (
        Session(get_engine(), expire_on_commit=False) as session,
        FakeSocketMode() as socket_mode,
    ):
        change_id, (first, second) = review_in_slack(session)
        gateway_env.socket_url = socket_mode.url
        with in_own_loop(serve_socket_gateway(on_review_concluded=concluded.append)):
            socket_mode.wait_connected()
            started = time.monotonic()
            envelope = socket_mode.send(
                click(user="U02OMAR", action_id=ids.REVIEW_PASS, value=first)
            )
            assert socket_mode.ack(envelope, timeout=3)["envelope_id"] == envelope
            acked_in = time.monotonic() - started
            again = socket_mode.send(click(user="U03INES", action_id=ids.REVIEW_PASS, value=second))
            socket_mode.ack(again)
            deadline = time.monotonic() + 10
            while not concluded and time.monotonic() < deadline:
                time.sleep(0.05)
        assert acked_in < 3
        # both recorded (the gateway works each off the ack, in no fixed order)
        assert sorted((v.review_item_id, v.source) for v in votes(session)) == [
            (first, "slack"),
            (second, "slack"),
        ]
        assert concluded == [change_id]
        opened = gateway_env.calls_to("apps.connections.open")
        assert opened and opened[0].params.get("token", "xapp-1-test")


def test_socket_mode_needs_an_app_level_token(
    gateway_env: FakeSlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.slack.gateway import build_app
    from roles.errors import InputError

    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-not-an-app-token")
    get_settings.cache_clear()
    with pytest.raises(InputError, match="SLACK_APP_TOKEN is not an app-level token"):
        build_app(socket_mode=True)
