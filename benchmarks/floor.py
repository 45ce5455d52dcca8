"""The floor: the same chat calls made by plain asyncio and the ``openai`` SDK, nothing else.

Reads the prompt YAML and the dataset JSONL that ``eval_speed.py`` wrote, renders each
item's messages with Jinja2 (the same template promptloop renders), and sends them all
through one ``AsyncOpenAI`` (``max_retries=0``) behind an ``asyncio.Semaphore``. When the
prompt has a ``judge`` key (``model``, ``system``, ``params``, ``response_format``, written
by ``eval_fast_model.py``), each answer is then graded by one more call, as promptloop's
``llm_judge`` sends it: a second acquisition of the semaphore. The endpoint comes from
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. Prints one JSON line:
``{"items": N, "errors": E, "wall_s": ...}``.

    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=x \\
        python benchmarks/floor.py --prompt prompt.yaml --dataset data.jsonl --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from typing import Any, cast

import jinja2
import openai
import yaml

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@functools.lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    return _compile(source).render(**variables)


def render_messages(prompt: dict[str, Any], variables: dict[str, Any]) -> list[dict[str, str]]:
    """System, few-shot pairs, then the user turn: the shape promptloop sends."""
    messages = []
    if prompt.get("system"):
        messages.append({"role": "system", "content": render(prompt["system"], variables)})
    for example in prompt.get("examples") or []:
        messages.append({"role": "user", "content": render(prompt["template"], example["input"])})
        messages.append({"role": "assistant", "content": str(example.get("output", ""))})
    messages.append({"role": "user", "content": render(prompt["template"], variables)})
    return messages


async def run(prompt: dict[str, Any], items: list[dict[str, Any]], concurrency: int) -> int:
    client = openai.AsyncOpenAI(
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=os.environ.get("OPENAI_API_KEY", "x"),
        max_retries=0,
        timeout=60.0,
    )
    semaphore = asyncio.Semaphore(concurrency)
    params = prompt.get("params") or {}
    judge = prompt.get("judge")
    errors = 0

    async def call(model: str, messages: list[dict[str, str]], **kwargs: Any) -> str | None:
        nonlocal errors
        async with semaphore:
            try:
                completion = await client.chat.completions.create(
                    model=model, messages=cast(Any, messages), **kwargs
                )
            except openai.OpenAIError as exc:
                errors += 1
                if errors <= 3:  # enough to see what is wrong
                    print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
                return None
        text = completion.choices[0].message.content if completion.choices else None
        errors += text is None
        return text

    async def one(item: dict[str, Any]) -> None:
        messages = render_messages(prompt, item["input"])
        output = await call(prompt["model"], messages, **params)
        if judge is None or output is None:
            return
        document = {"input": item["input"], "output": output, "expected": item.get("expected")}
        verdict = [
            {"role": "system", "content": judge["system"]},
            {"role": "user", "content": json.dumps(document, ensure_ascii=False, default=str)},
        ]
        await call(
            judge["model"],
            verdict,
            response_format=judge["response_format"],
            **judge["params"],
        )

    try:
        await asyncio.gather(*(one(item) for item in items))
    finally:
        await client.close()
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", required=True, help="the prompt YAML")
    parser.add_argument("--dataset", required=True, help="the dataset JSONL")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    started = time.perf_counter()
    with open(args.prompt, encoding="utf-8") as f:
        prompt = yaml.safe_load(f)
    with open(args.dataset, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    errors = asyncio.run(run(prompt, items, args.concurrency))
    wall = time.perf_counter() - started
    print(json.dumps({"items": len(items), "errors": errors, "wall_s": round(wall, 3)}))


if __name__ == "__main__":
    main()
