"""Do the judge-calibration intervals cover the truth as often as they say?

    .venv/bin/python benchmarks/calibration_coverage.py   # --samples 2000 --resamples 1000 --json

A known population of (judge, human) verdicts — by default 30 % of items fail by people's
judgement, the judge catches 80 % of them (recall) and 70 % of its fails are real
(precision); κ is then 0.627 — is sampled ``--samples`` times at each n (seeded: the counts
of n iid pairs are multinomial). Every sample goes through
``roles.data_scientist.calibration.agreement_from_counts`` with each interval method, and the
table shows, per metric, n and method: the nominal level, the share of intervals that
contain the population's value (± its Monte-Carlo standard error), the mean width, and the
share of samples where the metric or its interval was undefined (those count as not
covering). Three methods: the Jeffreys posterior (the default) and, to compare, the BCa and
percentile bootstraps. ``--prevalence 0.1 --recall 0.95 --precision 0.8`` is the case that
tells them apart (failures rare). It is a measurement: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roles.data_scientist.calibration import METRICS, agreement_from_counts, cell_metrics


def population(prevalence: float, recall: float, precision: float) -> np.ndarray:
    tp = prevalence * recall
    cells = np.array([tp, tp * (1 - precision) / precision, prevalence - tp, 0.0])
    cells[3] = 1 - cells.sum()
    if (cells < 0).any():
        raise SystemExit(f"no population has these rates: cells {cells.round(4).tolist()}")
    return cells


def measure(args: argparse.Namespace) -> list[dict[str, object]]:
    cells = population(args.prevalence, args.recall, args.precision)
    truth = {k: float(v) for k, v in cell_metrics(np.round(cells * 1e9)).items()}
    rows: list[dict[str, object]] = []
    for n in args.n:
        samples = np.random.default_rng(args.seed + n).multinomial(n, cells, size=args.samples)
        for method in ("Jeffreys", "BCa", "percentile"):
            started = time.perf_counter()
            covered = dict.fromkeys(METRICS, 0)
            undefined = dict.fromkeys(METRICS, 0)
            widths: dict[str, list[float]] = {m: [] for m in METRICS}
            for index, (tp, fp, fn, tn) in enumerate(samples.tolist()):
                agreement = agreement_from_counts(tp, fp, fn, tn, resamples=args.resamples,
                                                  seed=index, confidence=args.confidence,
                                                  method=method)  # fmt: skip
                for name in METRICS:
                    low, high = getattr(agreement, name).low, getattr(agreement, name).high
                    if low is None or high is None:
                        undefined[name] += 1
                        continue
                    covered[name] += low <= truth[name] <= high
                    widths[name].append(high - low)
            seconds = time.perf_counter() - started
            for name in METRICS:
                share = covered[name] / args.samples
                rows.append({
                    "metric": name, "n": n, "method": method, "true": truth[name],
                    "nominal": args.confidence, "coverage": share,
                    "mc_se": math.sqrt(share * (1 - share) / args.samples),
                    "mean_width": float(np.mean(widths[name])) if widths[name] else None,
                    "undefined": undefined[name] / args.samples,
                    "ms_per_call": 1000 * seconds / args.samples,
                })  # fmt: skip
    return rows


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| metric | true | n | method | nominal | coverage | mean width | undefined |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in sorted(rows, key=lambda r: (METRICS.index(str(r["metric"])), r["n"], r["method"])):
        width = "–" if r["mean_width"] is None else f"{r['mean_width']:.3f}"
        lines.append(
            f"| {r['metric']} | {r['true']:.3f} | {r['n']} | {r['method']} | {r['nominal']:.0%} "
            f"| {r['coverage']:.1%} ± {r['mc_se']:.1%} | {width} | {r['undefined']:.1%} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, nargs="+", default=[30, 50, 100, 200], help="pairs per sample"
    )
    parser.add_argument("--samples", type=int, default=2000, help="simulated samples per n")
    parser.add_argument(
        "--resamples", type=int, default=1000, help="draws (posterior or bootstrap) per interval"
    )
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--prevalence", type=float, default=0.3, help="share of items people fail")
    parser.add_argument("--recall", type=float, default=0.8)
    parser.add_argument("--precision", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = measure(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(table(rows))
    calls = len(args.n) * 3 * args.samples
    print(f"\n{calls} calls of agreement_from_counts ({args.resamples} resamples each) in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
