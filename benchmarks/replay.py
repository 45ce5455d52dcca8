"""The floor: replay the very requests a promptloop run sent, with plain asyncio + the SDK.

Reads a JSONL file of *chains* (one line per dataset item: the item's answer request, then
its judge requests, each the JSON body the model server received from promptloop) that
``eval_fast_model.py`` captured, and sends them through one ``AsyncOpenAI``
(``max_retries=0``) from ``--concurrency`` workers: each worker takes the next item and
sends its requests one after the other, as promptloop's runner does. The endpoint comes
from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``. Prints one JSON line:
``{"items": N, "calls": C, "errors": E, "wall_s": ...}``.

    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=x \\
        python benchmarks/replay.py --chains chains.jsonl --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import openai


async def replay(chains: list[list[dict[str, Any]]], concurrency: int) -> tuple[int, int]:
    """Send every chain's bodies as they were sent; returns (calls, errors)."""
    client = openai.AsyncOpenAI(
        base_url=os.environ["OPENAI_BASE_URL"],
        api_key=os.environ.get("OPENAI_API_KEY", "x"),
        max_retries=0,
        timeout=60.0,
    )
    pending = iter(chains)
    calls = errors = 0

    async def worker() -> None:
        nonlocal calls, errors
        for chain in pending:  # one iterator shared by the workers: each item once
            for body in chain:
                # Whatever is not a keyword of the SDK travels as it came: the same JSON.
                rest = {k: v for k, v in body.items() if k not in ("model", "messages")}
                calls += 1
                try:
                    completion = await client.chat.completions.create(
                        model=body["model"], messages=body["messages"], extra_body=rest or None
                    )
                except openai.OpenAIError as exc:
                    errors += 1
                    if errors <= 3:  # enough to see what is wrong
                        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
                    continue
                errors += not completion.choices or completion.choices[0].message.content is None

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(chains))))))
    finally:
        await client.close()
    return calls, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", required=True, help="the captured requests, JSONL")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    started = time.perf_counter()
    with open(args.chains, encoding="utf-8") as f:
        chains = [json.loads(line) for line in f if line.strip()]
    calls, errors = asyncio.run(replay(chains, args.concurrency))
    wall = time.perf_counter() - started
    print(json.dumps({"items": len(chains), "calls": calls, "errors": errors, "wall_s": wall}))


if __name__ == "__main__":
    main()
