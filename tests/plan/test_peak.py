"""Peak search (LoadGen's FindPeakPerformance): the kept Poisson draws change nothing."""

import dataclasses

import numpy as np
import pytest

from simbench.arrivals import PoissonArrivals, PoissonGapStream
from simbench.plan import peak
from simbench.profiles import load_profile
from simbench.schedule import schedule
from simbench.settings import Scenario, official_settings
from simbench.sim import sut_from_profile


def test_kept_draws_give_loadgen_schedule_to_the_ns():
    stream = PoissonGapStream(11)
    # growing, shrinking, min-query-bound and max-query-bound schedules, in a mixed order
    for qps, dur_ns, min_q, max_q in [(50.0, 10**9, 10, 0), (20_000.0, 3 * 10**9, 1000, 0),
                                      (900.0, 10**9, 5000, 0), (40_000.0, 10**9, 100, 7000),
                                      (33_333.3, 4 * 10**9, 100, 0)]:
        want = PoissonArrivals().times_ns(11, qps, dur_ns, min_q, max_q)
        got = stream.times_ns(qps, dur_ns, min_q, max_q)
        assert np.array_equal(want, got)
        assert np.array_equal(want, stream.times_ns(qps, dur_ns, min_q, max_q, reuse=True))


def test_peak_search_with_kept_draws_equals_fresh_schedules(monkeypatch):
    sut = sut_from_profile(load_profile("a100"), "resnet50", Scenario.Server)
    s = dataclasses.replace(official_settings("resnet50", "Server"), min_duration_ms=3000)
    fast = peak.find_peak_qps(s, sut)
    monkeypatch.setattr(peak, "_probe_schedule", lambda eff, arrivals: schedule(eff, arrivals))
    fresh = peak.find_peak_qps(s, sut)
    assert fast == fresh
    assert fast.peak_qps > 0.5 * peak.capacity_qps(sut)


def test_run_after_search_reuses_draws_and_equals_a_fresh_run():
    from simbench.arrivals import KeptPoissonArrivals
    from simbench.sim import simulate

    sut = sut_from_profile(load_profile("a100"), "resnet50", Scenario.Server)
    s = dataclasses.replace(official_settings("resnet50", "Server"), min_duration_ms=2000)
    found = peak.find_peak_qps(s, sut)
    at_peak = dataclasses.replace(s, server_target_qps=found.peak_qps)
    law = peak.kept_arrivals(at_peak)
    assert isinstance(law, KeptPoissonArrivals) and law.stream is not None
    kept, fresh = simulate(at_peak, sut, arrivals=law), simulate(at_peak, sut)
    for col in ("issue_ns", "start_ns", "complete_ns", "batch_id", "sample_index"):
        assert np.array_equal(getattr(kept.trace, col), getattr(fresh.trace, col))
    assert kept.trace.metadata["arrivals"] == fresh.trace.metadata["arrivals"] == {"kind": "poisson"}
