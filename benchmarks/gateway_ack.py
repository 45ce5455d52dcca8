"""How fast does the Slack gateway acknowledge a burst of clicks?

    .venv/bin/python benchmarks/gateway_ack.py [--clicks 50] [--rounds 3] [--json]

A real ``promptloop gateway`` process (uvicorn, Bolt) on a fresh SQLite ledger (or
``--database-url``) with two changes in review, the fake Slack Web API in this process.
Each round sends, ``--clicks`` at once (one thread and one connection each):

- ``GET /healthz``: the baseline, a request that reads the ledger (``SELECT 1``);
- a forged click: Bolt's signature check refuses it (401), the cheapest POST;
- signed Pass clicks from distinct experts on distinct items: acked, then voted.

and reports ack latency p50/p99/max per kind and its ratio to the baseline, plus how long
the acknowledged votes took to be in the ledger.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SECRET = "benchmark-signing-secret"

Request = Callable[[httpx.Client], int]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50, help="requests at once (≤ 50)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="a PostgreSQL ledger instead of SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clicks = min(args.clicks, 50)
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(_env(home, args.database_url))
        from fakes.slack_server import FakeSlackServer

        with FakeSlackServer() as slack:
            os.environ["PROMPTLOOP_SLACK_API_URL"] = slack.api_url
            items = _ledger(clicks, args.rounds)
            results = _measure(items, clicks, args.rounds)
    _report(results, clicks, args.rounds, as_json=args.json)


def _env(home: str, database_url: str | None) -> dict[str, str]:
    env = {
        "PROMPTLOOP_HOME": home,
        "SLACK_BOT_TOKEN": "xoxb-benchmark",
        "SLACK_SIGNING_SECRET": SECRET,
        "PROMPTLOOP_SLACK_REVIEW_CHANNEL": "C0REVIEW",
        "PROMPTLOOP_SLACK_ALERTS_CHANNEL": "C0ALERTS",
        "PROMPTLOOP_SLACK_DEPLOY_CHANNEL": "C0DEPLOY",
        "PROMPTLOOP_AUTO_EVALUATE": "false",
        "PYTHONPATH": str(ROOT),
    }
    if database_url:
        env["PROMPTLOOP_DATABASE_URL"] = database_url
    return env


def _ledger(clicks: int, rounds: int) -> list[tuple[str, int]]:
    """Two changes in review, ``clicks`` items between them, an expert per click and round:
    (Slack user, item) for every click to send, round after round."""
    from review_support import change_in_review, open_sampled_review
    from sqlmodel import Session, col, select

    from integrations.db import get_engine
    from integrations.slack.review import post_opened_review
    from roles.ledger import ReviewItem
    from roles.review.policy import ReviewPolicy
    from roles.roster import Person, sync_team
    from roles.who import Who

    policy = ReviewPolicy(items=(clicks + 1) // 2, votes_per_item=rounds + 1)
    item_ids: list[int] = []
    with Session(get_engine(), expire_on_commit=False) as session:
        for variant in ("", "bench"):
            review = open_sampled_review(
                session, change_in_review(session, variant=variant), policy
            )
            post_opened_review(session, review=review, reasons=["ok: benchmark"])
            session.commit()
            query = select(ReviewItem.id).where(ReviewItem.review_id == review.id)
            item_ids += [i for i in session.exec(query.order_by(col(ReviewItem.position))) if i]
        users = [f"U8{n:05d}" for n in range(clicks * rounds)]
        people = [
            Person(handle=f"bench{n}", name=f"Bench {n}", roles=["expert"], slack_user_id=user)
            for n, user in enumerate(users)
        ]
        sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
        session.commit()
    return [(user, item_ids[n % clicks]) for n, user in enumerate(users)]


def _measure(items: list[tuple[str, int]], clicks: int, rounds: int) -> dict[str, list[float]]:
    from integrations.slack import ids
    from integrations.slack.signing import click, signed

    gateway = subprocess.Popen(
        [sys.executable, "-m", "promptloop", "gateway", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _url(gateway)
        results: dict[str, list[float]] = {"healthz": [], "forged click": [], "signed click": []}
        votes_in: list[float] = []
        for round_ in range(rounds):
            mine = items[round_ * clicks : (round_ + 1) * clicks]
            requests = [
                signed(click(user=u, action_id=ids.REVIEW_PASS, value=i), secret=SECRET)
                for u, i in mine
            ]
            forged = [
                signed(click(user=u, action_id=ids.REVIEW_PASS, value=i), secret="x")
                for u, i in mine
            ]
            results["healthz"] += _burst(
                url, [lambda c: c.get("/healthz").status_code] * clicks, 200
            )
            results["forged click"] += _burst(url, [_post(b, h) for b, h in forged], 401)
            started = time.perf_counter()
            results["signed click"] += _burst(url, [_post(b, h) for b, h in requests], 200)
            votes_in.append(_until_votes(clicks * (round_ + 1)) - started)
        results["votes in the ledger"] = votes_in
        return results
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
            raise


def _url(gateway: subprocess.Popen[str]) -> str:
    assert gateway.stderr is not None
    for line in gateway.stderr:
        if "listening on" in line:
            # Keep reading its log, or it blocks once the pipe is full.
            threading.Thread(target=gateway.stderr.read, daemon=True).start()
            return line.split()[4]
    raise SystemExit(f"the gateway exited ({gateway.wait()}) before it listened")


def _post(body: str, headers: dict[str, str]) -> Request:
    return lambda client: client.post("/slack/events", content=body, headers=headers).status_code


def _burst(url: str, requests: list[Request], expected: int) -> list[float]:
    """Send all at once, each on its own connection; the seconds each took to be answered."""

    def one(request: Request) -> float:
        with httpx.Client(base_url=url, timeout=30) as client:
            started = time.perf_counter()
            status = request(client)
            took = time.perf_counter() - started
        if status != expected:
            raise SystemExit(f"expected HTTP {expected}, got {status}")
        return took

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def _until_votes(count: int, timeout_s: float = 120) -> float:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from integrations.db import get_engine
    from roles.ledger import Vote

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with Session(get_engine()) as session:
            if session.exec(select(func.count()).select_from(Vote)).one() >= count:
                return time.perf_counter()
        time.sleep(0.02)
    raise SystemExit(f"fewer than {count} votes after {timeout_s:.0f} s")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _report(results: dict[str, list[float]], clicks: int, rounds: int, *, as_json: bool) -> None:
    base50 = statistics.median(results["healthz"])
    base99 = _quantile(results["healthz"], 0.99)
    rows = []
    for kind, seconds in results.items():
        p50, p99 = statistics.median(seconds), _quantile(seconds, 0.99)
        latency = kind != "votes in the ledger"  # a duration of work, not of one request
        rows.append(
            {
                "kind": kind,
                "n": len(seconds),
                "p50_ms": round(p50 * 1000, 1),
                "p99_ms": round(p99 * 1000, 1),
                "max_ms": round(max(seconds) * 1000, 1),
                "p50_x_healthz": round(p50 / base50, 2) if latency else "-",
                "p99_x_healthz": round(p99 / base99, 2) if latency else "-",
            }
        )
    if as_json:
        print(json.dumps({"clicks": clicks, "rounds": rounds, "rows": rows}, indent=2))
        return
    print(
        f"{clicks} requests at once, {rounds} rounds, one connection each ({os.cpu_count()} CPUs)"
    )
    print(f"{'':22}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p50 ×':>8}{'p99 ×':>8}")
    for row in rows:
        print(
            f"{row['kind']:22}{row['n']:>5}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['max_ms']:>9}"
            f"{row['p50_x_healthz']:>8}{row['p99_x_healthz']:>8}"
        )
    print("'votes in the ledger': from the first click of a burst to its last vote committed.")


if __name__ == "__main__":
    main()
