"""Imports point down (promptloop -> flows -> integrations -> roles), roles/ imports no
Prefect, Slack, OpenAI or HTTP code, nothing but the CLI imports the CLI: the static rules
are import-linter's contracts in pyproject.toml; these tests run them, look for modules
named by string, and check what importing a module loads at run time."""

from __future__ import annotations

import ast
import re
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


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's [tool.importlinter] contracts: the layers (promptloop -> flows ->
    integrations -> roles), roles/ free of SDKs, promptloop.runtime and every layer below
    the CLI never importing promptloop.cli, the evals below the roles that use them.
    Function-level imports count: grimp reads every import statement."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


# The layers a module may not name, even by string (importlib.import_module("..."), a
# uvicorn "module:app" target), which the import contracts cannot see.
ABOVE = {
    "roles": ("integrations", "flows", "promptloop"),
    "integrations": ("flows", "promptloop"),
    "flows": ("promptloop",),
    "promptloop/runtime": ("promptloop.cli",),
}
MODULE_PATH = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)*(:[A-Za-z_0-9]+)?$")


def is_our_module(name: str) -> bool:
    where = ROOT.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def modules_named_by_string(path: Path) -> set[str]:
    """String constants in ``path`` that are whole dotted paths of our modules (a logger's
    name such as "promptloop.gateway" or a file name such as "promptloop.db" is not one)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "." in node.value
        and MODULE_PATH.match(node.value)
        and is_our_module(name := node.value.split(":")[0])
    }


@pytest.mark.parametrize("layer", sorted(ABOVE))
def test_no_layer_names_a_module_above_it_by_string(layer: str) -> None:
    above = ABOVE[layer]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in modules_named_by_string(path)
            if any(name == a or name.startswith(a + ".") for a in above)
        )
        for path in (ROOT / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_string_check_sees_an_import_by_string(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        'import importlib\nimportlib.import_module("promptloop.cli.app")\n'
        'TARGET = "promptloop.cli.launcher:main"\n"""A docstring, not a path."""\n'
    )
    assert modules_named_by_string(module) == {"promptloop.cli.app", "promptloop.cli.launcher"}


def test_the_runtime_loads_no_cli_module_when_imported() -> None:
    """What the contracts cannot see either: an import made at run time by name."""
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "promptloop" / "runtime").rglob("*.py")
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(n for n in sys.modules if n.startswith('promptloop.cli')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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
        "PROMPTLOOP_WARM_CLI": "0",
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
    env = {"PROMPTLOOP_HOME": str(home), "PATH": "/usr/bin:/bin", "PROMPTLOOP_WARM_CLI": "0"}
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
