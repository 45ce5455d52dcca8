"""The production prompt as agents get it: ``promptloop.get_prompt`` in-process (cached,
stale-but-served when the ledger is down) and ``GET /prompts/{name}`` on the gateway
(ETag and 304, a bearer token when one is set)."""

from __future__ import annotations

import logging

import pytest
from gateway_support import RunningGateway, running_gateway
from support import invoke

import promptloop
from integrations.settings import get_settings
from roles.errors import OutageError


def _second_version_in_production() -> None:
    assert invoke("init", "--sample").code == 0
    exported = invoke("prompt", "export", "support-triage").stdout
    changed = exported.replace("You sort", "You carefully sort", 1)
    assert changed != exported
    path = get_settings().home / "v2.yaml"
    path.write_text(changed)
    assert invoke("prompt", "push", str(path), "--as", "maya").code == 0
    moved = invoke("prompt", "label", "support-triage", "production", "--version", "2", "--as", "lee")
    assert moved.code == 0, moved.stderr


def test_get_prompt_is_cached_and_served_stale_when_the_ledger_is_down(
    cli, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    assert invoke("init", "--sample").code == 0
    first = promptloop.get_prompt("support-triage", max_age_s=0)
    assert first.version == 1
    _second_version_in_production()
    assert promptloop.get_prompt("support-triage").version == 1  # within the TTL: the copy
    assert promptloop.get_prompt("support-triage", max_age_s=0).version == 2
    from integrations.db import reset_engines

    monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    get_settings.cache_clear()
    reset_engines()
    with caplog.at_level(logging.WARNING, logger="promptloop"):
        stale = promptloop.get_prompt("support-triage", max_age_s=0)
    assert stale.version == 2 and "the ledger is unreachable" in caplog.text
    with pytest.raises(OutageError, match="cannot reach the ledger"):
        promptloop.get_prompt("never-read-before", max_age_s=0)


def test_the_gateway_serves_a_version_with_an_etag(gateway: RunningGateway) -> None:
    _second_version_in_production()
    answer = gateway.http.get("/prompts/support-triage")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 2 and body["labels"] == ["production"]
    etag = answer.headers["etag"]
    again = gateway.http.get("/prompts/support-triage", headers={"If-None-Match": etag})
    assert again.status_code == 304
    older = gateway.http.get("/prompts/support-triage", params={"version": "1"})
    assert older.json()["version"] == 1 and older.headers["etag"] != etag
    assert gateway.http.get("/prompts/nope").status_code == 404
    assert gateway.http.get("/prompts/support-triage", params={"version": "x"}).status_code == 400


def test_with_a_token_the_prompt_needs_it(gateway_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PROMPTLOOP_API_TOKEN", "s3cret")
    get_settings.cache_clear()
    assert invoke("init", "--sample").code == 0
    with running_gateway() as gateway:
        assert gateway.http.get("/prompts/support-triage").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert gateway.http.get("/prompts/support-triage", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert gateway.http.get("/prompts/support-triage", headers=right).status_code == 200
