"""From a click to a counted vote: how long until a burst of Slack votes is in the ledger?

    .venv/bin/python benchmarks/vote_latency.py [--clicks 200] [--slack-ms 150] [--json]

A real ``promptloop gateway`` process (uvicorn, Bolt) on a fresh SQLite ledger (or
``--database-url``, an empty PostgreSQL database, used once) with two changes in review of ``--items`` items each, the fake Slack
Web API in this process answering each ephemeral reply after ``--slack-ms`` (Slack's own
latency: the gateway tells every voter what was recorded). ``--clicks`` signed Pass clicks
from distinct experts are sent at once, one thread and one connection each, on loopback.

For each click it reports the ack latency (sent → HTTP 200) and the **click → counted**
latency (sent → its vote committed, seen by a reader polling the ledger every 10 ms), as
p50/p95/max, and how many votes were counted 1, 2 and 5 s after the burst began.

``--before REV`` also runs the same burst, first, on the tree of commit REV (``git archive``
into a temporary directory: its own gateway and ledger code, this script copied in), and
prints both: e.g. ``--before d2e7c17``, the last commit before votes had their own lanes.
Bounded: at most 500 clicks, 120 s per burst; loopback only.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SECRET = "benchmark-signing-secret"
TIMEOUT_S = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=200, help="clicks at once (≤ 500)")
    parser.add_argument("--items", type=int, default=10, help="items per review (2 reviews)")
    parser.add_argument("--slack-ms", type=float, default=150.0, help="Slack's answer latency")
    parser.add_argument("--before", metavar="REV", help="also run on this commit's tree, first")
    parser.add_argument("--database-url", help="an empty PostgreSQL database instead of SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clicks = max(1, min(args.clicks, 500))
    items = max(1, min(args.items, 200))
    if clicks > 2 * items * 20:
        raise SystemExit(f"{clicks} clicks need more than 20 votes per item: raise --items")
    results = []
    if args.before:
        results.append(_on_tree(args.before, clicks, items, args.slack_ms, args.database_url))
    now = _one_burst(clicks, items, args.slack_ms, args.database_url)
    results.append({"run": _head(), **now})
    _report(results, clicks=clicks, items=items, slack_ms=args.slack_ms, as_json=args.json)


def _on_tree(
    rev: str, clicks: int, items: int, slack_ms: float, database_url: str | None
) -> dict[str, Any]:
    """The same burst on commit ``rev``'s code: its tree exported, this script run there."""
    with tempfile.TemporaryDirectory() as tree:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise SystemExit(f"git archive {rev}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        script = Path(tree) / "benchmarks" / "vote_latency.py"
        script.parent.mkdir(exist_ok=True)
        script.write_text(Path(__file__).read_text(encoding="utf-8"), encoding="utf-8")
        command = [sys.executable, str(script), "--json", "--clicks", str(clicks)]
        command += ["--items", str(items), "--slack-ms", str(slack_ms)]
        command += ["--database-url", database_url] if database_url else []
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
        if done.returncode != 0:
            raise SystemExit(f"the burst on {rev} failed:\n{done.stderr[-2000:]}")
        [run] = json.loads(done.stdout)["raw"]
        return {**run, "run": _short(rev)}


def _short(rev: str) -> str:
    found = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or rev


def _head() -> str:
    """This tree's commit, ``+`` when its code differs from it."""
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "integrations", "roles"],
        check=False,
    )
    name = _short("HEAD")
    return f"{name}+" if dirty.returncode else name


