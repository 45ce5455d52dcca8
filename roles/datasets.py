"""Eval datasets from JSONL: one item per line, ``{"id", "input", "expected", "tags"}``.

An item may carry people's verdicts on its answer, per scorer label, to calibrate an LLM
judge before any review: ``"human": {"judge_correct": "fail"}`` (``pass`` or ``fail``).

Every line is checked before anything is written; errors name the file and line.
Pushing identical content returns the existing version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from roles.errors import ConflictError, InputError, NotFoundError
from roles.ledger import Dataset, DatasetItem
from roles.prompt_file import NAME_PATTERN
from roles.roster import require_member
from roles.states import PERSON_ROLES

MAX_ERRORS_SHOWN = 5
DATASET_FILE_LIMIT = 256 << 20  # bytes: far more than 5,000 items; /dev/zero still ends


class ItemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any]
    expected: Any = None
    tags: list[str] = Field(default_factory=list)
    human: dict[str, Literal["pass", "fail"]] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key '{key}' is given twice")
        data[key] = value
    return data


MAX_NESTING = 100  # levels of objects and arrays in one item; deeper is refused, not parsed


def _nesting(value: Any) -> int:
    """How deep ``value`` nests (an object or an array is one level), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)) and level <= MAX_NESTING + 1:
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_jsonl_text(text: str, source: str) -> list[ItemSpec]:
    items: list[ItemSpec] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    too_deep = f"nested deeper than {MAX_NESTING} levels"
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg})")
            continue
        except RecursionError:  # the parser's own stack: thousands of levels
            problems.append(f"line {number}: {too_deep}")
            continue
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if _nesting(data) > MAX_NESTING:
            problems.append(f"line {number}: {too_deep}")
            continue
        try:
            item = ItemSpec.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "item"
            problems.append(f"line {number}: {where}: {error['msg']}")
            continue
        if item.id in first_line:
            problems.append(
                f"line {number}: duplicate item id '{item.id}' (first on line {first_line[item.id]})"
            )
            continue
        first_line[item.id] = number
        items.append(item)
    if problems:
        shown = "; ".join(problems[:MAX_ERRORS_SHOWN])
        more = len(problems) - MAX_ERRORS_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        raise InputError(
            f"{source}: {len(problems)} invalid line(s), nothing written: {shown}{tail}"
        )
    if not items:
        raise InputError(f"{source}: no items")
    return items


def parse_jsonl(path: Path | str) -> list[ItemSpec]:
    from roles.yamlfile import read_text  # loads ruamel.yaml: only when a file is read

    return parse_jsonl_text(read_text(path, limit=DATASET_FILE_LIMIT), str(path))


def content_hash(items: list[ItemSpec]) -> str:
    # Unlabelled items hash as before labels existed: an old dataset pushed again is the same.
    dumped = [i.model_dump(exclude={"human"} if not i.human else None) for i in items]
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def push_dataset(
    session: Session,
    *,
    name: str,
    items: list[ItemSpec],
    source: str | None = None,
    author_id: int | None = None,
    author: str | None = None,
) -> tuple[Dataset, bool]:
    """Store a new version of dataset ``name`` (or return the identical one, created=False).

    ``author``, a handle, must be an active member with a person's role (recorded)."""
    if not NAME_PATTERN.match(name):
        raise InputError(f"'{name}' is not a dataset name (letters, digits, '.', '_', '-')")
    if author is not None:
        author_id = require_member(session, handle=author, roles=PERSON_ROLES)[0].id
    digest = content_hash(items)
    existing = session.exec(
        select(Dataset).where(Dataset.name == name).where(Dataset.content_hash == digest)
    ).first()
    if existing is not None:
        return existing, False
    number = (
        session.exec(select(func.max(Dataset.version)).where(Dataset.name == name)).one() or 0
    ) + 1
    dataset = Dataset(
        name=name, version=number, content_hash=digest, source=source, author_id=author_id
    )
    try:
        with session.begin_nested():
            session.add(dataset)
    except IntegrityError:
        raise ConflictError(f"dataset '{name}' was pushed by someone else; push again") from None
    assert dataset.id is not None
    session.add_all(
        DatasetItem(
            dataset_id=dataset.id,
            position=position,
            item_id=item.id,
            input=item.input,
            expected=item.expected,
            tags=item.tags,
            human=dict(item.human),
        )
        for position, item in enumerate(items)
    )
    session.flush()
    return dataset, True


def find_dataset(session: Session, *, name: str, version: int | None = None) -> Dataset:
    query = select(Dataset).where(Dataset.name == name)
    if version is not None:
        query = query.where(Dataset.version == version)
    dataset = session.exec(query.order_by(col(Dataset.version).desc())).first()
    if dataset is None:
        suffix = f" version {version}" if version is not None else ""
        raise NotFoundError(f"there is no dataset '{name}'{suffix}")
    return dataset


def items_of(session: Session, *, dataset: Dataset) -> list[DatasetItem]:
    return list(
        session.exec(
            select(DatasetItem)
            .where(DatasetItem.dataset_id == dataset.id)
            .order_by(col(DatasetItem.position))
        ).all()
    )
