"""Where a model lives: a provider prefix on its name picks a base URL and an API key.

``openai/gpt-4o-mini``, ``anthropic/claude-…``, ``mistral/…`` and ``local/smollm2-135m``
name their provider; a bare name goes to the default endpoint (``OPENAI_BASE_URL``, or
the embedded local model when that is unset). A prefix we do not know stays part of the
name (``Qwen/Qwen2.5-7B-Instruct`` on a vLLM server is one model, not a provider).

    >>> from integrations.settings import Settings
    >>> route("openai/gpt-4o-mini", Settings(openai_api_key="sk-…"), local_base_url=None).model
    'gpt-4o-mini'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from integrations.llm.local_model import MODEL_FILE
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
    embedded: bool = False  # the embedded local model, on whichever port it got this run
    url_setting: str | None = None  # the setting the URL came from (None: built in)
    key_setting: str | None = None  # the setting that holds its key


class EndpointError(InputError):
    """The model's endpoint is not configured (no URL or no key)."""


# The embedded model listens on a new port each run; its answers belong to its model file.
EMBEDDED_SCOPE = f"embedded:{MODEL_FILE}"


def split_provider(model: str) -> tuple[Provider | None, str]:
    prefix, sep, rest = model.partition("/")
    if sep and prefix in PROVIDERS:
        return PROVIDERS[prefix], rest
    return None, model


@dataclass(frozen=True)
class _Target:
    provider: Provider | None
    name: str  # the model's name at the endpoint
    base_url: str | None  # None: the embedded local model
    url_setting: str | None  # where base_url came from; None when built in


def _target(model: str, settings: Settings) -> _Target:
    provider, name = split_provider(model)
    if provider is None:
        # An empty OPENAI_BASE_URL counts as unset, as in ``session.model_client``.
        return _Target(None, name, settings.openai_base_url or None, "OPENAI_BASE_URL")
    if provider.base_url is None:
        return _Target(provider, name, None, None)
    override = settings.provider_base_urls.get(provider.name)
    if override:
        setting = f"PROMPTLOOP_PROVIDER_BASE_URLS[{provider.name!r}]"
        return _Target(provider, name, override, setting)
    if provider.name == "openai" and settings.openai_base_url:
        return _Target(provider, name, settings.openai_base_url, "OPENAI_BASE_URL")
    return _Target(provider, name, provider.base_url, None)


def needs_embedded(model: str, settings: Settings) -> bool:
    """Whether ``model`` is answered by the embedded local model."""
    return _target(model, settings).base_url is None


def cache_scope(model: str, settings: Settings) -> str:
    """The model server ``model`` is answered by, as the request cache tells them apart.

    The base URL it would be called at (the same model name at two endpoints is two
    models), or ``EMBEDDED_SCOPE`` for the embedded model. Needs no API key, so answers
    already paid for stay readable without one.
    """
    target = _target(model, settings)
    return EMBEDDED_SCOPE if target.base_url is None else _normalize(target.base_url)


def route(model: str, settings: Settings, *, local_base_url: str | None) -> Endpoint:
    """The endpoint for ``model``, or ``EndpointError`` naming what to set."""
    target = _target(model, settings)
    if target.base_url is None:
        if local_base_url is None:
            raise EndpointError(_no_local_model(model, target, settings))
        return Endpoint(local_base_url, LOCAL_API_KEY, target.name, embedded=True)
    if target.url_setting is not None:
        _check_url(target.base_url, target.url_setting)

    provider = target.provider
    if provider is None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return Endpoint(
            target.base_url,
            key or LOCAL_API_KEY,
            target.name,
            url_setting=target.url_setting,
            key_setting="OPENAI_API_KEY",
        )
    key = _key(provider, settings)
    if key is None and target.url_setting is None:
        raise EndpointError(f"set {provider.key_env} to call {model!r}")
    return Endpoint(
        target.base_url,
        key or LOCAL_API_KEY,
        target.name,
        url_setting=target.url_setting,
        key_setting=provider.key_env,
    )


def _no_local_model(model: str, target: _Target, settings: Settings) -> str:
    if target.provider is None:
        return (
            f"no endpoint for model {model!r}: set OPENAI_BASE_URL to an OpenAI-compatible "
            "server, or run with the embedded local model (promptloop starts it when "
            "OPENAI_BASE_URL is unset)"
        )
    if settings.openai_base_url:
        return (
            f"{model!r} needs the embedded local model, which is not started while "
            f"OPENAI_BASE_URL is set: unset OPENAI_BASE_URL, or drop the 'local/' prefix "
            "to call the model at OPENAI_BASE_URL"
        )
    return (
        f"{model!r} needs the embedded local model, which is not running: start it with "
        "integrations.llm.LocalModel (promptloop's commands do when OPENAI_BASE_URL is unset)"
    )


def _check_url(url: str, setting: str) -> None:
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problem = "it needs http:// or https:// and a host"
    if problem is not None:
        raise EndpointError(
            f"{setting} must be an http(s) URL such as http://localhost:8000/v1, "
            f"not {display_url(url)!r} ({problem})"
        )


def _normalize(base_url: str) -> str:
    return base_url.rstrip("/")


def display_url(url: str) -> str:
    """``url`` without the credentials a user may have put in it, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2]
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _key(provider: Provider, settings: Settings) -> str | None:
    if provider.name == "openai" and settings.openai_api_key is not None:
        return settings.openai_api_key.get_secret_value()
    return os.environ.get(provider.key_env) if provider.key_env else None
