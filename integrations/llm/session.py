"""The model client a command should use, with the embedded model started only if needed.

Every model's endpoint is checked first (URL, key): a command that cannot call one of
them is refused before anything starts, the embedded model included. Example::

    with model_client(models=["smollm2-135m", "anthropic/claude-3-5-haiku"]) as (client, what):
        print(what)  # e.g. "SmolLM2-135M, local, demo quality (...)"
        results = asyncio.run(run_all(client))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from integrations.llm.client import LLMClient
from integrations.llm.local_model import LocalModel
from integrations.llm.providers import EndpointError, needs_embedded, route
from integrations.settings import Settings, get_settings

# Stands in for the embedded model's address while endpoints are checked before it starts.
_NOT_STARTED = "http://127.0.0.1:9/v1"


def check_models(models: Iterable[str], settings: Settings) -> None:
    """Raise ``EndpointError`` naming every model that cannot be called, and what to set."""
    problems = []
    for model in dict.fromkeys(models):
        try:
            route(model, settings, local_base_url=_NOT_STARTED)
        except EndpointError as exc:
            problems.append(f"model '{model}' cannot be called: {exc.message}")
    if problems:
        raise EndpointError("; ".join(problems))


@contextmanager
def model_client(
    settings: Settings | None = None, *, models: Iterable[str] = (), **client_options: Any
) -> Iterator[tuple[LLMClient, str]]:
    """An ``LLMClient`` and a line saying what it talks to.

    Args:
        settings: defaults to ``get_settings()``.
        models: every model the caller will call; checked up front, and the embedded
            model starts only if one of them needs it (none given: if OPENAI_BASE_URL
            is unset).
        client_options: passed to ``LLMClient`` (``concurrency``, ``no_cache``, ...).
    """
    settings = settings or get_settings()
    models = list(models)
    check_models(models, settings)
    if models:
        local = any(needs_embedded(m, settings) for m in models)
    else:
        local = not settings.openai_base_url
    remote = f"{settings.default_model} at {settings.openai_base_url}"
    if not local:
        yield LLMClient(settings, **client_options), remote
        return
    with LocalModel(settings) as embedded:
        client = LLMClient(settings, local_base_url=embedded.base_url, **client_options)
        yield client, embedded.description
