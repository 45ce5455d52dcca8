"""``promptloop judge``: the LLM judges against people's labels — list, calibrate, report, export.

A judge is its full spec (rubric, choices, threshold, model, parameters); its id is a hash
of that spec, so a changed rubric is a new judge with no track record. Only a trusted
judge's metric decides a gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say, styled, table

app = typer.Typer(help="LLM judges, calibrated against the experts.", no_args_is_help=True)

JudgeArg = Annotated[str, typer.Argument(metavar="JUDGE", help="A judge id (or prefix) or label.")]


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "-"
    bounds = f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else ""
    return f"{value:.2f}{bounds}"


def _trusted(row: dict[str, Any]) -> str:
    return (
        "yes"
        if row["trusted"]
        else "no" + (" (never calibrated)" if not row.get("calibrated_at") else "")
    )


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every LLM judge in a suite, with its latest calibration: n, κ [interval], trusted."""
    from roles.calibration.report import judge_rows

    with session_scope() as session:
        rows = [_with_id(r) for r in judge_rows(session)]
    if as_json:
        emit_json(rows)
        return
    table(
        None,
        ["id", "scorer label", "prompts", "n", "κ [low, high]", "trusted"],
        [
            [
                r["id"],
                r["label"],
                ", ".join(r["prompts"]),
                r["n"],
                _interval(r["kappa"], r["kappa_low"], r["kappa_high"]),
                _trusted(r),
            ]
            for r in rows
        ],
    )


def _with_id(row: dict[str, Any]) -> dict[str, Any]:
    """A judge's row as `judge list` shows it: its id under ``id``, as in the table."""
    rest = {k: v for k, v in row.items() if k != "judge_id"}
    return {"id": row["judge_id"], **rest}


