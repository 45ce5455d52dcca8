"""``promptloop dataset``: push JSONL datasets and show them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlmodel import col, select

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, say, table
from roles.clock import iso
from roles.datasets import find_dataset, items_of, parse_jsonl, push_dataset
from roles.ledger import Dataset

app = typer.Typer(
    help="Eval datasets (JSONL: id, input, expected, tags, human labels).", no_args_is_help=True
)


@app.command("push")
def push(
    file: Annotated[Path, typer.Argument(help="A JSONL file, one item per line.")],
    name: Annotated[str, typer.Option("--name", help="The dataset's name.")],
    actor: Annotated[str | None, typer.Option("--as", help="Your handle (recorded).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Store FILE as the next version of dataset NAME; any invalid line refuses the whole file."""
    items = parse_jsonl(file)
    with session_scope() as session:
        dataset, created = push_dataset(
            session, name=name, items=items, source=str(file), author=actor
        )
        version = dataset.version
    if as_json:
        emit_json({"name": name, "version": version, "items": len(items), "created": created})
    elif created:
        say(f"dataset {name} version {version} stored ({len(items)} items)")
    else:
        say(f"dataset {name}: identical to version {version}; nothing new stored")


@app.command("show")
def show(
    name: str,
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=0, help="Items to show (table default 50, JSON default all; 0 = all)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a dataset's items (default: its latest version)."""
    with session_scope() as session:
        dataset = find_dataset(session, name=name, version=version)
        rows = items_of(session, dataset=dataset)
        total = len(rows)
        shown = limit if limit else (total if as_json or limit == 0 else 50)
        items = [
            {"id": i.item_id, "input": i.input, "expected": i.expected, "tags": i.tags}
            | ({"human": i.human} if i.human else {})
            for i in rows[:shown]
        ]
        data = {
            "name": dataset.name,
            "version": dataset.version,
            "created_at": iso(dataset.created_at),
            "content_hash": dataset.content_hash,
            "total_items": total,
            "items": items,
        }
    if as_json:
        emit_json(data)
        return
    table(
        f"{name} v{data['version']} ({total} items)",
        ["id", "input", "expected", "tags"],
        [[i["id"], _short(i["input"]), _short(i["expected"]), ", ".join(i["tags"])] for i in items],
    )
    if total > len(items):
        say(f"… and {total - len(items)} more (--limit 0 shows all)")


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every dataset with its latest version."""
    with session_scope() as session:
        latest: dict[str, int] = {}
        for ds in session.exec(select(Dataset).order_by(col(Dataset.name), col(Dataset.version))):
            latest[ds.name] = ds.version
    rows = [{"name": n, "version": v} for n, v in latest.items()]
    if as_json:
        emit_json(rows)
    else:
        table(None, ["name", "latest version"], [[r["name"], r["version"]] for r in rows])


def _short(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
