"""The model client against a fake OpenAI server, through the real ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, rules

from integrations.llm.client import LLMClient
from integrations.llm.retry import RetryPolicy, retry_after_s
from integrations.settings import Settings, get_settings
from roles.calls import ChatRequest, ChatResult


def ask(text: str, model: str = "fake-model", **params: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], params=params)


def call(client: LLMClient, *requests: ChatRequest) -> list[ChatResult]:
    async def run() -> list[ChatResult]:
        async with client:
            return list(await asyncio.gather(*(client(r) for r in requests)))

    return asyncio.run(run())


def fresh(settings: Settings, **options: Any) -> LLMClient:
    """A client that skips the cache, so each test sees real calls."""
    return LLMClient(settings, no_cache=True, **options)


def test_success_reports_text_usage_and_cost(llm_settings: Settings) -> None:
    client = fresh(llm_settings)
    [result] = call(client, ask("hello there", model="gpt-4o-mini"))
    assert result.ok and result.text == "echo: hello there"
    assert (result.input_tokens, result.output_tokens) == (6, 3)
    assert result.cost_usd == pytest.approx((6 * 0.15 + 3 * 0.60) / 1e6)
    assert result.attempts == 1 and not result.cached and result.latency_s > 0
    assert client.stats.model_calls == 1 and client.stats.cost_usd == result.cost_usd


def test_unknown_model_costs_none_not_zero(llm_settings: Settings) -> None:
    client = fresh(llm_settings)
    [result] = call(client, ask("hi", model="brand-new-model"))
    assert result.ok and result.cost_usd is None
    assert client.stats.unpriced_calls == 1


def test_the_embedded_model_costs_zero_and_prices_setting_overrides(
    llm_home: object, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No OPENAI_BASE_URL: bare names go to the embedded model (here the fake at its port).
    embedded = fresh(get_settings(), local_base_url=fake_openai.base_url)
    local, prefixed = call(embedded, ask("hi", model="smollm2-135m"), ask("hi", model="local/x"))
    assert local.cost_usd == 0.0 and prefixed.cost_usd == 0.0

    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("PROMPTLOOP_PRICES", '{"house-model": [1.0, 2.0]}')
    get_settings.cache_clear()
    client = fresh(get_settings())
    elsewhere, house = call(client, ask("hi", model="smollm2-135m"), ask("hi", model="house-model"))
    # The embedded model's name answered by another endpoint is not free: unknown.
    assert elsewhere.ok and elsewhere.cost_usd is None
    assert house.cost_usd == pytest.approx((5 * 1.0 + 2 * 2.0) / 1e6)

    monkeypatch.setenv("PROMPTLOOP_PRICES", '{"smollm2-135m": [1.0, 2.0]}')
    get_settings.cache_clear()
    [priced] = call(fresh(get_settings()), ask("hi", model="smollm2-135m"))
    assert priced.cost_usd == pytest.approx((5 * 1.0 + 2 * 2.0) / 1e6)


def test_params_and_response_format_pass_through(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    request = ChatRequest(
        model="fake-model",
        messages=[{"role": "system", "content": "judge"}, {"role": "user", "content": "x"}],
        params={"temperature": 0, "max_tokens": 16, "seed": 7, "top_p": 0.9, "custom": "y"},
        response_format={"type": "json_object"},
    )
    [result] = call(fresh(llm_settings), request)
    assert json.loads(result.text or "") == {"echo": "x"}
    body = fake_openai.chat_bodies[-1]
    assert body["response_format"] == {"type": "json_object"}
    assert {k: body[k] for k in request.params} == request.params


def test_429_waits_as_long_as_retry_after_says(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(429, retry_after="1")
    client = fresh(llm_settings)
    started = time.perf_counter()
    [result] = call(client, ask("hi"))
    assert result.ok and result.attempts == 2
    assert time.perf_counter() - started >= 1.0
    assert client.stats.waited_s == 1.0 and client.stats.model_calls == 2


def test_429_without_retry_after_backs_off_with_jitter(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(429, times=2)
    client = fresh(llm_settings)
    [result] = call(client, ask("hi"))
    assert result.ok and result.attempts == 3
    assert client.stats.retries == 2
    assert 0 <= client.stats.waited_s <= 0.01 + 0.02  # base 0.01, doubled, full jitter


def test_500_then_success(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(500)
    fake_openai.fail(503)
    [result] = call(fresh(llm_settings), ask("hi"))
    assert result.ok and result.attempts == 3
    assert fake_openai.requests_received == 3


def test_timeout_is_retried(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.hang(2.0)
    [result] = call(fresh(llm_settings, timeout_s=0.3), ask("hi"))
    assert result.ok and result.attempts == 2


def test_dropped_connection_is_retried(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.drop()
    [result] = call(fresh(llm_settings), ask("hi"))
    assert result.ok and result.attempts == 2


def test_exhausted_retries_give_an_error_result_not_an_exception(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(500, times=10)
    client = fresh(llm_settings, retry=RetryPolicy(max_retries=2, base_delay_s=0.01))
    [result] = call(client, ask("hi"))
    assert not result.ok and result.text is None
    assert result.error is not None and result.error.startswith("HTTP 500 after 3 attempts: ")
    assert fake_openai.requests_received == 3 and client.stats.errors == 1


def test_exhausted_timeouts_say_so(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.hang(1.0, times=2)
    retry = RetryPolicy(max_retries=1, base_delay_s=0.01)
    [result] = call(fresh(llm_settings, timeout_s=0.2, retry=retry), ask("hi"))
    assert result.error == "timeout after 2 attempts: no answer within 0.2 s"


def test_400_is_not_retried(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(400)
    [result] = call(fresh(llm_settings), ask("hi"))
    assert result.error == "HTTP 400: fake 400" and result.attempts == 1
    assert fake_openai.requests_received == 1


def test_one_bad_item_does_not_spoil_the_batch(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.fail(400, match="bad")
    fake_openai.fail(500, match="flaky")
    results = call(fresh(llm_settings), ask("good"), ask("bad"), ask("flaky"))
    assert [r.ok for r in results] == [True, False, True]


def test_concurrency_bound_is_respected(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.latency_s = 0.05
    call(fresh(llm_settings, concurrency=4), *(ask(f"q{i}") for i in range(24)))
    assert fake_openai.max_in_flight == 4


def test_responder_table_answers_judge_prompts(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.responder = rules({"Rate": '{"score": 4}'})
    [result] = call(fresh(llm_settings), ask("Rate this answer"))
    assert json.loads(result.text or "") == {"score": 4}


def test_provider_prefix_routes_and_strips(
    llm_settings: Settings, fake_openai: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PROMPTLOOP_PROVIDER_BASE_URLS", json.dumps({"mistral": fake_openai.base_url})
    )
    get_settings.cache_clear()
    client = fresh(get_settings())
    mistral, _hf_style, anthropic, local = call(
        client,
        ask("a", model="mistral/mistral-small"),
        ask("b", model="Qwen/Qwen2.5-7B-Instruct"),
        ask("c", model="anthropic/claude-x"),
        ask("d", model="local/smollm2-135m"),
    )
    assert mistral.ok and mistral.model == "mistral/mistral-small"
    sent = sorted(b["model"] for b in fake_openai.chat_bodies)
    assert sent == ["Qwen/Qwen2.5-7B-Instruct", "mistral-small"]
    assert anthropic.error == "set ANTHROPIC_API_KEY to call 'anthropic/claude-x'"
    assert local.error is not None and "embedded local model" in local.error
    assert anthropic.attempts == 0 and client.stats.model_calls == 2


def test_no_endpoint_configured_is_an_error_result(llm_home: object) -> None:
    [result] = call(fresh(get_settings()), ask("hi"))
    assert result.error is not None and "OPENAI_BASE_URL" in result.error


def test_retry_after_forms_and_cap() -> None:
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    now = datetime(2025, 1, 1, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_s({"retry-after": date}, now=now) == 30.0
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None
    assert RetryPolicy(retry_after_max_s=5).delay(retry=0, retry_after=600) == 5
    delays = [RetryPolicy(base_delay_s=1, max_delay_s=3).delay(retry=9, retry_after=None)]
    assert all(0 <= d <= 3 for d in delays)


def test_fake_server_answers_32_requests_at_once(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.latency_s = 0.2
    call(fresh(llm_settings, concurrency=32), *(ask(f"q{i}") for i in range(32)))
    assert fake_openai.max_in_flight == 32  # all at once, not serialised (speed: benchmarks/)
