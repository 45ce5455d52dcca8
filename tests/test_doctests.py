"""The examples in the modules' docstrings run as written (each module with a ``>>>``)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("roles", "integrations", "flows", "promptloop")
WITH_EXAMPLES = [
    *sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if ">>> " in path.read_text(errors="replace")
    ),
    "dev",  # the install and test script's own examples
]


def test_the_modules_with_examples_are_found() -> None:
    assert "integrations.llm.providers" in WITH_EXAMPLES and len(WITH_EXAMPLES) >= 10


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_examples_in_the_module_hold(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    source = Path(str(module.__file__)).read_text()
    skipped = all("+SKIP" in line for line in source.splitlines() if ">>> " in line)
    assert result.attempted > 0 or skipped, f"{name} has a '>>> ' that doctest does not read"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} fail"
