"""Where a model lives: a provider prefix on its name picks a base URL and an API key.

``openai/gpt-4o-mini``, ``anthropic/claude-…``, ``mistral/…`` and ``local/smollm2-135m``
name their provider; a bare name goes to the default endpoint (``OPENAI_BASE_URL``, or
the embedded local model when that is unset). A prefix we do not know stays part of the
name (``Qwen/Qwen2.5-7B-Instruct`` on a vLLM server is one model, not a provider).

    >>> from integrations.settings import Settings
    >>> route("mistral/mistral-small-latest", Settings(), local_base_url=None).model
    'mistral-small-latest'
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from integrations.settings import Settings
from roles.errors import InputError

LOCAL_API_KEY = "unused"  # local servers ignore the key, but the SDK wants one


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str | None  # None: the embedded local model, wherever it listens
    key_env: str | None


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
        Provider("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_API_KEY"),
        Provider("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        Provider("local", None, None),
    )
}


@dataclass(frozen=True)
class Endpoint:
    """One place to send a request: the URL, its key, and the model's name there."""

    base_url: str
    api_key: str
    model: str


class EndpointError(InputError):
    """The model's endpoint is not configured (no URL or no key)."""


def split_provider(model: str) -> tuple[Provider | None, str]:
    prefix, sep, rest = model.partition("/")
    if sep and prefix in PROVIDERS:
        return PROVIDERS[prefix], rest
    return None, model


def route(model: str, settings: Settings, *, local_base_url: str | None) -> Endpoint:
    """The endpoint for ``model``, or ``EndpointError`` naming what to set."""
    provider, name = split_provider(model)
    if provider is None:
        base_url = settings.openai_base_url or local_base_url
        if base_url is None:
            raise EndpointError(
                f"no endpoint for model {model!r}: set OPENAI_BASE_URL or start the embedded "
                "model (integrations.llm.local_model.LocalModel)"
            )
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return Endpoint(base_url, key or LOCAL_API_KEY, name)

    if provider.base_url is None:
        if local_base_url is None:
            raise EndpointError(f"{model!r} needs the embedded local model, which is not running")
        return Endpoint(local_base_url, LOCAL_API_KEY, name)

    override = settings.provider_base_urls.get(provider.name)
    if provider.name == "openai":
        override = override or settings.openai_base_url
    key = _key(provider, settings)
    if key is None and override is None:
        raise EndpointError(f"set {provider.key_env} to call {model!r}")
    return Endpoint(override or provider.base_url, key or LOCAL_API_KEY, name)


def _key(provider: Provider, settings: Settings) -> str | None:
    if provider.name == "openai" and settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    return os.environ.get(provider.key_env) if provider.key_env else None
