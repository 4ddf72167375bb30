"""Production traffic: shipped traces by name, rescaling, diurnal rate; bursty arrivals raise
p99 and lower the peak at equal mean rate."""

import dataclasses
import math

import numpy as np
import pytest

from simbench.arrivals import NAMED_TRACES, DiurnalArrivals, parse_arrivals
from simbench.plan.spec import RunSpec, peak_for_spec, run_point


@pytest.mark.parametrize("name,rows,native_qps,cv", [("azure-conv", 19_366, 5.530, 1.094), ("azure-code", 8_819, 2.566, 13.15),
                                                     ("mooncake", 12_031, 3.399, None)])
def test_named_traces_replay_with_their_recorded_statistics(name, rows, native_qps, cv):
    law = parse_arrivals(f"trace:{name}")
    assert law.gaps.size == rows - 1 and law.native_rate_qps == pytest.approx(native_qps, rel=1e-3)
    if cv is not None:  # SOURCE.md's figures, computed independently with Python's csv module
        assert law.cv == pytest.approx(cv, rel=2e-3)
    native = parse_arrivals(f"trace:{name}@native")
    span_ns = int((rows - 1) / native_qps * 1e9)
    t = native.times_ns(1, 123.0, span_ns, 10)  # the 123 QPS asked is ignored: the recorded timing
    assert abs(len(t) - rows) <= max(1, rows // 1000)  # whole-ns truncation of each gap
    fixed = parse_arrivals(f"trace:{name}@20000")
    t = fixed.times_ns(1, 5.0, 10**10, 10)
    assert (len(t) - 1) / (t[-1] / 1e9) == pytest.approx(20000, rel=0.05 if cv and cv > 5 else 0.01)


def test_diurnal_count_matches_the_integrated_rate():
    law = parse_arrivals("diurnal:peak_to_mean=1.8,period_s=20")
    assert law == DiurnalArrivals(1.8, 20.0)
    t = law.times_ns(3, 5000.0, 15 * 10**9, 10)
    # N(0, T) = r (T + A P / (2 pi) (1 - cos(2 pi T / P))), A = 0.8, P = 20 s, T = 15 s
    expected = 5000 * (15 + 0.8 * 20 / (2 * math.pi) * (1 - math.cos(2 * math.pi * 15 / 20)))
    assert len(t) == pytest.approx(expected, rel=0.01)
    first_half = np.count_nonzero(t < 10 * 10**9)  # the rising half carries more than half
    assert first_half / 5000 == pytest.approx(10 + 0.8 * 20 / math.pi, rel=0.01)


@pytest.mark.parametrize("bad,msg", [("trace:nosuch.csv", "cannot read"), ("trace:azure-conv@-5", "rate > 0"),
                                     ("diurnal:peak_to_mean=3", "expected 1..2"), ("diurnal:width=2", "peak_to_mean=R")])
def test_bad_traffic_specs(bad, msg):
    with pytest.raises(ValueError, match=msg):
        parse_arrivals(bad)


def test_bursty_arrivals_raise_p99_and_lower_the_peak_at_equal_mean():
    base = RunSpec(profile="a100", min_duration_s=20)
    at = dataclasses.replace(base, target_qps=36000.0)  # near capacity (at 30000 the 4 ms timeout dominates p99)
    p99 = {a: run_point(dataclasses.replace(at, arrival=a), required_queries=False).row["result_99.00_percentile_latency_ns"]
           for a in ("poisson", "gamma:2")}
    assert p99["gamma:2"] > 1.3 * p99["poisson"]
    peaks = {a: peak_for_spec(dataclasses.replace(base, arrival=a))[0].peak_qps for a in ("poisson", "gamma:2")}
    assert peaks["gamma:2"] < peaks["poisson"]
    assert set(NAMED_TRACES) == {"azure-conv", "azure-code", "mooncake"}
