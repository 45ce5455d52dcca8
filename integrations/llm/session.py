"""The model client a command should use, with the embedded model started if needed.

Example::

    with model_client() as (client, description):
        print(description)  # e.g. "SmolLM2-135M, local, demo quality (...)"
        results = asyncio.run(run_all(client))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from integrations.llm.client import LLMClient
from integrations.llm.local_model import LocalModel
from integrations.settings import Settings, get_settings


@contextmanager
def model_client(
    settings: Settings | None = None, *, need_local: bool = False, **client_options: Any
) -> Iterator[tuple[LLMClient, str]]:
    """An ``LLMClient`` and a line saying what it talks to.

    Args:
        settings: defaults to ``get_settings()``.
        need_local: start the embedded model even when ``OPENAI_BASE_URL`` is set
            (for ``local/...`` models).
        client_options: passed to ``LLMClient`` (``concurrency``, ``no_cache``, ...).
    """
    settings = settings or get_settings()
    if settings.openai_base_url and not need_local:
        description = f"{settings.default_model} at {settings.openai_base_url}"
        yield LLMClient(settings, **client_options), description
        return
    with LocalModel(settings) as local:
        client = LLMClient(settings, local_base_url=local.base_url, **client_options)
        yield client, local.description
