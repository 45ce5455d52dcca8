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


@pytest.mark.parametrize(
    "command",
    ["change list", "change show 1", "team list", "prompt show support-triage", "dataset list"],
)
def test_ledger_commands_load_no_sdk_migration_or_parser(tmp_path: Path, command: str) -> None:
    """Commands that only touch the ledger stay fast: the heavy packages load lazily."""
    code = (
        "import sys\n"
        f"sys.argv = ['promptloop', *{command.split()!r}, '--json']\n"
        "from promptloop.cli.app import run_cli\n"
        "assert run_cli() == 0\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & {set(NOT_FOR_LEDGER_COMMANDS)!r}))\n"
    )
    env = {"PROMPTLOOP_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for setup in (["init", "--sample"], ["change", "submit", "-f", str(CHANGE), "--as", "maya"]):
        subprocess.run(
            [sys.executable, "-m", "promptloop", *setup],
            cwd=ROOT,
            env={**env, "PROMPTLOOP_AUTO_EVALUATE": "false"},
            check=True,
            capture_output=True,
        )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
