"""YAML from people is read with limits: no anchors or aliases (a "billion laughs" of a few
hundred bytes), no nesting past 100 levels, at most 1 MiB read (``/dev/zero`` included);
each refusal is one sentence naming the file and line, exit 2. YAML 1.2 words and plain
data as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from roles.datasets import parse_jsonl
from roles.errors import InputError
from roles.yamlfile import FILE_LIMIT, MAX_DEPTH, load_yaml, load_yaml_text, read_text


def billion_laughs(levels: int = 9) -> str:
    """Each level a list of nine aliases of the one before: 9**levels strings in ~600 bytes."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for before, name in zip("abcdefghijk", "bcdefghijk"[: levels - 1], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]")
    return "\n".join(lines) + "\n"


def promptloop(*args: str) -> subprocess.CompletedProcess[str]:
    """``promptloop ARGS`` as its own process (the timeout only stops a hang in the test)."""
    return subprocess.run(
        [sys.executable, "-m", "promptloop", *args],
        env={k: v for k, v in os.environ.items() if k != "PROMPTLOOP_DEBUG"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def refusal(text: str, source: str = "p.yaml") -> str:
    with pytest.raises(InputError) as info:
        load_yaml_text(text, source)
    return info.value.message


def test_a_billion_laughs_is_refused_at_its_first_anchor() -> None:
    text = billion_laughs()
    assert len(text) < 700
    assert refusal(text, "lol.yaml") == (
        "lol.yaml, line 1: YAML aliases and anchors (&a) are not allowed in promptloop files"
    )


def test_an_alias_is_refused_on_its_line() -> None:
    said = refusal("name: x\nmodel: m\ntemplate: *t\n")
    assert (
        said == "p.yaml, line 3: YAML aliases and anchors (*t) are not allowed in promptloop files"
    )


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # flow style
        "- " * 100_000 + "x\n",  # block style
        "a: {" * 100_000 + "}" * 100_000,
    ],
)
def test_nesting_past_the_limit_is_refused_not_a_recursion_error(text: str) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in refusal(text)


def test_nesting_up_to_the_limit_is_read() -> None:
    data = load_yaml_text("[" * MAX_DEPTH + "]" * MAX_DEPTH, "p.yaml").data
    depth = 0
    while data:
        data, depth = data[0], depth + 1
    assert depth == MAX_DEPTH - 1  # the innermost list is empty


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("lol.yaml", billion_laughs(), "lol.yaml, line 1: YAML aliases and anchors (&a)"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "deep.yaml, line 1: nested deeper"),
        ("zero", None, "zero: larger than 1 MiB: not a promptloop file"),
    ],
)
def test_prompt_push_refuses_them_with_exit_2_in_one_sentence(
    tmp_path: Path, name: str, text: str | None, words: str
) -> None:
    path = tmp_path / name
    if text is None:
        path.symlink_to("/dev/zero")  # a character device: it never ends
    else:
        path.write_text(text)
    result = promptloop("prompt", "push", str(path), "--as", "lee")
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_prompt_push_of_dev_zero_exits_2() -> None:
    result = promptloop("prompt", "push", "/dev/zero", "--as", "lee")
    assert result.returncode == 2, result.stderr
    assert "/dev/zero: larger than 1 MiB: not a promptloop file" in result.stderr


def test_prompt_push_of_a_standard_input_that_never_ends_exits_2() -> None:
    with open("/dev/zero", "rb") as zero:
        result = subprocess.run(
            [sys.executable, "-m", "promptloop", "prompt", "push", "-", "--as", "lee"],
            env={k: v for k, v in os.environ.items() if k != "PROMPTLOOP_DEBUG"},
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 2, result.stderr
    assert "<stdin>: larger than 1 MiB: not a promptloop file" in result.stderr


def test_a_file_over_the_cap_is_refused_and_one_at_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"x: " + b"a" * (FILE_LIMIT - 3))
    assert len(read_text(big)) == FILE_LIMIT
    big.write_bytes(b"x: " + b"a" * (FILE_LIMIT - 2))
    with pytest.raises(InputError, match=r"big.yaml: larger than 1 MiB: not a promptloop file"):
        load_yaml(big)


def test_a_dataset_may_be_far_larger_than_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    item = {"input": {"ticket": "x" * 400}, "expected": "billing"}
    with path.open("w") as out:
        for number in range(5000):
            out.write(json.dumps({"id": f"t{number}", **item}) + "\n")
    assert path.stat().st_size > 2 * FILE_LIMIT
    assert len(parse_jsonl(path)) == 5000


def test_yes_no_on_off_stay_words_and_only_true_false_are_booleans() -> None:
    data = load_yaml_text("[yes, no, on, off, y, n, true, False]", "p.yaml").data
    assert data == ["yes", "no", "on", "off", "y", "n", True, False]


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    said = refusal("name: x\nmodel: m\nname: y\n")
    assert said == "p.yaml, line 3: not valid YAML: key 'name' is given twice (first on line 1)"


def test_nan_and_infinity_are_refused() -> None:
    assert "p.yaml, line 1: x.1: NaN and infinity are not allowed" in refusal("x: [1, .inf]\n")


def test_the_data_is_plain_python_with_a_line_per_path() -> None:
    text = "name: x\nparams:\n  seed: 7\n  stop: [a]\nexamples:\n  - input: {t: 1}\n    output: 1.5\nwhen: 2024-01-01\n"
    doc = load_yaml_text(text, "p.yaml")
    assert json.dumps(doc.data) == json.dumps(
        {
            "name": "x",
            "params": {"seed": 7, "stop": ["a"]},
            "examples": [{"input": {"t": 1}, "output": 1.5}],
            "when": "2024-01-01",  # a date stays as written
        }
    )
    kinds = {type(doc.data), type(doc.data["params"]), type(doc.data["examples"])}
    assert kinds == {dict, list}
    assert type(doc.data["name"]) is str and type(doc.data["params"]["seed"]) is int
    assert doc.lines[()] == 1
    assert doc.line_of(("params", "seed")) == 3
    assert doc.line_of(("examples", 0, "output")) == 7
    assert doc.where(("examples", 0, "input", "t")) == "p.yaml, line 6"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x: !!python/object:os.system ls\n", "line 1: not valid YAML: the tag"),
        ("x: !!binary aGk=\n", "line 1: not valid YAML: the tag"),
        ("x: !!set {a, b}\n", "line 1: not valid YAML: the tag"),
        ("? [a]\n: 1\n", "line 1: not valid YAML: a key must be a plain value"),
        ("x: {a: 1}\ny:\n  <<: {a: 2}\n", "line 3: merge keys (<<) are not allowed"),
    ],
)
def test_other_yaml_features_are_refused(text: str, words: str) -> None:
    assert words in refusal(text)


def test_an_empty_file_is_no_data() -> None:
    doc = load_yaml_text("# nothing\n", "p.yaml")
    assert doc.data is None and doc.lines == {}
