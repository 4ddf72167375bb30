"""Server arrival laws: gap statistics against their definitions, D/D/1, trace replay."""

from pathlib import Path

import numpy as np
import pytest

from simbench.arrivals import (
    DeterministicArrivals,
    GammaArrivals,
    MMPPArrivals,
    PoissonArrivals,
    loadgen_mt19937,
    parse_arrivals,
)
from simbench.profiles.schema import NoNoise
from simbench.settings import Scenario, TestSettings
from simbench.sim import simulate
from simbench.testing import make_sut

AZURE_CONV = Path(__file__).parent / "data" / "azure_llm_2023" / "AzureLLMInferenceTrace_conv.csv"


def _gaps(law, qps=1000.0, seconds=200):
    t = law.times_ns(1, qps, seconds * 10**9, 100)
    assert t[0] == 0 and t[-1] >= seconds * 10**9 > t[-2]
    return np.diff(t) / 1e9


@pytest.mark.parametrize(
    "law,cv",
    [(PoissonArrivals(), 1.0), (DeterministicArrivals(), 0.0), (GammaArrivals(cv=3.0), 3.0), (GammaArrivals(cv=0.5), 0.5)],
)
def test_gap_mean_and_cv(law, cv):
    g = _gaps(law)
    assert g.mean() == pytest.approx(1e-3, rel=0.03)
    assert g.std() / g.mean() == pytest.approx(cv, abs=0.05 * max(cv, 1))
    assert law.cv == cv


def test_mmpp_rate_and_cv_match_closed_form():
    law = MMPPArrivals(burst_ratio=5.0, base_dwell=200.0, burst_dwell=50.0)
    g = _gaps(law, seconds=2000)
    assert g.mean() == pytest.approx(1e-3, rel=0.03)
    assert g.std() / g.mean() == pytest.approx(law.cv, rel=0.05)
    assert law.cv > 1.1


def test_dd1_latency_is_exactly_the_service_time():
    s = TestSettings(scenario=Scenario.Server, server_target_qps=500.0, min_duration_ms=2000)
    tr = simulate(s, make_sut(1e6, noise=NoNoise()), arrivals=DeterministicArrivals()).trace
    assert np.all(tr.sample_latencies_ns() == 1_000_000)
    assert np.all(np.diff(tr.issue_ns) == 2_000_000)


def test_trace_replay_reproduces_azure_conversation_burstiness():
    law = parse_arrivals(f"trace:{AZURE_CONV}")
    assert law.cv == pytest.approx(1.094, abs=0.001)  # SOURCE.md: CV of inter-arrival 1.094
    g = _gaps(law, seconds=20)
    assert g.std() / g.mean() == pytest.approx(law.cv, rel=0.02)


def test_burstier_arrivals_raise_tail_latency_at_equal_rate():
    s = TestSettings(scenario=Scenario.Server, server_target_qps=600.0, min_duration_ms=60_000)
    sut = make_sut(1e6, noise=NoNoise())
    p99 = [
        np.quantile(simulate(s, sut, arrivals=a).trace.sample_latencies_ns(), 0.99)
        for a in (DeterministicArrivals(), PoissonArrivals(), GammaArrivals(cv=3.0))
    ]
    assert p99[0] < p99[1] < p99[2]


@pytest.mark.parametrize("text", ["gamma", "gamma:-1", "mmpp:0.5", "weibull:2", "trace:/nonexistent.csv", "poisson:3"])
def test_bad_arrival_specs(text):
    with pytest.raises(ValueError, match="--arrival"):
        parse_arrivals(text)


def test_loadgen_mt19937_is_std_mt19937():
    # C++ [rand.predef]: the 10,000th output of a default-constructed std::mt19937 (seed 5489).
    assert loadgen_mt19937(5489).random_raw(10_000)[-1] == 4123659995
    # libstdc++ keeps seed mod 2**32 (uint_fast32_t is 64-bit on x86-64 Linux).
    assert np.array_equal(loadgen_mt19937(2**40 + 5489).random_raw(5), loadgen_mt19937(5489).random_raw(5))


def test_poisson_gaps_are_libstdcxx_exponential_draws():
    # Independent recomputation in pure Python: generate_canonical<double,53> from two 32-bit
    # outputs, -log(1-u)/rate seconds, truncated to whole ns.
    import math

    qps, seed = 337.3, 16159082839903944936
    t = PoissonArrivals().times_ns(seed, qps, 0, 2001)
    raw = [int(v) for v in loadgen_mt19937(seed).random_raw(4000)]
    expect = [0]
    for k in range(2000):
        u = (float(raw[2 * k]) + float(raw[2 * k + 1]) * 2.0**32) / 2.0**64
        expect.append(expect[-1] + int(-math.log(1.0 - u) / qps * 1e9))
    assert t.tolist() == expect


def test_poisson_schedule_longer_than_one_chunk_is_whole():
    # 5 M queries cross several 4 M-draw chunks; the count follows LoadGen's loop.
    t = PoissonArrivals().times_ns(7, 100_000.0, 50 * 10**9, 100)
    assert t[-1] >= 50 * 10**9 > t[-2] and np.all(np.diff(t) >= 0)
    assert np.diff(t).mean() == pytest.approx(10_000, rel=0.002)
    assert PoissonArrivals().times_ns(7, 100_000.0, 50 * 10**9, 100, max_queries=1234).shape == (1234,)
