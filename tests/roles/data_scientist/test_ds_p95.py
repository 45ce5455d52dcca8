"""p95 latency is computed without numpy; it must agree with numpy's default percentile."""

from __future__ import annotations

import random

import numpy as np
import pytest

from roles.data_scientist.metrics import p95_latency
from roles.data_scientist.scores import Sample


@pytest.mark.parametrize("n", [1, 2, 7, 30, 1000])
def test_p95_matches_numpy(n: int) -> None:
    rng = random.Random(n)
    latencies = [rng.uniform(0.01, 3.0) for _ in range(n)]
    samples = [Sample(item_id=str(i), output="x", latency_s=v) for i, v in enumerate(latencies)]
    assert p95_latency(samples) == pytest.approx(float(np.percentile(latencies, 95)))
