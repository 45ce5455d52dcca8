"""The team's handoff metrics, read from the ledger (nothing here writes)::

report = handoff_metrics(session, since=parse_since("7d", now=utcnow()), prompt=None)
report.states        # per state: waiting now, time spent there (n, median, p90)
report.holders       # who holds the changes (role, person), and for how long
report.lead_time     # submitted → deployed
report.sent_back     # the share of changes sent back, and why
"""

from roles.metrics.failures import FAILURE_SIGNALS, failed_deploys
from roles.metrics.report import HandoffMetrics, handoff_metrics
from roles.metrics.stays import Durations, durations
from roles.metrics.window import parse_since

__all__ = [
    "FAILURE_SIGNALS",
    "Durations",
    "HandoffMetrics",
    "durations",
    "failed_deploys",
    "handoff_metrics",
    "parse_since",
]
