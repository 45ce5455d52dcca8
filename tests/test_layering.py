"""roles/ imports no Prefect, Slack, OpenAI or HTTP code, and nothing from flows/integrations."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHANGE = ROOT / "roles" / "samples" / "support-triage-change.yaml"
FORBIDDEN = (
    "prefect",
    "slack_sdk",
    "slack_bolt",
    "openai",
    "httpx",
    "httpx2",
    "requests",
    "aiohttp",
    "urllib3",
    "integrations",
    "flows",
    "promptloop",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_roles_source_imports_nothing_forbidden() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & set(FORBIDDEN))
        for path in (ROOT / "roles").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


# Imports point down only: promptloop (the CLI, the API) → flows → integrations → roles.
LAYERS_BELOW_MAY_NOT_IMPORT = {
    "flows": {"promptloop"},
    "integrations": {"flows", "promptloop"},
}


@pytest.mark.parametrize("layer", sorted(LAYERS_BELOW_MAY_NOT_IMPORT))
def test_imports_point_down_only(layer: str) -> None:
    above = LAYERS_BELOW_MAY_NOT_IMPORT[layer]
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & above)  # late ones too
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_imports_the_cli_but_the_cli() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for layer in ("roles", "integrations", "flows")
        for path in (ROOT / layer).rglob("*.py")
        if "promptloop.cli" in path.read_text()
    ]
    offenders += [
        str(path.relative_to(ROOT))
        for path in (ROOT / "promptloop").glob("*.py")
        if path.name != "__main__.py" and "promptloop.cli" in path.read_text()
    ]
    assert offenders == []


def test_importing_every_role_module_loads_no_forbidden_package() -> None:
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "roles").rglob("*.py")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# What a command that only reads the ledger must not load: the SDKs, the migrations, the
# statistics, and the parsers of files it does not read (YAML, Jinja2 templates).
NOT_FOR_LEDGER_COMMANDS = (
    "prefect",
    "openai",
    "slack_sdk",
    "slack_bolt",
    "alembic",
    "scipy",
    "sklearn",
    "numpy",
    "jinja2",
    "yaml",
    "httpx",
)


# Nor our own modules that only other commands need: the API (the prompt registry), the
# evaluation and sampling code (Jinja2, statistics), the YAML loader, the migration runner.
OURS_NOT_FOR_LEDGER_COMMANDS = (
    "promptloop.api",
    "roles.data_scientist",
    "roles.evaluation",
    "roles.templates",
    "roles.yamlfile",
    "integrations.migrations.runner",
)
LEDGER_COMMANDS = [
    "change list",
    "change show 1",
    "team list",
    "prompt show support-triage",
    "dataset list",
    "review list",
    "outbox list",
    "metrics --since 7d",
]


@pytest.fixture(scope="module")
def ledger_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the sample loaded and one change submitted, shared by these tests."""
    home = tmp_path_factory.mktemp("home")
    env = {
        "PROMPTLOOP_HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "PROMPTLOOP_AUTO_EVALUATE": "false",
    }
    for setup in (["init", "--sample"], ["change", "submit", "-f", str(CHANGE), "--as", "maya"]):
        subprocess.run(
            [sys.executable, "-m", "promptloop", *setup],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    return home


def modules_loaded_by(home: Path, command: str) -> set[str]:
    """Every module in ``sys.modules`` after ``promptloop COMMAND --json`` ran in a new process."""
    code = (
        "import sys\n"
        f"sys.argv = ['promptloop', *{command.split()!r}, '--json']\n"
        "from promptloop.cli.app import run_cli\n"
        "assert run_cli() == 0\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    env = {"PROMPTLOOP_HOME": str(home), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.strip().splitlines()[-1].split())


@pytest.mark.parametrize("command", LEDGER_COMMANDS)
def test_ledger_commands_load_no_sdk_migration_or_parser(ledger_home: Path, command: str) -> None:
    """Commands that only touch the ledger stay fast: the heavy packages load lazily."""
    loaded = modules_loaded_by(ledger_home, command)
    assert sorted({n.split(".")[0] for n in loaded} & set(NOT_FOR_LEDGER_COMMANDS)) == []
    assert sorted(n for n in loaded if n.startswith(OURS_NOT_FOR_LEDGER_COMMANDS)) == []


def test_a_command_builds_only_the_tables_it_reads(ledger_home: Path) -> None:
    """Each table class costs milliseconds to build: `team list` builds the members' tables
    and none of the others (nor SQLAlchemy's PostgreSQL dialect, on a SQLite ledger)."""
    loaded = modules_loaded_by(ledger_home, "team list")
    tables = sorted(
        n for n in loaded if n.startswith("roles.ledger.") and n != "roles.ledger.types"
    )
    assert tables == ["roles.ledger.members"]
    assert "sqlalchemy.dialects.postgresql" not in loaded
