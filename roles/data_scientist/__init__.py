"""The data scientist's evals: scores, scorers, metrics, paired statistics, gates, suites.

Importing the package registers the built-in scorers.
"""

from roles.data_scientist import budgets, deterministic, judge, structured
from roles.data_scientist.agreement import ExpertAgreement, expert_agreement, majority
from roles.data_scientist.calibration import Estimate, JudgeAgreement, by_slice, judge_agreement
from roles.data_scientist.checks import CheckOutcome, CheckResult
from roles.data_scientist.comparison import Comparison, Outcome, compare
from roles.data_scientist.gaps import CoverageGap, GapPolicy, coverage_gaps
from roles.data_scientist.gate import (
    GatePolicy,
    Guardrail,
    Target,
    Threshold,
    Verdict,
    evaluate_gate,
)
from roles.data_scientist.judge import judge_request, llm_judge, parse_judge_answer
from roles.data_scientist.metrics import BUILTIN_METRICS
from roles.data_scientist.registry import (
    ScoreContext,
    ScoreFn,
    Scorer,
    SyncScoreFn,
    build_scorer,
    known_scorers,
    scorer,
)
from roles.data_scientist.scorecard import MetricSummary, RunSummary, Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, MetricKind, Sample, Score
from roles.data_scientist.statistics import StatsSettings
from roles.data_scientist.suite import Suite, default_suite, parse_suite
from roles.data_scientist.trust import (
    CalibrationPolicy,
    TrustPolicy,
    TrustVerdict,
    calibration_policy_from_suite,
    trust,
)

__all__ = [
    "BUILTIN_METRICS",
    "CalibrationPolicy",
    "CheckOutcome",
    "CheckResult",
    "Comparison",
    "CoverageGap",
    "Estimate",
    "ExpertAgreement",
    "GapPolicy",
    "GatePolicy",
    "Guardrail",
    "ItemResult",
    "JudgeAgreement",
    "MetricInfo",
    "MetricKind",
    "MetricSummary",
    "Outcome",
    "RunSummary",
    "Sample",
    "Score",
    "ScoreContext",
    "ScoreFn",
    "Scorecard",
    "Scorer",
    "StatsSettings",
    "Suite",
    "SyncScoreFn",
    "Target",
    "Threshold",
    "TrustPolicy",
    "TrustVerdict",
    "Verdict",
    "budgets",
    "build_scorecard",
    "build_scorer",
    "by_slice",
    "calibration_policy_from_suite",
    "compare",
    "coverage_gaps",
    "default_suite",
    "deterministic",
    "evaluate_gate",
    "expert_agreement",
    "judge",
    "judge_agreement",
    "judge_request",
    "known_scorers",
    "llm_judge",
    "majority",
    "parse_judge_answer",
    "parse_suite",
    "scorer",
    "structured",
    "trust",
]
