"""Answers that are not chat completions: an error result per item, never an exception.

The real ``openai`` SDK talks to the fake server, which answers 200 with an HTML page,
broken JSON, or JSON that is not a chat completion.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx2
import openai
import pytest
from fakes.openai_server import FakeOpenAIServer

from integrations.llm.client import NOT_CHAT_API, LLMClient
from integrations.llm.retry import RetryPolicy
from integrations.settings import Settings
from roles.calls import ChatRequest, ChatResult

HTML = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>…</body></html>"


def ask(text: str = "hi", model: str = "fake-model") -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}])


def call(client: LLMClient, *requests: ChatRequest) -> list[ChatResult]:
    async def run() -> list[ChatResult]:
        async with client:
            return list(await asyncio.gather(*(client(r) for r in requests)))

    return asyncio.run(run())


def completion(message: dict[str, Any], finish_reason: str | None = "stop") -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_an_html_page_is_an_error_result_not_retried(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.answer_raw(HTML)  # once: a retry would have succeeded
    client = LLMClient(llm_settings)
    [result] = call(client, ask())
    assert result.error is not None and result.text is None
    assert result.error.startswith(f"{NOT_CHAT_API}: got text/html: '<!DOCTYPE html> <html>")
    assert f"check OPENAI_BASE_URL={fake_openai.base_url}" in result.error
    assert result.attempts == 1 and fake_openai.requests_received == 1  # not retried
    assert client.stats.errors == 1 and client.stats.input_tokens == 0
    # Not cached either: the next run asks again and gets the real answer.
    [again] = call(LLMClient(llm_settings), ask())
    assert again.ok and not again.cached


@pytest.mark.parametrize(
    ("payload", "got"),
    [
        ({"object": "list", "data": []}, "got JSON without `choices` (keys: data, object)"),
        ({"choices": []}, "got `choices: []`"),
        ({"choices": None}, "got `choices: null`"),
        ({"choices": [{"index": 0}]}, "got a choice without a `message` object"),
        ({"choices": ["text"]}, "got a choice without a `message` object"),
        (completion({"role": "assistant", "content": None}), "got `message.content: null`"),
        (completion({"role": "assistant", "content": 42}), "got `message.content: 42`"),
        ([1, 2], "got JSON that is not an object: [1, 2]"),
        ("a string", 'got JSON that is not an object: "a string"'),
        (None, "got JSON that is not an object: null"),
        ({"error": {"message": "upstream overloaded"}}, "got an error with status 200"),
    ],
)
def test_json_that_is_not_a_chat_completion(
    llm_settings: Settings, fake_openai: FakeOpenAIServer, payload: Any, got: str
) -> None:
    fake_openai.answer_json(payload)
    [result] = call(LLMClient(llm_settings, no_cache=True), ask())
    assert result.error is not None and result.error.startswith(f"{NOT_CHAT_API}: {got}")
    assert result.attempts == 1


@pytest.mark.parametrize(
    ("body", "content_type", "got"),
    [
        (b'{"choices": [', "application/json", "got application/json: '{\"choices\": ['"),
        (b"", "application/json", "got an empty body (application/json)"),
        (b"\xff\xfe\x00", "application/json", "got application/json: "),
        (b"OK", "text/plain", "got text/plain: 'OK'"),
        (b"[" * 100_000, "application/json", "got application/json: '[[["),
    ],
)
def test_bodies_that_are_not_json(
    llm_settings: Settings,
    fake_openai: FakeOpenAIServer,
    body: bytes,
    content_type: str,
    got: str,
) -> None:
    fake_openai.answer_raw(body, content_type=content_type)
    [result] = call(LLMClient(llm_settings, no_cache=True), ask())
    assert result.error is not None and result.error.startswith(f"{NOT_CHAT_API}: {got}")


def test_one_html_answer_does_not_spoil_the_batch(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.answer_raw(HTML, match="portal")
    results = call(LLMClient(llm_settings), ask("a"), ask("portal"), ask("b"))
    assert [r.ok for r in results] == [True, False, True]


def test_chat_completions_without_plain_text(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    tool_call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    fake_openai.answer_json(
        completion({"role": "assistant", "content": None, "tool_calls": [tool_call]}, "tool_calls"),
        match="tool",
    )
    fake_openai.answer_json(completion({"content": None}, "length"), match="long")
    fake_openai.answer_json(completion({"content": None, "refusal": "I can't."}), match="refuse")
    parts = [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]
    fake_openai.answer_json(completion({"content": parts}), match="parts")
    no_usage = completion({"content": "fine"})
    del no_usage["usage"]
    fake_openai.answer_json(no_usage, match="usage")
    client = LLMClient(llm_settings, no_cache=True)
    tool, long, refused, joined, unmetered = call(
        client, ask("tool"), ask("long"), ask("refuse"), ask("parts"), ask("usage")
    )
    assert tool.error == "no text in the answer: the model called a tool (finish_reason=tool_calls)"
    assert long.error == "no text in the answer (finish_reason=length)"
    assert refused.error == "the model refused: I can't."
    assert tool.input_tokens == 3  # a real completion: what it cost is still counted
    assert joined.text == "ab"
    assert unmetered.text == "fine" and unmetered.input_tokens is None


def test_an_undecodable_body_is_retried_like_a_broken_connection(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    # gzip that is not gzip: the HTTP library fails to read it (the SDK calls that a
    # connection error), so it is retried; a good answer next time wins.
    fake_openai.answer_raw(
        b"not gzip", content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    [result] = call(LLMClient(llm_settings, no_cache=True), ask())
    assert result.ok and result.attempts == 2
    fake_openai.answer_raw(gzip.compress(b"<html/>"), headers={"Content-Encoding": "gzip"}, times=5)
    [html] = call(LLMClient(llm_settings, no_cache=True), ask())
    assert html.error is not None and html.error.startswith(f"{NOT_CHAT_API}: got text/html")


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.InvalidURL("Invalid port: ':1'"),
        httpx2.StreamConsumed(),
        ValueError("Expecting value: line 1 column 1 (char 0)"),
        openai.APIResponseValidationError(
            httpx2.Response(200, request=httpx2.Request("POST", "http://x/v1")), body="<html>"
        ),
    ],
    ids=["InvalidURL", "StreamConsumed", "ValueError", "APIResponseValidationError"],
)
def test_no_exception_escapes_an_attempt(
    llm_settings: Settings, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    async def raising(*args: Any, **kwargs: Any) -> Any:
        raise exc

    monkeypatch.setattr(openai.AsyncOpenAI, "post", raising)
    client = LLMClient(llm_settings, no_cache=True, retry=RetryPolicy(max_retries=2))
    [result] = call(client, ask())
    assert result.error is not None and result.attempts == 1
    if isinstance(exc, openai.APIResponseValidationError):
        assert result.error.startswith(f"{NOT_CHAT_API}: got '<html>'")
    else:
        assert result.error.startswith(f"unexpected {type(exc).__name__}: ")


def test_cancellation_still_propagates(
    llm_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cancelled(*args: Any, **kwargs: Any) -> Any:
        raise asyncio.CancelledError

    monkeypatch.setattr(openai.AsyncOpenAI, "post", cancelled)
    with pytest.raises(asyncio.CancelledError):
        call(LLMClient(llm_settings, no_cache=True), ask())
