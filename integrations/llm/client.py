"""The model client: the ``openai`` SDK's ``AsyncOpenAI`` behind a ``ModelCaller``.

Bounded concurrency, a per-call timeout, our own retries (the SDK's are off, so a
``max_retries`` of 4 means exactly 5 attempts), a request cache, and cost per call. A
per-item failure comes back as a ``ChatResult`` with ``error`` set; it never raises (only
cancellation and ``KeyboardInterrupt`` pass through). An answer that is not an OpenAI chat
completion (an HTML page, JSON without ``choices``) is such a failure, and is not retried.

    async with LLMClient(concurrency=32) as client:
        results = await asyncio.gather(*(client(r) for r in requests))
    print(client.stats.model_calls, client.stats.cache_hits, client.stats.cost_usd)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai._base_client import make_request_options
from openai._constants import RAW_RESPONSE_HEADER
from openai._legacy_response import LegacyAPIResponse
from openai.types.chat import ChatCompletion

from integrations.llm.cache import RequestCache
from integrations.llm.prices import PriceTable
from integrations.llm.providers import (
    LOCAL_API_KEY,
    Endpoint,
    EndpointError,
    cache_scope,
    display_url,
    route,
)
from integrations.llm.retry import (
    RetryPolicy,
    is_outage_status,
    is_retryable_status,
    retry_after_s,
)
from integrations.settings import Settings, get_settings
from roles.calls import ChatRequest, ChatResult


@dataclass
class CallStats:
    """What a client did since it was made; read it after a run."""

    requests: int = 0  # calls to the client
    model_calls: int = 0  # HTTP attempts actually sent, retries included
    cache_hits: int = 0
    retries: int = 0
    errors: int = 0  # requests that ended in an error result
    input_tokens: int = 0  # fresh calls only: what this run paid for
    output_tokens: int = 0
    cost_usd: float = 0.0  # spent by this run on models with a known price
    unpriced_calls: int = 0  # successful fresh calls whose cost is unknown
    waited_s: float = 0.0  # total backoff before retries


log = logging.getLogger(__name__)

NOT_CHAT_API = "the endpoint did not answer like the OpenAI chat API"

# Answers are written to the request cache in batches: one SQLite transaction for those that
# arrive in the same turn of the event loop (at most STORE_BATCH), written at the end of that
# turn, and at ``aclose``; a transaction per answer cost the event loop ~170 µs each when
# the model is fast. A process killed outright re-buys only its last turn's answers.
STORE_BATCH = 64


@dataclass
class _Failure:
    kind: str  # "HTTP 500", "timeout", "connection error", ...
    detail: str
    retryable: bool
    retry_after: float | None = None
    hint: str | None = None  # what to check or set, added to the final error
    outage: bool = True  # the endpoint's fault (down, refusing, misconfigured), not the item's


@dataclass
class _LoopState:
    """Things bound to one event loop: rebuilt if the client meets a new loop."""

    loop: asyncio.AbstractEventLoop
    semaphore: asyncio.Semaphore
    sdk_clients: dict[tuple[str, str], openai.AsyncOpenAI] = field(default_factory=dict)
    in_flight: dict[str, asyncio.Future[ChatResult]] = field(default_factory=dict)


class LLMClient:
    """A ``ModelCaller`` over any OpenAI-compatible endpoint.

    Args:
        settings: defaults to ``get_settings()``.
        concurrency: requests in flight at once (``PROMPTLOOP_CONCURRENCY``).
        timeout_s: per attempt (``PROMPTLOOP_REQUEST_TIMEOUT_S``).
        retry: backoff policy; defaults from settings.
        cache: defaults to ``PROMPTLOOP_HOME/cache.sqlite``.
        no_cache: always call the model (results are still stored, unless ``store`` is off).
        store: write answers to the cache; a regression sweep's client does not (its
            answers may be drifted ones, which must never be served later).
        local_base_url: where the embedded model listens, if it runs.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        concurrency: int | None = None,
        timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
        cache: RequestCache | None = None,
        no_cache: bool = False,
        store: bool = True,
        local_base_url: str | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.concurrency = concurrency or self.settings.concurrency
        self.timeout_s = timeout_s or self.settings.request_timeout_s
        self.retry = retry or RetryPolicy.from_settings(self.settings)
        self.cache = cache or RequestCache.of_home(self.settings.home)
        self.no_cache = no_cache
        self.store = store
        self.local_base_url = local_base_url
        self.prices = prices or PriceTable(self.settings.prices)
        self.stats = CallStats()
        self._state: _LoopState | None = None
        self._endpoints: dict[str, Endpoint] = {}
        self._scopes: dict[str, str] = {}  # model -> cache scope
        self._unstored: dict[
            str, tuple[ChatResult, str]
        ] = {}  # answers not yet written to the cache
        self._store_scheduled: asyncio.Handle | None = None
        self._limit_of: LLMClient = self  # whose semaphore bounds this client's calls

    def sibling(self) -> LLMClient:
        """A client with this one's endpoints, cache and settings, and its *limit*: both
        share one semaphore, so several runs at once stay within one endpoint's
        concurrency. It counts its own calls (``stats``), so each run records its own."""
        twin = LLMClient(
            self.settings,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            retry=self.retry,
            cache=self.cache,
            no_cache=self.no_cache,
            store=self.store,
            local_base_url=self.local_base_url,
            prices=self.prices,
        )
        twin._limit_of = self._limit_of
        return twin

    def endpoint(self, model: str) -> Endpoint:
        """Where ``model`` would be called; ``EndpointError`` if it cannot be. Checks up front."""
        found = self._endpoints.get(model)
        if found is None:
            found = route(model, self.settings, local_base_url=self.local_base_url)
            self._endpoints[model] = found
        return found

    def check(self, model: str) -> str | None:
        """Why every call to ``model`` would fail, as one sentence naming what to set, or None.

        Configuration only (URL, key, the embedded model): it sends no request, so a
        command can refuse up front instead of failing each item the same way.
        """
        try:
            self.endpoint(model)
        except EndpointError as exc:
            return exc.message
        return None

    def scope(self, model: str) -> str:
        """Which endpoint answers ``model`` (the same name at two endpoints is two models)."""
        found = self._scopes.get(model)
        if found is None:
            found = self._scopes[model] = cache_scope(model, self.settings)
        return found

    def cache_key(self, request: ChatRequest) -> str:
        """The request's key in the cache: its own key scoped by the endpoint's base URL.

        The same model name at two endpoints is two models. Needs no API key, so answers
        already paid for are served even when the key is gone.
        """
        scope = self.scope(request.model)
        return hashlib.sha256(f"{scope}\n{request.cache_key()}".encode()).hexdigest()

    async def __call__(self, request: ChatRequest) -> ChatResult:
        self.stats.requests += 1
        key = self.cache_key(request)
        if self.no_cache:
            result = await self._fresh(request)
            self._store(key, result)  # a forced call still saves the next run a payment
        else:
            result = await self._cached(request, key)
        if not result.ok:
            self.stats.errors += 1
        return result

    def _lookup(self, key: str) -> ChatResult | None:
        unstored = self._unstored.get(key)
        if unstored is not None:
            return unstored[0].model_copy(update={"cached": True})
        try:
            return self.cache.get(key)
        except (sqlite3.Error, ValueError) as exc:  # a broken cache costs money, not the run
            log.warning("request cache %s unreadable, calling the model: %s", self.cache.path, exc)
            return None

    def _store(self, key: str, result: ChatResult) -> None:
        if not result.ok or not self.store:  # failures are never cached
            return
        self._unstored[key] = (result, self.scope(result.model))
        if len(self._unstored) >= STORE_BATCH:
            self.store_pending()
        elif self._store_scheduled is None:
            self._store_scheduled = asyncio.get_running_loop().call_soon(self.store_pending)

    def store_pending(self) -> None:
        """Write the answers not yet in the request cache (``aclose`` does it too)."""
        if self._store_scheduled is not None:
            self._store_scheduled.cancel()
            self._store_scheduled = None
        if not self._unstored:
            return
        entries = [(key, result, scope) for key, (result, scope) in self._unstored.items()]
        self._unstored = {}
        try:
            self.cache.put_many(entries)
        except sqlite3.Error as exc:
            log.warning("request cache %s not written: %s", self.cache.path, exc)

    async def _cached(self, request: ChatRequest, key: str) -> ChatResult:
        state = self._loop_state()
        while True:
            hit = self._lookup(key)
            if hit is not None:
                self.stats.cache_hits += 1
                return hit
            pending = state.in_flight.get(key)
            if pending is None:
                break
            # The same request is already on its way: wait for that answer, do not pay twice.
            try:
                result = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():
                    continue  # its owner was cancelled; try ourselves
                raise
            if not result.ok:
                return result
            self.stats.cache_hits += 1
            return result.model_copy(update={"cached": True})

        future: asyncio.Future[ChatResult] = state.loop.create_future()
        state.in_flight[key] = future
        try:
            result = await self._fresh(request)
            self._store(key, result)
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the owner re-raises it below
            raise
        finally:
            del state.in_flight[key]

    async def _fresh(self, request: ChatRequest) -> ChatResult:
        try:
            endpoint = self.endpoint(request.model)
        except EndpointError as exc:
            return ChatResult(error=exc.message, model=request.model, attempts=0, outage=True)
        state = self._loop_state()
        try:
            sdk = self._sdk_client(state, endpoint)
        except Exception as exc:  # e.g. a URL the HTTP library refuses
            error = f"cannot call {display_url(endpoint.base_url)}: {type(exc).__name__}: {exc}"
            return ChatResult(error=error, model=request.model, attempts=0, outage=True)
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            async with state.semaphore:
                self.stats.model_calls += 1
                outcome = await self._attempt(sdk, endpoint, request)
            if isinstance(outcome, ChatResult):
                return outcome.model_copy(update={"attempts": attempt})
            if not outcome.retryable or attempt == attempts:
                return self._failed(request, outcome, attempt)
            wait = self.retry.delay(retry=attempt - 1, retry_after=outcome.retry_after)
            self.stats.retries += 1
            self.stats.waited_s += wait
            await asyncio.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns")

    @staticmethod
    def _failed(request: ChatRequest, failure: _Failure, attempts: int) -> ChatResult:
        plural = "s" if attempts != 1 else ""
        tried = f" after {attempts} attempt{plural}" if failure.retryable else ""
        error = f"{failure.kind}{tried}: {failure.detail}"
        if failure.hint:
            error += f" ({failure.hint})"
        return ChatResult(
            error=error, model=request.model, attempts=attempts, outage=failure.outage
        )

    async def _attempt(
        self, sdk: openai.AsyncOpenAI, endpoint: Endpoint, request: ChatRequest
    ) -> ChatResult | _Failure:
        """One HTTP call. Every exception but cancellation becomes a ``_Failure``."""
        started = time.perf_counter()
        try:
            # The body ``chat.completions.with_raw_response.create`` would send (parameters
            # as extra body fields: any the endpoint accepts pass through, including ones
            # this SDK version has no keyword for), posted without its per-call walk over
            # the parameter types (about 0.4 ms of CPU per call; our messages are plain JSON
            # already). The raw response lets us check the answer is a chat completion
            # before reading it as one.
            raw: LegacyAPIResponse[ChatCompletion] = await sdk.post(
                "/chat/completions",
                body=_chat_body(endpoint.model, request),
                cast_to=cast(Any, ChatCompletion),
                options=_RAW_CHAT_OPTIONS,
            )
            content_type = raw.headers.get("content-type", "")
            body = raw.content
        except openai.APIStatusError as exc:
            return _Failure(
                f"HTTP {exc.status_code}",
                _status_detail(exc),
                is_retryable_status(exc.status_code),
                retry_after_s(exc.response.headers),
                hint=_status_hint(exc.status_code, endpoint),
                outage=is_outage_status(exc.status_code),
            )
        except openai.APITimeoutError:
            return _Failure("timeout", f"no answer within {self.timeout_s:g} s", True)
        except openai.APIConnectionError as exc:
            return _Failure(
                "connection error",
                str(exc.__cause__ or exc),
                True,
                hint=_url_hint(endpoint, "; is the server up?"),
            )
        except openai.APIResponseValidationError as exc:
            got = f"got {_snippet(str(exc.body))!r}" if exc.body is not None else exc.message
            return self._not_chat_api(endpoint, got)
        except openai.OpenAIError as exc:
            return _Failure(type(exc).__name__, str(exc), False, outage=False)
        except Exception as exc:  # anything the SDK or its HTTP library lets through
            return _Failure(
                f"unexpected {type(exc).__name__}", str(exc) or repr(exc), False, outage=False
            )
        latency = time.perf_counter() - started
        parsed = _completion(content_type, body)
        if isinstance(parsed, str):
            return self._not_chat_api(endpoint, parsed)
        return self._result(request, endpoint, parsed, latency)

    @staticmethod
    def _not_chat_api(endpoint: Endpoint, got: str) -> _Failure:
        # A login page, a web UI or a proxy answering: the URL is wrong, so retrying is no
        # use, and it is an outage (every item would get the same), not an item's error.
        where = display_url(endpoint.base_url)
        hint: str | None = None if endpoint.embedded else f"from {where}"
        if endpoint.url_setting is not None:
            hint = f"check {endpoint.url_setting}={where}: such base URLs usually end in /v1"
        return _Failure(NOT_CHAT_API, got, False, hint=hint)

    def _result(
        self, request: ChatRequest, endpoint: Endpoint, data: dict[str, Any], latency: float
    ) -> ChatResult | _Failure:
        choice = data["choices"][0]
        message = choice["message"]
        finish_reason = choice.get("finish_reason")
        text = _text(message.get("content"))
        tool_call = bool(message.get("tool_calls") or message.get("function_call"))
        refusal = message.get("refusal")
        empty_ok = tool_call or refusal or finish_reason in ("length", "content_filter")
        if text is None and not empty_ok:
            content = _snippet(json.dumps(message.get("content")))
            got = f"got `message.content: {content}` without tool calls"
            odd = self._not_chat_api(endpoint, f"{got} (finish_reason={finish_reason})")
            odd.outage = False  # the endpoint speaks the API; this one answer is odd
            return odd

        usage = data.get("usage")
        input_tokens = _tokens(usage, "prompt_tokens")
        output_tokens = _tokens(usage, "completion_tokens")
        cost = self.prices.cost(
            request.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            embedded=endpoint.embedded,
        )
        self.stats.input_tokens += input_tokens or 0
        self.stats.output_tokens += output_tokens or 0
        if cost is None:
            self.stats.unpriced_calls += 1
        else:
            self.stats.cost_usd += cost
        common: dict[str, Any] = {
            "model": request.model,
            "snapshot": data["model"] if isinstance(data.get("model"), str) else None,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost,
            "latency_s": latency,
        }
        if text is not None:
            return ChatResult(text=text, **common)
        if refusal:
            return ChatResult(error=f"the model refused: {refusal}", **common)
        called = ": the model called a tool" if tool_call else ""
        error = f"no text in the answer{called} (finish_reason={finish_reason})"
        return ChatResult(error=error, **common)

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            # SDK connections and the semaphore belong to one loop; a new loop gets new ones.
            limiter = self._limit_of
            semaphore = (
                asyncio.Semaphore(self.concurrency)
                if limiter is self
                else limiter._loop_state().semaphore
            )
            self._state = _LoopState(loop, semaphore)
        return self._state

    def _sdk_client(self, state: _LoopState, endpoint: Endpoint) -> openai.AsyncOpenAI:
        key = (endpoint.base_url, endpoint.api_key)
        if key not in state.sdk_clients:
            state.sdk_clients[key] = openai.AsyncOpenAI(
                base_url=endpoint.base_url,
                api_key=endpoint.api_key,
                timeout=self.timeout_s,
                max_retries=0,  # ours are the only retries
            )
        return state.sdk_clients[key]

    async def aclose(self) -> None:
        self.store_pending()
        if self._state is not None:
            for sdk in self._state.sdk_clients.values():
                await sdk.close()
            self._state = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# Asks the SDK for the raw response (as ``with_raw_response`` does), with its bearer key.
