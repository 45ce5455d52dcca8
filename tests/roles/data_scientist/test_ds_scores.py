"""Score and Sample invariants, and the pure metric functions."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from roles.calls import ChatResult
from roles.data_scientist import metrics
from roles.data_scientist.scores import Sample, Score


def sample(item_id: str = "a", **kw: object) -> Sample:
    if "error" not in kw:
        kw.setdefault("output", "ok")
    return Sample(item_id=item_id, **kw)  # type: ignore[arg-type]


def test_score_from_check_is_binary() -> None:
    assert Score.from_check(True).value == 1.0
    assert Score.from_check(False, "nope").passed is False


def test_unscored_is_explicit_and_never_a_zero() -> None:
    s = Score.could_not_score("no expected", raw_answer="???")
    assert s.unscored and s.value is None and s.passed is None and s.raw_answer == "???"
    with pytest.raises(ValidationError):
        Score(unscored=True, value=0.0, reason="x")
    with pytest.raises(ValidationError):
        Score(unscored=True)  # a reason is required
    with pytest.raises(ValidationError):
        Score()  # neither a value nor a verdict
    with pytest.raises(ValidationError):
        Score(value=float("nan"))


def test_sample_needs_exactly_one_of_output_and_error() -> None:
    with pytest.raises(ValidationError):
        Sample(item_id="a")
    with pytest.raises(ValidationError):
        Sample(item_id="a", output="x", error="boom")
    assert Sample(item_id="a", output="").output == ""


def test_sample_from_chat_result() -> None:
    ok = ChatResult(text="hi", latency_s=0.5, cost_usd=None, input_tokens=3, output_tokens=1)
    s = Sample.from_result(ok, item_id="1", input={"q": "x"}, tags=["t"])
    assert (s.output, s.error, s.cost_usd, s.latency_s, s.tags) == ("hi", None, None, 0.5, ["t"])
    failed = Sample.from_result(ChatResult(error="timeout"), item_id="2", input={})
    assert failed.output is None and failed.error == "timeout"


def test_metrics_are_safe_on_empty_lists() -> None:
    assert metrics.mean([]) is None
    assert metrics.pass_rate([]) is None
    assert metrics.unscored_count([]) == 0
    assert metrics.error_rate([]) is None
    assert metrics.p95_latency([]) is None
    assert metrics.mean_cost([]) is None


def test_score_metrics_skip_unscored() -> None:
    scores = [
        Score.from_check(True),
        Score.from_check(False),
        Score(value=0.5),
        Score.could_not_score("x"),
    ]
    assert metrics.mean(scores) == pytest.approx(0.5)
    assert metrics.pass_rate(scores) == pytest.approx(0.5)
    assert metrics.unscored_count(scores) == 1


def test_sample_metrics() -> None:
    samples = [sample(str(i), latency_s=float(i), cost_usd=0.01) for i in range(1, 21)] + [
        sample("err", error="boom", latency_s=99.0)
    ]
    assert metrics.error_rate(samples) == pytest.approx(1 / 21)
    assert metrics.p95_latency(samples) == pytest.approx(np.percentile(range(1, 21), 95))
    assert metrics.mean_cost(samples) == pytest.approx(0.01)
    assert metrics.mean_cost([*samples, sample("u", cost_usd=None)]) is None


def test_builtin_scores() -> None:
    ok = metrics.builtin_scores(sample(latency_s=1.5, cost_usd=None))
    assert ok["error_rate"].value == 0.0 and ok["latency_s"].value == 1.5
    assert ok["cost_per_item"].unscored
    failed = metrics.builtin_scores(sample(error="boom"))
    assert failed["error_rate"].value == 1.0 and failed["latency_s"].unscored
