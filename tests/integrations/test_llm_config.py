"""Configuration problems: ``LLMClient.check`` names them up front, error results name the fix."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from fakes.openai_server import FakeOpenAIServer

from integrations.llm.client import LLMClient
from integrations.llm.retry import RetryPolicy
from integrations.settings import Settings, get_settings
from roles.calls import ChatRequest, ChatResult

ONCE = RetryPolicy(max_retries=0)


def ask(model: str = "fake-model") -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": "hi"}])


def call(client: LLMClient, request: ChatRequest) -> ChatResult:
    async def run() -> ChatResult:
        async with client:
            return await client(request)

    return asyncio.run(run())


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()


_HELD: list[socket.socket] = []  # bound for the whole run: no one else can take the ports


def closed_port_url() -> str:
    """A URL at a port bound and never listening: connections are refused, always."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_check_names_the_missing_key_and_its_result_says_the_same(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LLMClient(settings(monkeypatch), no_cache=True)
    problem = client.check("anthropic/claude-x")
    assert problem == "set ANTHROPIC_API_KEY to call 'anthropic/claude-x'"
    assert call(client, ask("anthropic/claude-x")).error == problem
    assert client.check("mistral/mistral-small") == (
        "set MISTRAL_API_KEY to call 'mistral/mistral-small'"
    )
    assert client.check("openai/gpt-4o") == "set OPENAI_API_KEY to call 'openai/gpt-4o'"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert LLMClient(settings(monkeypatch)).check("anthropic/claude-x") is None


def test_check_sends_no_request(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    assert LLMClient(llm_settings).check("fake-model") is None
    assert fake_openai.requests_received == 0


def test_local_models_when_the_embedded_model_is_not_running(
    llm_home: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No endpoint at all (the embedded model is not started by a bare client).
    bare = LLMClient(settings(monkeypatch))
    problem = bare.check("smollm2-135m")
    assert problem is not None and "set OPENAI_BASE_URL" in problem
    local = bare.check("local/smollm2-135m")
    assert local is not None and "embedded local model, which is not running" in local
    # OPENAI_BASE_URL is set, so commands do not start it: say what to change.
    configured = LLMClient(settings(monkeypatch, OPENAI_BASE_URL=fake_openai.base_url))
    problem = configured.check("local/smollm2-135m")
    assert problem is not None and "unset OPENAI_BASE_URL" in problem
    assert "drop the 'local/' prefix" in problem
    assert configured.check("smollm2-135m") is None
    # Running: fine.
    running = LLMClient(settings(monkeypatch), local_base_url=fake_openai.base_url)
    assert running.check("local/smollm2-135m") is None and running.check("x") is None


@pytest.mark.parametrize(
    ("env", "value", "model"),
    [
        ("OPENAI_BASE_URL", "localhost:8000/v1", "fake-model"),
        ("OPENAI_BASE_URL", "http://[::1/v1", "fake-model"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:notaport/v1", "openai/gpt-4o"),
        ("PROMPTLOOP_PROVIDER_BASE_URLS", json.dumps({"mistral": "ftp://x/v1"}), "mistral/m"),
    ],
)
def test_a_malformed_base_url_is_a_configuration_problem(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch, env: str, value: str, model: str
) -> None:
    client = LLMClient(settings(monkeypatch, **{env: value}), no_cache=True)
    problem = client.check(model)
    assert problem is not None and problem.startswith(env)
    result = call(client, ask(model))
    assert result.error == problem and result.attempts == 0


def test_an_unreachable_base_url_names_the_setting(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = closed_port_url()
    client = LLMClient(settings(monkeypatch, OPENAI_BASE_URL=url), no_cache=True, retry=ONCE)
    assert client.check("fake-model") is None  # configured; whether it answers is not config
    result = call(client, ask())
    assert result.error is not None and result.error.startswith("connection error")
    assert result.error.endswith(f"(check OPENAI_BASE_URL={url}; is the server up?)")


def test_rejected_keys_and_unknown_routes_name_the_setting(
    llm_home: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_key = LLMClient(
        settings(monkeypatch, OPENAI_BASE_URL=fake_openai.base_url), no_cache=True, retry=ONCE
    )
    fake_openai.fail(401)
    assert call(no_key, ask()).error == "HTTP 401: fake 401 (set OPENAI_API_KEY)"
    with_key = LLMClient(settings(monkeypatch, OPENAI_API_KEY="sk-wrong"), no_cache=True)
    fake_openai.fail(403)
    assert call(with_key, ask()).error == "HTTP 403: fake 403 (check OPENAI_API_KEY)"
    wrong_path = LLMClient(
        settings(monkeypatch, OPENAI_BASE_URL=fake_openai.url + "/api"), no_cache=True
    )
    error = call(wrong_path, ask()).error
    assert error is not None and error.startswith("HTTP 404: no route /api/chat/completions")
    assert error.endswith(f"(check OPENAI_BASE_URL={fake_openai.url}/api and the model name)")


def test_credentials_in_a_base_url_stay_out_of_errors(
    llm_home: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_url = fake_openai.base_url.replace("http://", "http://user:s3cret@")
    client = LLMClient(settings(monkeypatch, OPENAI_BASE_URL=secret_url), no_cache=True)
    fake_openai.answer_raw("<html></html>")
    error = call(client, ask()).error
    assert error is not None and "s3cret" not in error and fake_openai.base_url in error


def test_an_empty_base_url_counts_as_unset(
    llm_home: Path, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LLMClient(settings(monkeypatch, OPENAI_BASE_URL=""))
    problem = client.check("fake-model")
    assert problem is not None and problem.startswith("no endpoint for model 'fake-model'")
    running = LLMClient(get_settings(), local_base_url=fake_openai.base_url, no_cache=True)
    assert running.check("fake-model") is None and call(running, ask()).ok


def test_credentials_in_a_malformed_base_url_stay_out_of_check(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LLMClient(settings(monkeypatch, OPENAI_BASE_URL="http://me:s3cret@[::1/v1"))
    problem = client.check("fake-model")
    assert problem is not None and problem.startswith("OPENAI_BASE_URL must be")
    assert "s3cret" not in problem