_RAW_CHAT_OPTIONS = make_request_options(
    extra_headers={RAW_RESPONSE_HEADER: "true"}, security={"bearer_auth": True}
)


def _chat_body(model: str, request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a chat completion request: model, messages, response format, then
    the parameters (which win over the others, as the SDK's ``extra_body`` does)."""
    body: dict[str, Any] = {"model": model, "messages": request.messages}
    if request.response_format:
        body["response_format"] = request.response_format
    if request.params:
        body.update(request.params)
    return body


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return exc.message


def _status_hint(status: int, endpoint: Endpoint) -> str | None:
    if status in (401, 403) and endpoint.key_setting and not endpoint.embedded:
        verb = "set" if endpoint.api_key == LOCAL_API_KEY else "check"
        return f"{verb} {endpoint.key_setting}"
    if status == 404:
        return _url_hint(endpoint, " and the model name")
    return None


def _url_hint(endpoint: Endpoint, tail: str) -> str | None:
    """``check OPENAI_BASE_URL=<url><tail>``, when the URL came from a setting."""
    if endpoint.url_setting is None:
        return None
    return f"check {endpoint.url_setting}={display_url(endpoint.base_url)}{tail}"


def _completion(content_type: str, body: bytes) -> dict[str, Any] | str:
    """The chat completion in an answer's body, or what came instead (to name in the error)."""
    kind = content_type.split(";")[0].strip() or "no Content-Type"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not text, or absurdly nested
        if not body.strip():
            return f"got an empty body ({kind})"
        return f"got {kind}: {_snippet(body.decode('utf-8', 'replace'))!r}"
    if not isinstance(data, dict):
        return f"got JSON that is not an object: {_snippet(json.dumps(data))}"
    if "choices" not in data:
        keys = ", ".join(sorted(str(k) for k in data)[:8]) or "none"
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"got an error with status 200: {_snippet(str(error['message']))!r}"
        return f"got JSON without `choices` (keys: {keys})"
    choices = data["choices"]
    if not isinstance(choices, list) or not choices:
        return f"got `choices: {_snippet(json.dumps(choices))}`"
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return f"got a choice without a `message` object: {_snippet(json.dumps(choice))}"
    return data


def _text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "".join(parts) if parts else None
    return None


def _tokens(usage: Any, name: str) -> int | None:
    value = usage.get(name) if isinstance(usage, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
