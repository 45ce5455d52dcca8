"""The CLI as a user meets it: JSON contract, exit codes, errors in one sentence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import SAMPLES


def test_init_sample_is_idempotent(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("init", "--sample", "--json")
    assert first.code == 0, first.stderr
    assert "prompt support-triage v1" in first.json()["written"]
    second = cli("init", "--sample", "--json")
    assert second.code == 0 and second.json()["written"] == []


def test_json_contract_of_the_loop(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    team = cli("team", "list", "--json").json()
    assert {"handle", "name", "roles", "slack_user_id", "email", "active"} <= set(team[0])
    assert {m["handle"] for m in team} >= {"maya", "omar", "ines", "sam", "lee", "dana"}

    submitted = cli(
        "change",
        "submit",
        "--file",
        str(SAMPLES / "support-triage-change.yaml"),
        "--as",
        "maya",
        "--note",
        "few-shot",
        "--json",
    )
    assert submitted.code == 0, submitted.stderr
    change = submitted.json()
    assert change["state"] == "submitted" and isinstance(change["id"], int)

    shown = cli("change", "show", str(change["id"]), "--json").json()
    assert {
        "id",
        "prompt",
        "state",
        "author",
        "base_version",
        "candidate_version",
        "history",
    } <= set(shown)
    assert (shown["base_version"], shown["candidate_version"], shown["author"]) == (1, 2, "maya")
    (first,) = shown["history"]
    assert {
        "from_state": None,
        "to_state": "submitted",
        "actor": "maya",
        "role": "pm",
        "note": "few-shot",
    }.items() <= first.items()
    assert first["at"].endswith("Z")

    listed = cli("change", "list", "--json").json()
    assert listed[0]["id"] == change["id"] and "history" not in listed[0]
    assert cli("change", "list", "--state", "deployed", "--json").json() == []

    prompts = cli("prompt", "list", "--json").json()
    assert prompts == [{"name": "support-triage", "labels": {"production": 1}, "latest_version": 2}]
    shown_prompt = cli("prompt", "show", "support-triage", "--json").json()
    assert {"name", "version", "model", "params", "system", "template", "dataset", "labels"} <= set(
        shown_prompt
    )
    assert shown_prompt["version"] == 1 and shown_prompt["labels"] == {"production": 1}
    dataset = cli("dataset", "show", "support-tickets", "--json").json()
    assert dataset["version"] == 1 and len(dataset["items"]) == 30
    assert {"id", "input", "expected", "tags"} <= set(dataset["items"][0])

    withdrawn = cli("change", "withdraw", str(change["id"]), "--as", "maya", "--json")
    assert withdrawn.json()["state"] == "withdrawn"


def test_export_is_accepted_back_unchanged(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    exported = cli("prompt", "export", "support-triage", "--label", "production")
    path = tmp_path / "p.yaml"
    path.write_text(exported.stdout)
    pushed = cli("prompt", "push", str(path), "--as", "maya", "--json").json()
    assert pushed == {"name": "support-triage", "version": 1, "created": False}
    diff = cli("prompt", "diff", "support-triage", "1", "production", "--json").json()
    assert diff["diff"] == ""


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["change", "show", "99"], 2, "there is no change 99"),
        (["change", "withdraw", "1", "--as", "sam"], 1, "only the author"),
        (["change", "withdraw", "1", "--as", "ghost"], 1, "not on the team"),
        (
            ["change", "submit", "--file", "missing.yaml", "--as", "maya"],
            2,
            "missing.yaml: no such file",
        ),
        (["change", "list", "--state", "done"], 2, "'done' is not a state"),
        (["prompt", "show", "nope"], 2, "no prompt named 'nope'"),
        (
            ["prompt", "label", "support-triage", "production", "--version", "2", "--as", "sam"],
            1,
            "only an admin",
        ),
        (["change", "show", "abc"], 2, "Invalid value for 'ID'"),
    ],
)
def test_errors_are_one_sentence_with_the_right_exit_code(cli, args, code, words) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    cli("change", "submit", "--file", str(SAMPLES / "support-triage-change.yaml"), "--as", "maya")
    result = cli(*args)
    assert result.code == code, (result.stdout, result.stderr)
    assert words in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_dataset_file_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "input": {}}\n{"id": "a", "input": {}}\n')
    result = cli("dataset", "push", str(path), "--name", "d")
    assert result.code == 2 and "line 2: duplicate item id 'a'" in result.stderr
    assert cli("dataset", "list", "--json").json() == []


def test_invalid_setting_names_the_variable(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from integrations.settings import get_settings

    monkeypatch.setenv("PROMPTLOOP_CONCURRENCY", "lots")
    get_settings.cache_clear()
    result = cli("team", "list")
    assert result.code == 2 and "PROMPTLOOP_CONCURRENCY" in result.stderr


def test_unreachable_database_is_a_clear_error(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from integrations.db import reset_engines
    from integrations.settings import get_settings

    monkeypatch.setenv("PROMPTLOOP_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()
    reset_engines()
    result = cli("team", "list")
    assert result.code == 4 and "cannot reach the ledger database" in result.stderr  # an outage


def test_the_installed_command_runs_in_a_fresh_process(tmp_path: Path) -> None:
    """The real console script: exit codes and stderr cross the process boundary."""
    exe = Path(sys.executable).parent / "promptloop"
    # The warm process it starts (the default) leaves soon after, not in 15 minutes.
    env = {
        "PROMPTLOOP_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "PROMPTLOOP_WARM_CLI_IDLE_S": "3",
    }
    ok = subprocess.run(
        [exe, "init", "--sample", "--json"], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [exe, "change", "withdraw", "5", "--as", "maya"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "there is no change 5" in refused.stderr


def test_an_unknown_handle_is_named_before_the_change_s_state(cli) -> None:  # type: ignore[no-untyped-def]
    """`--as nobody` on a closed change says who is unknown, not that the change is closed."""
    assert cli("init", "--sample").code == 0
    change = SAMPLES / "support-triage-change.yaml"
    assert cli("change", "submit", "-f", str(change), "--as", "maya", "--no-eval").code == 0
    assert cli("change", "withdraw", "1", "--as", "maya").code == 0
    for args in (
        ("change", "withdraw", "1", "--as", "nobody"),
        ("change", "approve", "1", "--as", "nobody"),
        ("change", "reject", "1", "--reason", "no", "--as", "nobody"),
    ):
        result = cli(*args)
        assert result.code == 1, (args, result.stderr)
        assert "'nobody' is not on the team" in result.stderr, (args, result.stderr)


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`promptloop … | head -1`: no traceback, no "internal error", SIGPIPE's exit code."""
    import os

    people = "".join(
        f"  - {{handle: p{n}, name: Person {n}, roles: [{'admin' if n == 0 else 'expert'}], "
        f"email: p{n}@example.com}}\n"
        for n in range(1500)
    )  # a listing far larger than a pipe's buffer, so the writer meets the closed pipe
    (tmp_path / "team.yaml").write_text("people:\n" + people)
    env = {**os.environ, "PROMPTLOOP_HOME": str(tmp_path / "home")}
    cli = f"{sys.executable} -m promptloop"
    script = f"{cli} team sync {tmp_path / 'team.yaml'} >/dev/null 2>&1; " + " ; ".join(
        [f"{cli} team list --json | true; echo rc=${{PIPESTATUS[0]}}"] * 3
    )
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.stdout.split() == ["rc=141"] * 3, (done.stdout, done.stderr)
