"""The request cache: an unchanged request is never paid for twice, and a crashed run resumes."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer

from integrations.llm.cache import RequestCache
from integrations.llm.client import LLMClient
from integrations.settings import Settings
from roles.calls import ChatRequest, ChatResult


def items(n: int, model: str = "gpt-4o-mini") -> list[ChatRequest]:
    return [
        ChatRequest(model=model, messages=[{"role": "user", "content": f"item {i}"}])
        for i in range(n)
    ]


def run(client: LLMClient, requests: list[ChatRequest]) -> list[ChatResult]:
    async def go() -> list[ChatResult]:
        async with client:
            return list(await asyncio.gather(*(client(r) for r in requests)))

    return asyncio.run(go())


def test_rerun_makes_no_model_calls(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    first = run(LLMClient(llm_settings), items(10))
    second_client = LLMClient(llm_settings)
    second = run(second_client, items(10))
    assert second_client.stats.model_calls == 0 and second_client.stats.cache_hits == 10
    assert second_client.stats.cost_usd == 0.0  # this run paid nothing
    assert fake_openai.requests_received == 10
    assert all(r.cached for r in second) and not any(r.cached for r in first)
    # The answer keeps what it cost when it was bought, so cost budgets score the same.
    assert [r.text for r in second] == [r.text for r in first]
    assert [r.cost_usd for r in second] == [r.cost_usd for r in first]


def test_crashed_run_resumes_with_only_the_missing_calls(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.hang(3.0, times=4, match=r"item [6-9]")

    async def crash_half_way() -> None:
        client = LLMClient(llm_settings)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(client(r) for r in items(10))), timeout=1.0)
        await client.aclose()

    asyncio.run(crash_half_way())  # items 0-5 answered, 6-9 still hanging when it "crashed"
    assert len(RequestCache(llm_settings.home / "cache.sqlite")) == 6

    resumed = LLMClient(llm_settings)
    results = run(resumed, items(10))
    assert all(r.ok for r in results)
    assert resumed.stats.model_calls == 4 and resumed.stats.cache_hits == 6


def test_no_cache_forces_calls_but_still_stores(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    for _ in range(2):
        forced = LLMClient(llm_settings, no_cache=True)
        run(forced, items(3))
        assert forced.stats.model_calls == 3 and forced.stats.cache_hits == 0
    cached = LLMClient(llm_settings)
    run(cached, items(3))
    assert cached.stats.model_calls == 0 and fake_openai.requests_received == 6


def test_failures_are_not_cached(llm_settings: Settings, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail(400)
    [failed] = run(LLMClient(llm_settings), items(1))
    retry = LLMClient(llm_settings)
    [ok] = run(retry, items(1))
    assert not failed.ok and ok.ok and not ok.cached and retry.stats.model_calls == 1


def test_identical_requests_in_flight_are_paid_once(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.latency_s = 0.1
    client = LLMClient(llm_settings)
    results = run(client, items(1) * 5)
    assert client.stats.model_calls == 1 and client.stats.cache_hits == 4
    assert len({r.text for r in results}) == 1 and sum(r.cached for r in results) == 4


def test_a_cache_hit_costs_well_under_a_millisecond(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    requests = items(1000)
    run(LLMClient(llm_settings, concurrency=32), requests)
    client = LLMClient(llm_settings, concurrency=32)

    async def timed() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client(r) for r in requests))
        return (time.perf_counter() - started) / len(requests)

    per_hit = asyncio.run(timed())
    assert client.stats.cache_hits == 1000
    assert per_hit < 0.001, f"{per_hit * 1e6:.0f} µs per cache hit"


def _write_entries(args: tuple[str, int]) -> None:
    path, offset = args
    cache = RequestCache(Path(path))
    for request in items(200)[offset : offset + 150]:
        cache.put(request.cache_key(), ChatResult(text="x", model=request.model))


def test_several_processes_share_one_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_write_entries, [(str(path), 0), (str(path), 50)])  # 100 keys overlap
    assert len(RequestCache(path)) == 200
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_the_cache_is_usable_by_key(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "cache.sqlite")
    cache.put("k1", ChatResult(text="x", model="m"))
    cache.put("k2", ChatResult(error="boom", model="m"))  # failures are never stored
    hit = cache.get("k1")
    assert hit is not None and hit.text == "x" and hit.cached
    assert cache.get("k2") is None and cache.get("other") is None and len(cache) == 1


def _settings(home: Path, **values: Any) -> Settings:
    return Settings(home=home, retry_base_delay_s=0.01, **values)


def test_the_same_model_at_another_endpoint_is_another_model(
    llm_home: Path, fake_openai: FakeOpenAIServer
) -> None:
    with FakeOpenAIServer(responder=lambda body: "from B") as other:
        first = LLMClient(_settings(llm_home, openai_base_url=fake_openai.base_url))
        run(first, items(3, model="smollm2-135m"))
        moved = LLMClient(_settings(llm_home, openai_base_url=other.base_url))
        answers = run(moved, items(3, model="smollm2-135m"))
        assert moved.stats.cache_hits == 0 and moved.stats.model_calls == 3
        assert {a.text for a in answers} == {"from B"} and other.requests_received == 3
        # Each endpoint keeps its own answers; a trailing slash is the same endpoint.
        back = LLMClient(_settings(llm_home, openai_base_url=fake_openai.base_url + "/"))
        again = run(back, items(3, model="smollm2-135m"))
        assert back.stats.cache_hits == 3 and all(a.text != "from B" for a in again)


def test_embedded_model_answers_survive_a_new_port_but_not_another_endpoint(
    llm_home: Path, fake_openai: FakeOpenAIServer
) -> None:
    # The embedded model gets a free port each run: its cache entries must not depend on it.
    embedded = LLMClient(_settings(llm_home), local_base_url=fake_openai.base_url)
    run(embedded, items(2, model="smollm2-135m"))
    with FakeOpenAIServer(responder=lambda body: "other server") as other:
        next_run = LLMClient(_settings(llm_home), local_base_url=other.base_url)
        run(next_run, items(2, model="smollm2-135m") + items(2, model="local/smollm2-135m"))
        assert next_run.stats.cache_hits == 2 and other.requests_received == 2
        # The defect: OPENAI_BASE_URL=http://other/v1 used to get the embedded model's answers.
        elsewhere = LLMClient(_settings(llm_home, openai_base_url=other.base_url))
        answers = run(elsewhere, items(2, model="smollm2-135m"))
        assert elsewhere.stats.cache_hits == 0 and {a.text for a in answers} == {"other server"}


def test_paid_answers_are_served_without_the_key(
    llm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = items(1, model="anthropic/claude-x")[0]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    with_key = LLMClient(_settings(llm_home))
    assert with_key.check("anthropic/claude-x") is None
    with_key.cache.put(with_key.cache_key(request), ChatResult(text="paid", model=request.model))
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    without_key = LLMClient(_settings(llm_home))
    assert without_key.check("anthropic/claude-x") is not None
    [result] = run(without_key, [request])
    assert result.text == "paid" and result.cached
    assert without_key.cache_key(request) != request.cache_key()  # scoped, not the bare key


def test_a_broken_cache_file_costs_calls_not_the_run(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    path = llm_settings.home / "cache.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    client = LLMClient(llm_settings)
    results = run(client, items(2))
    assert all(r.ok for r in results) and client.stats.model_calls == 2


def test_answers_are_stored_before_the_client_closes(
    llm_settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    """Answers of one event-loop turn go in one transaction at the end of that turn, not at
    ``aclose``: a process killed mid-run keeps what it paid for."""
    client = LLMClient(llm_settings)

    async def go() -> int:
        await asyncio.gather(*(client(r) for r in items(5)))
        await asyncio.sleep(0)  # the turn that stores them
        stored = len(RequestCache(llm_settings.home / "cache.sqlite"))
        await client.aclose()
        return stored

    assert asyncio.run(go()) == 5


def test_put_many_skips_failures(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "cache.sqlite")
    ok, failed = ChatResult(text="a", model="m"), ChatResult(error="HTTP 500", model="m")
    cache.put_many([("k1", ok, None), ("k2", failed, None), ("k3", ok, None)])
    assert len(cache) == 2 and cache.get("k2") is None and cache.get("k3") is not None


def test_a_drift_removes_what_that_model_answered_since_the_last_good_sweep(
    tmp_path: Path,
) -> None:
    """An older cache file is widened in place; ``invalidate`` removes one model's entries
    since a time (and the old ones that name no model server), no other model's."""
    from datetime import UTC, datetime, timedelta

    path = tmp_path / "cache.sqlite"
    with sqlite3.connect(path) as old:  # the schema before entries named their origin
        old.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, response TEXT "
            "NOT NULL, input_tokens INTEGER, output_tokens INTEGER, cost_usd REAL, "
            "created_at TEXT NOT NULL)"
        )
        legacy = ChatResult(text="x", model="m").model_dump_json()
        old.execute(
            "INSERT INTO responses VALUES ('old', 'm', ?, 1, 1, 0, '2020-01-01')", (legacy,)
        )
    cache = RequestCache(path)
    try:
        drifted = ChatResult(text="a", model="m", snapshot="m-2026-12")
        cache.put_many([("m1", drifted, "http://a/v1"), ("n1", drifted, "http://b/v1")])
        entry = {e.key: e for e in cache.entries()}["m1"]
        assert (entry.scope, entry.snapshot) == ("http://a/v1", "m-2026-12")
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert cache.invalidate(scope="http://a/v1", since=later) == 1  # only the old one
        assert cache.invalidate(scope="http://a/v1", since=later - timedelta(hours=1)) == 1
        assert [e.key for e in cache.entries()] == ["n1"]  # another endpoint's model stays
        assert cache.invalidate(scope="http://b/v1", since=None) == 1
    finally:
        cache.close()