def _one_burst(
    clicks: int, items: int, slack_ms: float, database_url: str | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        saved = dict(os.environ)
        os.environ.update(_env(home, database_url))
        try:
            from fakes.slack_server import FakeSlackServer

            from integrations.db import reset_engines
            from integrations.settings import get_settings

            reset_engines()
            get_settings.cache_clear()
            with FakeSlackServer() as slack:
                os.environ["PROMPTLOOP_SLACK_API_URL"] = slack.api_url
                if slack_ms > 0:
                    slack.hang(
                        slack_ms / 1000, times=clicks, process=True, method="chat.postEphemeral"
                    )
                plan = _ledger(clicks, items)
                result = _measure(plan)
                answers = [c.params.get("text", "") for c in slack.calls_to("chat.postEphemeral")]
                refusals = [a for a in answers if not a.startswith("Recorded")]
                return {**result, "refused": refusals[:3], "refusals": len(refusals)}
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _env(home: str, database_url: str | None) -> dict[str, str]:
    env = {
        "PROMPTLOOP_HOME": home,
        "SLACK_BOT_TOKEN": "xoxb-benchmark",
        "SLACK_SIGNING_SECRET": SECRET,
        "PROMPTLOOP_SLACK_REVIEW_CHANNEL": "C0REVIEW",
        "PROMPTLOOP_SLACK_ALERTS_CHANNEL": "C0ALERTS",
        "PROMPTLOOP_SLACK_DEPLOY_CHANNEL": "C0DEPLOY",
        "PROMPTLOOP_AUTO_EVALUATE": "false",
        "PROMPTLOOP_WARM_CLI": "0",
        "PYTHONPATH": str(ROOT),
    }
    if database_url:
        env["PROMPTLOOP_DATABASE_URL"] = database_url
    return env


def _ledger(clicks: int, items: int) -> list[tuple[str, int]]:
    """Two changes in review, ``items`` items each, votes enough per item that the burst
    concludes neither; an expert per click: (Slack user, item) for every click."""
    from review_support import change_in_review, open_sampled_review
    from sqlmodel import Session, col, select

    from integrations.db import get_engine
    from integrations.slack.review import post_opened_review
    from roles.ledger import ReviewItem
    from roles.review.policy import ReviewPolicy
    from roles.roster import Person, sync_team

    policy = ReviewPolicy(items=items, votes_per_item=20, min_experts=1)
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
        users = [f"U8{n:05d}" for n in range(clicks)]
        people = [
            Person(handle=f"bench{n}", name=f"Bench {n}", roles=["expert"], slack_user_id=user)
            for n, user in enumerate(users)
        ]
        sync_team(session, people=people, deactivate_missing=False, **_as_admin())
        session.commit()
    return [(user, item_ids[n % len(item_ids)]) for n, user in enumerate(users)]


def _as_admin() -> dict[str, Any]:
    """The roster is an admin's to change (a tree from before that rule: anyone's)."""
    try:
        from roles.who import Who
    except ImportError:
        return {}
    return {"who": Who(handle="lee")}


def _measure(plan: list[tuple[str, int]]) -> dict[str, Any]:
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
        requests = [
            signed(click(user=u, action_id=ids.REVIEW_PASS, value=i), secret=SECRET)
            for u, i in plan
        ]
        members = _members([u for u, _ in plan])
        seen: dict[tuple[int, int], float] = {}
        stop = threading.Event()
        poller = threading.Thread(target=_poll, args=(seen, stop), daemon=True)
        poller.start()
        sent_ack = _burst(url, requests)
        started = min(sent for sent, _ in sent_ack)
        deadline = time.monotonic() + TIMEOUT_S
        while len(seen) < len(plan) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        poller.join(5)
    finally:
        gateway.terminate()
        try:
            gateway.wait(30)
        except subprocess.TimeoutExpired:
            gateway.kill()
            raise
    counted = []
    for (user, item), (sent, _) in zip(plan, sent_ack, strict=True):
        at = seen.get((members[user], item))
        counted.append(None if at is None else at - sent)
    return {
        "ack_s": [acked - sent for sent, acked in sent_ack],
        "counted_s": counted,
        "by_s": {
            str(s): sum(1 for at in seen.values() if at - started <= s) for s in (1, 2, 5, 10)
        },
        "lost": sum(1 for c in counted if c is None),
    }


def _members(users: list[str]) -> dict[str, int]:
    from sqlmodel import Session, col, select

    from integrations.db import get_engine
    from roles.ledger import Member

    with Session(get_engine()) as session:
        rows = session.exec(
            select(Member.slack_user_id, Member.id).where(col(Member.slack_user_id).in_(users))
        ).all()
    return {user: member_id for user, member_id in rows if user and member_id}


def _poll(seen: dict[tuple[int, int], float], stop: threading.Event) -> None:
    """Record when each vote is first visible to another reader of the ledger."""
    from sqlmodel import Session, col, select

    from integrations.db import get_engine
    from roles.ledger import Vote

    last = 0
    while not stop.is_set():
        with Session(get_engine()) as session:
            rows = session.exec(
                select(Vote.id, Vote.member_id, Vote.review_item_id)
                .where(col(Vote.id) > last)
                .order_by(col(Vote.id))
            ).all()
        now = time.perf_counter()
        for vote_id, member_id, item_id in rows:
            seen.setdefault((member_id, item_id), now)
            last = max(last, vote_id or 0)
        stop.wait(0.01)


def _url(gateway: subprocess.Popen[str]) -> str:
    assert gateway.stderr is not None
    for line in gateway.stderr:
        if "listening on" in line:
            # Keep reading its log, or it blocks once the pipe is full.
            threading.Thread(target=gateway.stderr.read, daemon=True).start()
            return line.split()[4]
    raise SystemExit(f"the gateway exited ({gateway.wait()}) before it listened")


def _burst(url: str, requests: list[tuple[str, dict[str, str]]]) -> list[tuple[float, float]]:
    """Send all at once, each on its own connection: (sent, acked) per click, in order."""
    ready = threading.Barrier(len(requests))

    def one(request: tuple[str, dict[str, str]]) -> tuple[float, float]:
        body, headers = request
        with httpx.Client(base_url=url, timeout=30) as client:
            ready.wait()
            sent = time.perf_counter()
            status = client.post("/slack/events", content=body, headers=headers).status_code
            acked = time.perf_counter()
        if status != 200:
            raise SystemExit(f"a click was answered HTTP {status}, not 200")
        return sent, acked

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(seconds: list[float | None]) -> dict[str, Any]:
    known = [s for s in seconds if s is not None]
    if not known:
        return {"n": 0, "p50_s": None, "p95_s": None, "max_s": None}
    return {
        "n": len(known),
        "p50_s": round(statistics.median(known), 3),
        "p95_s": round(_quantile(known, 0.95), 3),
        "max_s": round(max(known), 3),
    }


def _report(
    results: list[dict[str, Any]], *, clicks: int, items: int, slack_ms: float, as_json: bool
) -> None:
    rows = [
        {
            "run": r["run"],
            "ack": _row(r["ack_s"]),
            "counted": _row(r["counted_s"]),
            "counted_by_s": r["by_s"],
            "lost": r["lost"],
            "refused": r.get("refused", []),
        }
        for r in results
    ]
    header = {
        "clicks": clicks,
        "items_per_review": items,
        "slack_ms": slack_ms,
        "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
    }
    if as_json:
        print(json.dumps({**header, "runs": rows, "raw": results}, indent=2))
        return
    print(
        f"{clicks} signed clicks at once on 2 reviews of {items} items, Slack answering in "
        f"{slack_ms:.0f} ms ({header['cpus']} CPUs, load {header['load']})"
    )
    print(f"{'':14}{'':10}{'p50 s':>8}{'p95 s':>8}{'max s':>8}   counted by 1/2/5/10 s")
    for row in rows:
        by = "/".join(str(row["counted_by_s"][k]) for k in ("1", "2", "5", "10"))
        for kind in ("ack", "counted"):
            r = row[kind]
            cells = "".join(
                f"{r[k] if r[k] is not None else '-':>8}" for k in ("p50_s", "p95_s", "max_s")
            )
            tail = (
                f"   {by}" + (f"  ({row['lost']} lost)" if row["lost"] else "")
                if kind == "counted"
                else ""
            )
            print(f"{row['run']:14}{kind:10}{cells}{tail}")
    print("'counted': from a click's send to its vote committed (a reader polling every 10 ms).")
    for row in rows:
        for text in row["refused"]:
            print(f"{row['run']}: a voter was told: {text}")


if __name__ == "__main__":
    main()
