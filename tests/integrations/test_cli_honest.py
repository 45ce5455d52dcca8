"""What the CLI prints is true and verbatim: text keeps its brackets, bugs are not called
bad input, a change nobody evaluates is not said to be held by promptloop."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fakes.openai_server import FakeOpenAIServer
from support import SAMPLES, judge_aware, point_at, submit_sample

ROOT = Path(__file__).resolve().parents[2]
CHANGE_FILE = str(SAMPLES / "support-triage-change.yaml")


def test_an_admin_closes_a_change_whose_author_left_the_team(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    change = submit_sample()["id"]
    sample_team = (SAMPLES / "team.yaml").read_text()
    head, rest = sample_team.split("  - handle: maya\n")
    team_file = tmp_path / "team.yaml"
    team_file.write_text(head + rest[rest.index("  - handle: omar") :])
    assert cli("team", "sync", str(team_file), "--as", "lee").code == 0  # maya is deactivated

    author = cli("change", "withdraw", str(change), "--as", "maya")
    assert (author.code, author.stderr.strip()) == (
        1,
        "error: 'maya' is deactivated and cannot act",
    )
    no_reason = cli("change", "withdraw", str(change), "--as", "lee")
    assert no_reason.code == 2 and "give a reason (--reason)" in no_reason.stderr
    closed = cli(
        "change", "withdraw", str(change), "--as", "lee", "--reason", "maya left", "--json"
    )
    assert closed.code == 0, closed.stderr
    assert closed.json()["state"] == "withdrawn"
    last = cli("change", "show", str(change), "--json").json()["history"][-1]
    assert (last["actor"], last["role"], last["note"]) == ("lee", "admin", "maya left")


def test_text_from_users_and_errors_is_printed_verbatim(cli) -> None:  # type: ignore[no-untyped-def]
    change = submit_sample("--note", "[bold]x[/bold] and :smile:")["id"]
    shown = cli("change", "show", str(change))
    assert shown.code == 0, shown.stderr
    assert "note: [bold]x[/bold] and :smile:" in shown.stdout
    assert shown.stdout.count("[bold]x[/bold]") == 2  # the note line and the history table

    missing = cli("prompt", "show", "promptloop[local]")
    assert missing.code == 2
    assert missing.stderr.startswith("error: there is no prompt named 'promptloop[local]' (see")


def test_a_model_output_is_printed_verbatim(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAIServer(responder=judge_aware(lambda body: "[bold]x[/bold]")) as server:
        point_at(server, monkeypatch)
        assert cli("init", "--sample").code == 0
        run = cli("eval", "run", "support-triage", "--json").json()
    shown = cli("eval", "show", str(run["id"]), "--items", "--limit", "1")
    assert shown.code == 0, shown.stderr
    assert "  output: [bold]x[/bold]" in shown.stdout.splitlines()


def test_a_no_eval_change_is_held_by_nobody_with_the_command_that_moves_it(cli) -> None:  # type: ignore[no-untyped-def]
    change = submit_sample("--no-eval")["id"]
    shown = cli("change", "show", str(change))
    assert (
        "(held by: nobody: not evaluated (--no-eval); run `promptloop change evaluate "
        f"{change}`)" in shown.stdout
    )
    assert cli("change", "list", "--json").json()[0]["holder"] == "nobody"


def test_a_system_text_too_large_is_refused_as_the_system_not_the_template(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", "--sample").code == 0
    import yaml

    doc = yaml.safe_load(Path(CHANGE_FILE).read_text())
    # 1.1 million characters once rendered, from a file far below the 1 MiB a file may be
    doc["system"] = "{% for i in range(100000) %}" + "x" * 11 + "{% endfor %}"
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = cli("change", "submit", "--file", str(big), "--as", "maya")
    assert result.code == 2
    assert "the system of 'support-triage' does not render for item" in result.stderr
    assert "over 1000000 characters" in result.stderr


def test_an_unreachable_prefect_api_is_an_outage_in_one_line(tmp_path: Path) -> None:
    """Exit 4 (an outage, not bad input, not a bug), one line, the cause kept on the change."""
    env = {
        "PROMPTLOOP_HOME": str(tmp_path),
        "PROMPTLOOP_WARM_CLI": "0",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PREFECT_API_URL": "http://127.0.0.1:1/api",
    }

    def promptloop(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "promptloop", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)

    assert promptloop("init", "--sample").returncode == 0
    submitted = promptloop("change", "submit", "-f", CHANGE_FILE, "--as", "maya", "--no-eval")
    assert "change 1 submitted" in submitted.stderr
    result = promptloop("change", "evaluate", "1", "--wait")
    assert result.returncode == 4, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "the Prefect server at http://127.0.0.1:1/api (PREFECT_API_URL) does not answer" in line
    assert "Traceback" not in result.stderr
    shown = promptloop("change", "show", "1").stdout
    assert "the evaluation could not run (an outage)" in shown


def test_two_submits_of_one_file_at_once_open_one_change(ledger: str, home: Path) -> None:
    """Two real `promptloop change submit` processes started together, on either database."""
    env = {
        "PROMPTLOOP_HOME": str(home),
        "PROMPTLOOP_WARM_CLI": "0",
        "PROMPTLOOP_DATABASE_URL": ledger,
        "PROMPTLOOP_AUTO_EVALUATE": "false",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    command = [sys.executable, "-m", "promptloop"]
    subprocess.run([*command, "init", "--sample"], cwd=ROOT, env=env, check=True)
    submit = [*command, "change", "submit", "-f", CHANGE_FILE, "--as", "maya"]
    racers = [
        subprocess.Popen(submit, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = sorted((p.wait(timeout=60), p.stderr.read().decode()) for p in racers)  # type: ignore[union-attr]
    (won, _), (lost, why) = outcomes
    assert (won, lost) == (0, 1), outcomes
    assert re.match(r"error: change \d+ already proposes version 2 of 'support-triage'", why)


def test_no_command_writes_rich_markup_that_would_print_literally() -> None:
    """The consoles print verbatim (markup off), so a `[red]…[/]` left in a string would be
    shown as typed; styling goes through `output.styled` / `output.error`."""
    import ast

    tag = re.compile(r"\[/\]|\[/?(?:bold|red|green|yellow|dim|cyan|italic)\b[^\]]*\]")
    found = []
    for path in [*(ROOT / "integrations").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and tag.search(text):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
