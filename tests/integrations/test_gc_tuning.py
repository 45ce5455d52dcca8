"""The collector is tuned while runs are in progress and restored when the last one ends."""

from __future__ import annotations

import gc

from integrations.gc_tuning import YOUNG_THRESHOLD, tuned_gc


def test_nested_runs_restore_the_collector_only_when_the_last_ends() -> None:
    before = gc.get_threshold()
    with tuned_gc():
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] >= YOUNG_THRESHOLD
        with tuned_gc():
            pass
        # the inner run ended: the outer one still runs with the tuned collector
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] >= YOUNG_THRESHOLD
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_objects_a_run_creates_are_still_collected() -> None:
    class Node:
        pass

    with tuned_gc():
        cycle = Node()
        cycle.self = cycle  # type: ignore[attr-defined]
        del cycle
        assert gc.collect() > 0
