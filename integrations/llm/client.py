"""The model client: the ``openai`` SDK's ``AsyncOpenAI`` behind a ``ModelCaller``.

Bounded concurrency, a per-call timeout, our own retries (the SDK's are off, so a
``max_retries`` of 4 means exactly 5 attempts), a request cache, and cost per call. A
per-item failure comes back as a ``ChatResult`` with ``error`` set; it never raises.

    async with LLMClient(concurrency=32) as client:
        results = await asyncio.gather(*(client(r) for r in requests))
    print(client.stats.model_calls, client.stats.cache_hits, client.stats.cost_usd)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

import openai

from integrations.llm.cache import RequestCache
from integrations.llm.prices import PriceTable
from integrations.llm.providers import Endpoint, EndpointError, route
from integrations.llm.retry import RetryPolicy, is_retryable_status, retry_after_s
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


@dataclass
class _Failure:
    kind: str  # "HTTP 500", "timeout", "connection error", ...
    detail: str
    retryable: bool
    retry_after: float | None = None


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
        no_cache: always call the model (results are still stored).
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
        local_base_url: str | None = None,
        prices: PriceTable | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.concurrency = concurrency or self.settings.concurrency
        self.timeout_s = timeout_s or self.settings.request_timeout_s
        self.retry = retry or RetryPolicy.from_settings(self.settings)
        self.cache = cache or RequestCache(self.settings.home / "cache.sqlite")
        self.no_cache = no_cache
        self.local_base_url = local_base_url
        self.prices = prices or PriceTable(self.settings.prices)
        self.stats = CallStats()
        self._state: _LoopState | None = None
        self._endpoints: dict[str, Endpoint] = {}

    def endpoint(self, model: str) -> Endpoint:
        """Where ``model`` would be called; ``EndpointError`` if it cannot be. Checks up front."""
        found = self._endpoints.get(model)
        if found is None:
            found = route(model, self.settings, local_base_url=self.local_base_url)
            self._endpoints[model] = found
        return found

    async def __call__(self, request: ChatRequest) -> ChatResult:
        self.stats.requests += 1
        if self.no_cache:
            result = await self._fresh(request)
            self.cache.put(request, result)  # a forced call still saves the next run a payment
        else:
            result = await self._cached(request)
        if not result.ok:
            self.stats.errors += 1
        return result

    async def _cached(self, request: ChatRequest) -> ChatResult:
        state = self._loop_state()
        key = request.cache_key()
        while True:
            hit = self.cache.get(request)
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
            self.cache.put(request, result)
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
            return ChatResult(error=exc.message, model=request.model, attempts=0)
        state = self._loop_state()
        sdk = self._sdk_client(state, endpoint)
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
        return ChatResult(error=error, model=request.model, attempts=attempts)

    async def _attempt(
        self, sdk: openai.AsyncOpenAI, endpoint: Endpoint, request: ChatRequest
    ) -> ChatResult | _Failure:
        started = time.perf_counter()
        try:
            # Parameters travel as extra body fields: any the endpoint accepts pass through,
            # including ones this SDK version has no keyword for.
            completion = await sdk.chat.completions.create(
                model=endpoint.model,
                messages=cast(Any, request.messages),
                response_format=cast(Any, request.response_format or openai.omit),
                extra_body=request.params or None,
            )
        except openai.APIStatusError as exc:
            return _Failure(
                f"HTTP {exc.status_code}",
                _status_detail(exc),
                is_retryable_status(exc.status_code),
                retry_after_s(exc.response.headers),
            )
        except openai.APITimeoutError:
            return _Failure("timeout", f"no answer within {self.timeout_s:g} s", True)
        except openai.APIConnectionError as exc:
            return _Failure("connection error", str(exc.__cause__ or exc), True)
        except openai.OpenAIError as exc:
            return _Failure(type(exc).__name__, str(exc), False)
        latency = time.perf_counter() - started
        return self._result(request, completion, latency)

    def _result(self, request: ChatRequest, completion: Any, latency: float) -> ChatResult:
        usage = completion.usage
        input_tokens = usage.prompt_tokens if usage else None
        output_tokens = usage.completion_tokens if usage else None
        cost = self.prices.cost(
            request.model, input_tokens=input_tokens, output_tokens=output_tokens
        )
        self.stats.input_tokens += input_tokens or 0
        self.stats.output_tokens += output_tokens or 0
        if cost is None:
            self.stats.unpriced_calls += 1
        else:
            self.stats.cost_usd += cost
        choice = completion.choices[0] if completion.choices else None
        text = choice.message.content if choice else None
        common: dict[str, Any] = {
            "model": request.model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost,
            "latency_s": latency,
        }
        if text is None:
            reason = choice.finish_reason if choice else "no choices"
            return ChatResult(error=f"no text in the answer (finish_reason={reason})", **common)
        return ChatResult(text=text, **common)

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            # SDK connections and the semaphore belong to one loop; a new loop gets new ones.
            self._state = _LoopState(loop, asyncio.Semaphore(self.concurrency))
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
        if self._state is not None:
            for sdk in self._state.sdk_clients.values():
                await sdk.close()
            self._state = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _status_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return exc.message
