"""More of the CLI as users meet it: revising a change, suites refused at push, the API."""

from __future__ import annotations

from pathlib import Path

from support import SAMPLES, submit_sample


def _withdrawn_text(text: str) -> str:
    return text.replace("Category:", "Category (one word):")


def test_revise_after_changes_requested_runs_the_loop_again(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from integrations.db import session_scope
    from roles.states import State
    from roles.transitions import transition

    change = submit_sample()
    with session_scope() as session:
        for target in (State.EVALUATING, State.IN_REVIEW):
            transition(session, change_id=change["id"], target=target, actor="promptloop")
        transition(
            session,
            change_id=change["id"],
            target=State.CHANGES_REQUESTED,
            actor="omar",
            note="answers are too long",
        )
    revised_file = tmp_path / "revised.yaml"
    revised_file.write_text(_withdrawn_text((SAMPLES / "support-triage-change.yaml").read_text()))

    not_author = cli(
        "change", "revise", str(change["id"]), "--file", str(revised_file), "--as", "omar"
    )
    assert not_author.code == 1 and "only the author" in not_author.stderr
    revised = cli(
        "change",
        "revise",
        str(change["id"]),
        "--file",
        str(revised_file),
        "--as",
        "maya",
        "--note",
        "shorter",
        "--json",
    )
    assert revised.code == 0, revised.stderr
    assert (revised.json()["state"], revised.json()["candidate_version"]) == ("submitted", 3)
    history = cli("change", "show", str(change["id"]), "--json").json()["history"]
    assert [h["to_state"] for h in history][-2:] == ["changes_requested", "submitted"]
    assert history[-1]["note"] == "shorter" and history[-2]["actor"] == "omar"
    again = cli("change", "revise", str(change["id"]), "--file", str(revised_file), "--as", "maya")
    assert again.code == 1 and "only eval_failed or changes_requested" in again.stderr


def test_a_bad_scorer_is_refused_at_push_naming_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    text = (SAMPLES / "support-triage-change.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("name: length", "name: lenght"))
    result = cli("prompt", "push", str(bad), "--as", "maya")
    assert (
        result.code == 2
        and "unknown scorer 'lenght'" in result.stderr
        and "bad.yaml, line" in result.stderr
    )
    args = tmp_path / "args.yaml"
    args.write_text(text.replace("max_length: 3", "max_length: three"))
    result = cli("change", "submit", "--file", str(args), "--as", "maya")
    assert result.code == 2 and "scorer 'length'" in result.stderr
    assert cli("change", "list", "--json").json() == []


def test_a_suite_file_beside_the_prompt_is_inlined(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("init", "--sample")
    (tmp_path / "suite.yaml").write_text(
        "scorers:\n  - exact_match\ngate:\n  guardrails: [exact_match]\n"
    )
    text = (SAMPLES / "support-triage-change.yaml").read_text().split("suite:")[
        0
    ] + "suite: suite.yaml\n"
    (tmp_path / "p.yaml").write_text(text)
    pushed = cli("prompt", "push", str(tmp_path / "p.yaml"), "--as", "maya", "--json").json()
    shown = cli(
        "prompt", "show", "support-triage", "--version", str(pushed["version"]), "--json"
    ).json()
    assert shown["suite"]["scorers"] == ["exact_match"]


def test_get_prompt_renders_production_messages(cli) -> None:  # type: ignore[no-untyped-def]
    import promptloop

    cli("init", "--sample")
    prompt = promptloop.get_prompt("support-triage")
    assert (prompt.version, prompt.labels) == (1, ("production",))
    messages = prompt.render(ticket="I was charged twice")
    assert messages[0]["role"] == "system" and "I was charged twice" in messages[-1]["content"]
    from roles.templates import RenderError

    try:
        prompt.render()
    except RenderError as exc:
        assert exc.variable == "ticket"
    else:
        raise AssertionError("an undefined variable must raise")


def test_db_upgrade_is_explicit_and_idempotent(cli) -> None:  # type: ignore[no-untyped-def]
    from integrations.migrations import HEAD

    first = cli("db", "upgrade", "--json")
    assert first.code == 0 and first.json()["to"] == HEAD
    assert cli("db", "upgrade", "--json").json()["from"] == HEAD
