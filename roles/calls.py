"""What a model call is, as data: the request, its result, and the caller's shape.

Roles describe calls; ``integrations.llm`` makes them over HTTP. The judge scorer and
the eval runner receive a ``ModelCaller`` and never import an SDK.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

# An LLM judge's sampling defaults (temperature 0, seed 0: a cached answer stays stable):
# part of who the judge is (``roles.calibration.identity``), sent by the llm_judge scorer.
JUDGE_PARAMS: dict[str, Any] = {"temperature": 0, "seed": 0}


class ChatRequest(BaseModel):
    """A chat-completion request. Its ``cache_key`` hashes everything that shapes the answer."""

    model_config = ConfigDict(frozen=True)

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = Field(default_factory=dict)
    response_format: dict[str, Any] | None = None

    def cache_key(self) -> str:
        return self.digest

    @cached_property
    def digest(self) -> str:
        """The hash behind ``cache_key``, computed once per request."""
        canonical = json.dumps(
            {
                "model": self.model,
                "messages": self.messages,
                "params": self.params,
                "response_format": self.response_format,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ChatResult(BaseModel):
    """What came back. Exactly one of ``text`` and ``error`` is set.

    ``outage`` marks an error that is the endpoint's, not the item's (connection refused,
    timeouts, 5xx or 429 after every retry, a refused key, a wrong URL): no verdict on
    the prompt may be drawn from it, and it is never cached.
    """

    text: str | None = None
    error: str | None = None
    outage: bool = False
    model: str = ""
    snapshot: str | None = None  # the model the API said answered (e.g. gpt-4o-2024-08-06)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # None when the model's price is unknown, never a silent 0
    latency_s: float = 0.0
    cached: bool = False
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class ModelCaller(Protocol):
    async def __call__(self, request: ChatRequest) -> ChatResult: ...
