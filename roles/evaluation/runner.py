"""Run a prompt version over dataset items: render, call the model, score — bounded.

A fixed pool of workers pulls items from a queue, so memory stays flat for any
dataset size and at most ``concurrency`` items are in flight. An item whose template
fails to render or whose call fails becomes an errored sample, never a dropped one.

    results = await run_items(items=items, prompt=prompt, caller=client, suite=suite,
                              concurrency=32, on_result=progress)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from roles.calls import ChatRequest, ChatResult, ModelCaller
from roles.data_scientist import ItemResult, Sample, Suite
from roles.templates import RenderError, render_messages


@dataclass(frozen=True)
class EvalItem:
    item_id: str
    input: dict[str, Any]
    expected: Any = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PromptUnderTest:
    model: str
    template: str
    system: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def request(self, variables: dict[str, Any]) -> ChatRequest:
        messages = render_messages(
            system=self.system, template=self.template, examples=self.examples, variables=variables
        )
        return ChatRequest(model=self.model, messages=messages, params=self.params)


@dataclass(frozen=True)
class ItemOutcome:
    """One item's scored result plus how its answer was obtained."""

    result: ItemResult
    cached: bool
    attempts: int


OnResult = Callable[[ItemOutcome], None]


async def run_item(
    item: EvalItem, *, prompt: PromptUnderTest, caller: ModelCaller, suite: Suite
) -> ItemOutcome:
    try:
        request = prompt.request(item.input)
    except RenderError as exc:
        answer = ChatResult(error=f"template: {exc.message}", model=prompt.model, attempts=0)
    else:
        answer = await caller(request)
    sample = Sample.from_result(
        answer, item_id=item.item_id, input=item.input, expected=item.expected, tags=item.tags
    )
    scored = await suite.score(sample, suite.context(caller))
    return ItemOutcome(result=scored, cached=answer.cached, attempts=answer.attempts)


async def run_items(
    *,
    items: Sequence[EvalItem],
    prompt: PromptUnderTest,
    caller: ModelCaller,
    suite: Suite,
    concurrency: int,
    on_result: OnResult | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[ItemOutcome]:
    """Every item's outcome, in the items' order; once ``stop()`` is true, items not yet
    started are left out (the caller says why)."""
    outcomes: list[ItemOutcome | None] = [None] * len(items)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(items)):
        queue.put_nowait(index)

    async def worker() -> None:
        while stop is None or not stop():
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            outcome = await run_item(items[index], prompt=prompt, caller=caller, suite=suite)
            outcomes[index] = outcome
            if on_result is not None:
                on_result(outcome)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return [o for o in outcomes if o is not None]
