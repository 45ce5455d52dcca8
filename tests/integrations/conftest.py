"""Fixtures for the model client: a fake OpenAI server and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer
from fakes.slack_server import FakeSlackServer
from gateway_support import RunningGateway, running_gateway

from integrations.settings import Settings, get_settings

_LLM_ENV = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "MISTRAL_API_KEY",
    "PROMPTLOOP_CONCURRENCY",
    "PROMPTLOOP_REQUEST_TIMEOUT_S",
    "PROMPTLOOP_MAX_RETRIES",
    "PROMPTLOOP_PRICES",
    "PROMPTLOOP_PROVIDER_BASE_URLS",
    "PROMPTLOOP_RETRY_AFTER_MAX_S",
)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def llm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh PROMPTLOOP_HOME, fast backoff, and no model endpoint configured."""
    for name in _LLM_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("PROMPTLOOP_HOME", str(home))
    monkeypatch.setenv("PROMPTLOOP_RETRY_BASE_DELAY_S", "0.01")
    monkeypatch.setenv("PROMPTLOOP_RETRY_MAX_DELAY_S", "0.05")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def llm_settings(
    llm_home: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings whose default endpoint is the fake server."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def gateway_env(slack: FakeSlackServer, monkeypatch: pytest.MonkeyPatch) -> FakeSlackServer:
    """Fake Slack, the signing secret and the channels: what the gateway needs to start."""
    from gateway_support import SECRET

    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("PROMPTLOOP_SLACK_REVIEW_CHANNEL", "C0REVIEW")
    monkeypatch.setenv("PROMPTLOOP_SLACK_ALERTS_CHANNEL", "C0ALERTS")
    monkeypatch.setenv("PROMPTLOOP_SLACK_DEPLOY_CHANNEL", "C0DEPLOY")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.delenv("PROMPTLOOP_SLACK_TEAM_ID", raising=False)
    get_settings.cache_clear()
    return slack


@pytest.fixture
def gateway(gateway_env: FakeSlackServer) -> Iterator[RunningGateway]:
    """The gateway serving HTTP on a free port until the test ends."""
    with running_gateway() as running:
        yield running