@app.command("calibrate")
def calibrate(
    judge: Annotated[str | None, typer.Argument(metavar="[JUDGE]", help="Default: all.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="With serve up: wait for its run to finish.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run calibrate-judges now: on `promptloop serve` when it is up, else in this process."""
    from promptloop.runtime import control

    if judge is not None:  # a judge that does not exist is refused here, not in a flow run
        from roles.calibration.catalog import find_judge

        with session_scope() as session:
            judge = find_judge(session, judge).judge.judge_id
    running = control.status()
    if running is not None and running.get("ready"):
        control.use(running)
        result = _on_serve(judge, wait=wait)
    else:
        result = _in_process(judge)
    if as_json:
        emit_json(result)
    else:
        if result.get("flow_run_id"):
            say(f"calibrate-judges run {result['flow_run_id']}: {result['state']}")
        for row in result.get("judges", []):
            say(_calibrated_line(row))
    if result["state"] in ("Failed", "Crashed"):
        from roles.errors import InternalError

        raise InternalError(
            f"the calibrate-judges run {result['flow_run_id']} ended {result['state']}: "
            f"{result.get('message') or 'its log is in the Prefect UI'}"
        )


def _calibrated_line(row: dict[str, Any]) -> str:
    verdict = "trusted" if row["trusted"] else f"not trusted ({'; '.join(row['reasons'])})"
    changed = " — changed" if row.get("changed") else ""
    kappa = _interval(row["kappa"], row["kappa_low"], row["kappa_high"])
    return (
        f"judge {row['judge_id']} ({row['label']}): n={row['n']}{_counted(row)} κ {kappa}: "
        f"{verdict}{changed}"
    )


def _counted(row: dict[str, Any]) -> str:
    """`` (effective 24.3, 5 picks left out)``: what weighted pairs count as, and the
    purposeful picks people labelled that calibrate nothing."""
    parts = []
    if row.get("n_effective") is not None:
        parts.append(f"effective {row['n_effective']:.1f}")
    if row.get("picks_left_out"):
        parts.append(f"{row['picks_left_out']} picks left out")
    return f" ({', '.join(parts)})" if parts else ""


def _on_serve(judge: str | None, *, wait: bool) -> dict[str, Any]:
    from prefect.deployments import run_deployment

    from flows.calibrate_judges import FLOW_NAME
    from integrations.pipeline_runs import deployment_name

    run: Any = run_deployment(
        f"{FLOW_NAME}/{deployment_name()}",
        parameters={"judge": judge, "trigger": "cli"},
        timeout=None if wait else 0,
        as_subflow=False,
    )
    state = run.state.name if run.state else "Scheduled"
    result: dict[str, Any] = {
        "flow_run_id": str(run.id),
        "state": state,
        "where": "serve",
        "message": run.state.message if run.state else None,
    }
    if wait:
        result["judges"] = _rows_of_run(str(run.id))
    return result


def _rows_of_run(flow_run_id: str) -> list[dict[str, Any]]:
    from sqlmodel import select

    from roles.calibration.report import record_row
    from roles.ledger import CalibrationRecord

    with session_scope() as session:
        records = session.exec(
            select(CalibrationRecord).where(CalibrationRecord.flow_run_id == flow_run_id)
        ).all()
        return [record_row(r) for r in records]


def _in_process(judge: str | None) -> dict[str, Any]:
    import os

    from integrations.prefect_server import ensure_server, server_env

    os.environ.update(server_env(ensure_server()))  # the home's server, not a temporary one
    from flows.calibrate_judges import calibrate_judges

    state: Any = calibrate_judges(judge=judge, trigger="cli", return_state=True)
    rows = state.result() if state.is_completed() else []
    return {
        "flow_run_id": str(state.state_details.flow_run_id),
        "state": state.name,
        "where": "in process",
        "message": state.message,
        "judges": rows,
    }


@app.command("report")
def report(judge: JudgeArg, as_json: JsonOpt = False) -> None:
    """Metrics with intervals, confusion matrix, expert agreement, and the disagreements."""
    from roles.calibration.report import judge_report

    with session_scope() as session:
        view = judge_report(session, judge=judge)
    if as_json:
        emit_json(view)
        return
    out.print(
        styled(
            (f"judge {view['judge_id']}", "bold"),
            f" ({view['label']}) in {', '.join(view['prompts']) or '-'}: {view['spec']['model']}",
        )
    )
    record = view["calibration"]
    if record is None:
        out.print("not calibrated yet: `promptloop judge calibrate` (not trusted until then)")
    else:
        _print_record(record)
    now = view["labels_now"]
    out.print(
        f"labels now: {now['pairs']} pairs ({now['from_votes']} from votes, "
        f"{now['from_dataset']} from datasets), {now['unscored']} unscored, "
        f"{now['ties']} ties, {now['picks_left_out']} purposeful picks left out (shown for "
        "learning, never in the metrics)"
    )
    if view["disagreements"]:
        table(
            "disagreements (fail = the positive class)",
            ["item", "source", "judge", "people", "votes", "review item", "run"],
            [
                [
                    p["item_id"],
                    p["source"] if p["counted"] else f"{p['source']} (pick, not counted)",
                    p["judge"],
                    p["human"],
                    ", ".join(f"{e}: {v}" for e, v in p["votes"].items()) or "-",
                    p["review_item_id"],
                    p["run_id"],
                ]
                for p in view["disagreements"]
            ],
        )


def _print_record(record: dict[str, Any]) -> None:
    verdict = "trusted" if record["trusted"] else f"not trusted: {'; '.join(record['reasons'])}"
    out.print(f"{verdict} (calibrated {record['calibrated_at']}, {record['trigger']})")
    metrics = record["metrics"]
    level = (
        f"{metrics['confidence']:.0%} {metrics.get('interval') or 'bootstrap'}, "
        f"{metrics['resamples']} draws, seed {metrics['seed']}"
    )
    table(
        f"against people, n={record['n']}{_counted(record)} ({level})",
        ["metric", "value [low, high]"],
        [
            [name, _interval(**metrics[name])]
            for name in ("kappa", "precision", "recall", "f1", "accuracy")
        ],
    )
    c = record["confusion"]
    table(
        "confusion (rows: judge; columns: people)",
        ["", "people fail", "people pass"],
        [["judge fail", c["tp"], c["fp"]], ["judge pass", c["fn"], c["tn"]]],
    )
    experts = record["expert_agreement"]
    n = experts["n_items"]
    items = f"{n} item{'s' if n != 1 else ''} with two or more votes"
    if experts["value"] is None:
        out.print(f"experts among themselves: not measurable ({items}, or every vote the same)")
        return
    method = _METHODS.get(experts["method"], experts["method"])
    out.print(
        f"experts among themselves: {method} {experts['value']:.2f} on {items}, "
        f"{experts['n_raters']} experts"
    )


_METHODS = {"cohen": "Cohen's κ", "fleiss": "Fleiss' κ", "krippendorff": "Krippendorff's α"}


@app.command("export")
def export(
    judge: JudgeArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A JSONL file (default: stdout).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The judge's labelled pairs as JSONL, one pair per line (for a notebook)."""
    from roles.calibration.report import export_pairs

    with session_scope() as session:
        known, pairs = export_pairs(session, judge=judge)
    text = "".join(json.dumps(p, ensure_ascii=False, default=str) + "\n" for p in pairs)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        say(f"{len(pairs)} labelled pairs of judge {known.judge.judge_id} written to {output}")
    if as_json:
        emit_json(
            {
                "judge_id": known.judge.judge_id,
                "label": known.judge.label,
                "pairs": pairs,
                "output": str(output) if output else None,
            }
        )
    elif output is None:
        sys.stdout.write(text)
