"""``promptloop prompt``: push versions, show and export them, diff, log, labels."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from integrations.db import session_scope
from promptloop.cli.common import ActorOpt, JsonOpt, NoteOpt, read_prompt_spec
from promptloop.cli.output import emit_json, out, say, styled, table
from roles.clock import iso
from roles.ledger import Member, PromptVersion
from roles.prompt_file import export_yaml
from roles.registry import (
    find_prompt,
    label_history,
    labels_of,
    push,
    resolve,
    spec_of,
    version_diff,
    versions_of,
)

app = typer.Typer(help="Prompts and their versions.", no_args_is_help=True)

VersionOpt = Annotated[int | None, typer.Option("--version", "-v", help="A version number.")]
LabelOpt = Annotated[str | None, typer.Option("--label", "-l", help="A label, e.g. production.")]


def version_view(version: PromptVersion, *, name: str, labels: dict[str, int]) -> dict[str, Any]:
    return {
        "name": name,
        "version": version.number,
        "model": version.model,
        "params": version.params,
        "system": version.system,
        "template": version.template,
        "examples": version.examples,
        "dataset": version.dataset,
        "suite": version.suite,
        "description": version.description,
        "content_hash": version.content_hash,
        "created_at": iso(version.created_at),
        "labels": {k: v for k, v in labels.items() if v == version.number},
    }


@app.command("push")
def push_(
    file: Annotated[Path, typer.Argument(help="A prompt YAML file.")],
    actor: ActorOpt,
    as_json: JsonOpt = False,
) -> None:
    """Store FILE as a new version (identical content returns the existing version)."""
    from roles.calibration.labels import label_warnings

    spec = read_prompt_spec(file)
    with session_scope() as session:
        version, created = push(session, spec=spec, actor=actor)
        number = version.number
        warnings = label_warnings(session, spec=spec)
    for warning in warnings:
        say(f"warning: {warning}")
    if as_json:
        found = {"warnings": warnings} if warnings else {}
        emit_json({"name": spec.name, "version": number, "created": created, **found})
    elif created:
        say(f"{spec.name} version {number} stored")
    else:
        say(f"{spec.name}: identical to version {number}; nothing new stored")


@app.command("show")
def show(
    name: str, version: VersionOpt = None, label: LabelOpt = None, as_json: JsonOpt = False
) -> None:
    """Show a version (default: the one labelled production, else the latest)."""
    with session_scope() as session:
        found = resolve(session, name=name, version=version, label=label)
        labels = labels_of(session, prompt=find_prompt(session, name=name))
        view = version_view(found, name=name, labels=labels)
        view["labels"] = labels
    if as_json:
        emit_json(view)
        return
    here = [k for k, v in labels.items() if v == view["version"]]
    out.print(
        styled(
            (name, "bold"), f" version {view['version']}", f"  ({', '.join(here)})" if here else ""
        )
    )
    out.print(
        f"model: {view['model']}  params: {view['params'] or '{}'}  dataset: {view['dataset'] or '-'}"
    )
    if view["system"]:
        out.print(styled(("system", "bold")))
        out.print(view["system"])
    out.print(styled(("template", "bold")))
    out.print(view["template"])
    if view["examples"]:
        out.print(styled(("examples", "bold"), f": {len(view['examples'])}"))


@app.command("export")
def export(name: str, version: VersionOpt = None, label: LabelOpt = None) -> None:
    """Print a version as a prompt file that `push` and `change submit` accept unchanged."""
    with session_scope() as session:
        found = resolve(session, name=name, version=version, label=label)
        text = export_yaml(spec_of(found, name=name))
    sys.stdout.write(text)


def _pick(session: Any, name: str, ref: str) -> PromptVersion:
    if ref.isdigit():
        return resolve(session, name=name, version=int(ref))
    return resolve(session, name=name, label=ref)


@app.command("diff")
def diff(
    name: str,
    a: Annotated[str, typer.Argument(help="A version number or a label.")],
    b: Annotated[str, typer.Argument(help="A version number or a label.")],
    as_json: JsonOpt = False,
) -> None:
    """Unified diff of two versions, as their prompt files."""
    with session_scope() as session:
        va, vb = _pick(session, name, a), _pick(session, name, b)
        lines = version_diff(va, vb, name=name).splitlines(keepends=True)
        na, nb = va.number, vb.number
    if as_json:
        emit_json({"name": name, "from": na, "to": nb, "diff": "".join(lines)})
        return
    if not lines:
        say(f"versions {na} and {nb} are identical")
        return
    for line in lines:
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else (
                "green"
                if line.startswith("+")
                else "red"
                if line.startswith("-")
                else "cyan"
                if line.startswith("@@")
                else ""
            )
        )
        out.print(Text(line.rstrip("\n"), style=style))


@app.command("log")
def log(name: str, as_json: JsonOpt = False) -> None:
    """Versions and every label move of a prompt."""
    with session_scope() as session:
        prompt = find_prompt(session, name=name)
        handles = {m.id: m.handle for m in session.query(Member).all()}
        versions = [
            {
                "version": v.number,
                "author": handles.get(v.author_id, "-"),
                "created_at": iso(v.created_at),
                "model": v.model,
                "content_hash": v.content_hash[:12],
                "description": v.description,
            }
            for v in versions_of(session, prompt=prompt)
        ]
        moves = [
            {
                "label": m.label,
                "from_version": m.from_version,
                "to_version": m.to_version,
                "actor": m.actor,
                "at": iso(m.at),
                "change_id": m.change_id,
                "note": m.note,
            }
            for m in label_history(session, prompt=prompt)
        ]
    if as_json:
        emit_json({"name": name, "versions": versions, "label_moves": moves})
        return
    table(
        f"{name}: versions",
        ["version", "author", "created", "model", "hash"],
        [
            [v["version"], v["author"], v["created_at"], v["model"], v["content_hash"]]
            for v in versions
        ],
    )
    table(
        f"{name}: label moves",
        ["label", "from", "to", "by", "at", "change", "note"],
        [
            [
                m["label"],
                m["from_version"],
                m["to_version"],
                m["actor"],
                m["at"],
                m["change_id"],
                m["note"],
            ]
            for m in moves
        ],
    )


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every prompt with its labels and latest version."""
    from sqlmodel import select

    from roles.ledger import Prompt

    with session_scope() as session:
        rows: list[dict[str, Any]] = []
        for prompt in session.exec(select(Prompt).order_by(Prompt.name)).all():
            versions = versions_of(session, prompt=prompt)
            rows.append(
                {
                    "name": prompt.name,
                    "labels": labels_of(session, prompt=prompt),
                    "latest_version": versions[-1].number if versions else None,
                }
            )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("no prompts yet: `promptloop prompt push FILE --as HANDLE`")
        return
    table(
        None,
        ["name", "latest", "labels"],
        [
            [r["name"], r["latest_version"], ", ".join(f"{k}→v{v}" for k, v in r["labels"].items())]
            for r in rows
        ],
    )


@app.command("label")
def label(
    name: str,
    label_name: Annotated[str, typer.Argument(metavar="LABEL")],
    version: Annotated[int, typer.Option("--version", "-v", help="The version to point at.")],
    actor: ActorOpt,
    note: NoteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Point a label at a version. Moving `production` by hand needs the admin role and is
    recorded as a deployment (kind manual, with the deploy webhook's event); the loop moves
    it when an engineer approves a change."""
    from integrations.actions.door import Door
    from integrations.actions.labels import move_label

    moved = move_label(Door.cli(actor), prompt=name, label=label_name, version=version, note=note)
    data = {
        "name": name,
        "label": label_name,
        "version": version,
        "moved": True,
        "had_previous": moved.from_version is not None,
        "from_version": moved.from_version,
        "deployment_id": moved.deployment_id,
    }
    if as_json:
        emit_json(data)
    else:
        recorded = f" (deployment {moved.deployment_id}, manual)" if moved.deployment_id else ""
        say(f"{name}: {label_name} → version {version}{recorded}")


def _rollback() -> None:
    from promptloop.cli import decisions

    app.command("rollback")(decisions.rollback)


_rollback()
