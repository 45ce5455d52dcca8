"""Every write is one transaction: a session killed or failing after a SAVEPOINT leaves
nothing behind, on SQLite as on PostgreSQL (on SQLite the first SAVEPOINT used to be the
outermost transaction, and its RELEASE committed the rows written so far)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from integrations.db import get_engine, reset_engines, session_scope
from roles.datasets import items_of, parse_jsonl, push_dataset
from roles.ledger import Dataset, DatasetItem

ROOT = Path(__file__).resolve().parents[2]


def test_a_session_that_fails_after_a_savepoint_leaves_nothing(ledger: str) -> None:
    with pytest.raises(RuntimeError, match="the disk is full"), session_scope() as session:
        with session.begin_nested():
            session.add(Dataset(name="tickets", version=1, content_hash="x" * 64))
        session.flush()
        raise RuntimeError("the disk is full")  # as a failing write of the items would
    reset_engines()  # a fresh connection: what another process sees
    with Session(get_engine()) as session:
        assert session.exec(select(Dataset)).all() == []


def test_a_push_that_fails_after_its_header_row_leaves_nothing(ledger: str, tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"id": "a", "input": {"x": 1}}\n{"id": "b", "input": {"x": 2}}\n')
    items = parse_jsonl(path)
    items[1].input = {"x": {1, 2}}  # a set: refused only when the items are written
    with pytest.raises(TypeError, match="set is not JSON serializable"), session_scope() as session:
        push_dataset(session, name="tickets", items=items)
    with session_scope() as session:
        assert session.exec(select(Dataset)).all() == []
        dataset, created = push_dataset(session, name="tickets", items=parse_jsonl(path))
    with Session(get_engine()) as session:
        assert created and dataset.version == 1
        assert len(items_of(session, dataset=dataset)) == 2


def _wal_size(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_a_push_killed_mid_write_leaves_nothing_and_a_re_push_stores_every_item(
    home: Path, tmp_path: Path
) -> None:
    """The kill comes when the push has written megabytes of items into the WAL (SQLite
    spills a large transaction to it before its commit): mid-write, whatever the code does
    with the header row, and without guessing a time."""
    count = 40_000
    path = tmp_path / "big.jsonl"
    pad = "p" * 400
    with path.open("w") as out:
        for n in range(count):
            out.write(json.dumps({"id": f"t{n}", "input": {"ticket": f"{n} {pad}"}}) + "\n")
    db = home / "promptloop.db"
    get_engine()  # the schema in place before the push starts, so only the push writes
    reset_engines()
    before = _wal_size(db)
    command = [sys.executable, "-m", "promptloop", "dataset", "push", str(path), "--name", "big"]
    push = subprocess.Popen(
        command, cwd=ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 180
        while _wal_size(db) < before + 4_000_000:
            assert push.poll() is None, "the push ended before it was killed"
            assert time.monotonic() < deadline, "the push wrote nothing in 3 minutes"
            time.sleep(0.005)
        push.send_signal(signal.SIGKILL)
    finally:
        push.kill()
        push.wait()
    assert push.returncode == -signal.SIGKILL
    reader = sqlite3.connect(db)  # another process's view, as pushed
    versions = reader.execute(
        "SELECT d.version, count(i.id) FROM dataset d LEFT JOIN dataset_item i"
        " ON i.dataset_id = d.id GROUP BY d.id"
    ).fetchall()
    reader.close()
    assert versions == []  # before: [(1, 0)], and the re-push said "identical to version 1"
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"dataset big version 1 stored ({count} items)" in again.stderr
    with Session(get_engine()) as session:
        stored = session.exec(select(func.count()).select_from(DatasetItem)).one()
    assert stored == count
