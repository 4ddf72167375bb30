"""The device model: latency(batch, clock), power law, streams, governors — and both engines
giving the same Trace and device timeline bit for bit with every governor."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simbench.profiles.latency import stream_factor
from simbench.profiles.schema import DynamicBatching, LognormalNoise, NoBatching, NoNoise, QuantileNoise
from simbench.settings import Scenario, TestSettings
from simbench.sim import simulate
from simbench.sim.governors import parse_governor
from simbench.testing import make_sut, demo_dvfs

TABLE = [(1, 400_000.0), (8, 900_000.0), (64, 5_000_000.0)]
SHARE = [(1, 0.2), (64, 0.7)]
GOVERNORS = [
    "fixed:600",
    "performance",
    "ondemand:period_ms=5,transition_us=500",
    "power_cap:150,window_ms=500,period_ms=50,transition_us=1000",
    "thermal:period_ms=20",
]
TIMELINE = ("device_id", "t_ns", "clock_mhz", "power_w", "temperature_c", "throttle")


def _settings(scenario, load=3000.0, ms=600):
    base = dict(min_duration_ms=ms, min_query_count=20)
    if scenario is Scenario.SingleStream:
        return TestSettings(scenario=scenario, single_stream_expected_latency_ns=300_000, **base)
    if scenario is Scenario.MultiStream:
        return TestSettings(scenario=scenario, multi_stream_expected_latency_ns=800_000, multi_stream_samples_per_query=4, **base)
    if scenario is Scenario.Server:
        return TestSettings(scenario=scenario, server_target_qps=load, **base)
    return TestSettings(scenario=scenario, offline_expected_qps=load, **base)


def _same(a, b):
    for col in ("query_id", "sample_index", "issue_ns", "start_ns", "complete_ns", "batch_id", "device_id", "clock_mhz"):
        np.testing.assert_array_equal(getattr(a.trace, col), getattr(b.trace, col), err_msg=col)
    assert len(a.timeline) == len(b.timeline)
    for col in TIMELINE:
        np.testing.assert_array_equal(getattr(a.timeline, col), getattr(b.timeline, col), err_msg=col)
    assert a.timeline.metadata["energy_j"] == b.timeline.metadata["energy_j"]


def _sut(governor, noise=None, streams=None, replicas=2, max_batch=16, timeout_us=500.0, ambient=None):
    batching = NoBatching() if max_batch == 1 else DynamicBatching(max_batch=max_batch, timeout_us=timeout_us)
    return make_sut(
        table=TABLE, noise=noise or LognormalNoise(sigma=0.2, source="t"), batching=batching, replicas=replicas,
        dvfs=demo_dvfs(), compute_share=SHARE, governor=governor, streams=streams, stream_gain=0.5, ambient_c=ambient,
    )


@pytest.mark.parametrize("governor", GOVERNORS)
@pytest.mark.parametrize("scenario", list(Scenario))
def test_engines_identical_with_every_governor(scenario, governor):
    sut = _sut(governor, streams=2, ambient=70.0 if governor.startswith("thermal") else None)
    s = _settings(scenario)
    a = simulate(s, sut, engine="numba", service_seed=7)
    b = simulate(s, sut, engine="simpy", service_seed=7)
    assert len(a.trace) > 50 and len(a.timeline) >= 4
    _same(a, b)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(list(Scenario)),
    governor=st.sampled_from(GOVERNORS + [None]),
    noise=st.sampled_from([NoNoise(), LognormalNoise(sigma=0.3, source="t"), QuantileNoise(points=[(0, 0.9), (0.5, 1.0), (1.0, 2.0)], source="t")]),
    max_batch=st.integers(1, 24),
    replicas=st.integers(1, 3),
    streams=st.sampled_from([None, 2, 3]),
    load=st.floats(300.0, 20_000.0),
    seed=st.integers(0, 2**32),
)
def test_engines_identical_property(scenario, governor, noise, max_batch, replicas, streams, load, seed):
    sut = _sut(governor, noise=noise, streams=streams, replicas=replicas, max_batch=max_batch,
               ambient=75.0 if governor and governor.startswith("thermal") else None)
    s = _settings(scenario, load, ms=300)
    _same(simulate(s, sut, engine="numba", service_seed=seed), simulate(s, sut, engine="simpy", service_seed=seed))


def test_latency_scales_compute_share_only():
    dm = _sut("performance").device_model
    # batch 64: share 0.7 -> at half the reference clock, 0.3 + 0.7 * 2 = 1.7 x
    assert dm.latency_ns(64, 600.0) == pytest.approx(5_000_000.0 * 1.7)
    assert dm.latency_ns(1, 1200.0) == 400_000.0
    assert dm.latency_ns(1, 300.0) == pytest.approx(400_000.0 * (0.8 + 0.2 * 4))


def test_power_law_closed_form():
    dv = demo_dvfs()
    # P = 50 + 250 * (f/1200) * (1 - 0.5 (1 - f/1200))^2
    assert dv.power_w(1200, True) == pytest.approx(300.0)
    assert dv.power_w(600, True) == pytest.approx(50 + 250 * 0.5 * 0.75**2)
    assert dv.power_w(600, False) == 50.0
    f = dv.clock_for_power_mhz(200.0)
    assert dv.power_w(f, True) == pytest.approx(200.0, abs=1e-6)


def test_fixed_clock_slows_service_by_the_closed_form():
    """No noise, one device, one sample per batch: every service time is latency(1, f)."""
    sut = make_sut(table=TABLE, dvfs=demo_dvfs(), compute_share=SHARE, governor="fixed:300")
    run = simulate(_settings(Scenario.SingleStream), sut, engine="numba")
    svc = run.trace.complete_ns - run.trace.start_ns
    assert set(svc.tolist()) == {round(400_000 * (0.8 + 0.2 * 4))}
    assert set(run.trace.clock_mhz.tolist()) == {300}


def test_energy_equals_busy_and_idle_power_integral():
    """Fixed clock: energy = P_busy * busy time + P_idle * idle time, from the trace alone."""
    sut = make_sut(table=TABLE, dvfs=demo_dvfs(), compute_share=SHARE, governor="fixed:600")
    run = simulate(_settings(Scenario.SingleStream), sut, engine="numba")
    busy = int(np.sum(run.trace.complete_ns - run.trace.start_ns))
    end = run.timeline.metadata["end_ns"]
    dv = demo_dvfs()
    expect = (dv.power_w(600, True) * busy + dv.power_w(600, False) * (end - busy)) / 1e9
    assert run.timeline.metadata["energy_j"][0] == pytest.approx(expect, rel=1e-12)
    assert run.timeline.energy_j() == pytest.approx(expect, rel=1e-9)


def test_stream_sharing_rule():
    assert stream_factor(1, 0.3) == 1.0
    assert stream_factor(2, 0.0) == 2.0  # pure processor sharing
    assert stream_factor(2, 1.0) == 1.0  # independent streams
    assert stream_factor(3, 0.5) == pytest.approx(3 / 2.0)
    # Offline, no noise, 2 streams with gain 0.5: two batches in flight together run 1.5x as
    # fast as one, so throughput rises by the factor 2 / (2 / 1.5) = 1.5 at saturation.
    one = simulate(_settings(Scenario.Offline, 20000.0), _sut(None, noise=NoNoise(), replicas=1))
    two = simulate(_settings(Scenario.Offline, 20000.0), _sut(None, noise=NoNoise(), replicas=1, streams=2))
    span1 = one.trace.complete_ns.max()
    span2 = two.trace.complete_ns.max()
    assert span1 / span2 == pytest.approx(1.5, rel=0.01)


def test_power_cap_holds_the_window_average():
    sut = _sut("power_cap:150", noise=NoNoise(), replicas=1)
    run = simulate(_settings(Scenario.Offline, 20000.0, ms=20_000), sut)
    tl = run.timeline
    late = tl.t_ns > 5e9
    assert np.mean(tl.power_w[late]) <= 150.0 * 1.02
    assert np.mean(tl.power_w[late]) >= 150.0 * 0.9
    assert np.all(tl.throttle[late] == 0x4)
    # the clock it settles at is the highest whose busy power is at or just around the cap
    f_cap = demo_dvfs().clock_for_power_mhz(150.0)
    assert abs(np.median(tl.clock_mhz[late]) - f_cap) <= 100.0


def test_thermal_rc_steady_state():
    """Fixed busy power P: T -> T_amb + P R; slowdown at 80 C halves the clock (1200 -> 600)."""
    sut = _sut("thermal:period_ms=20", noise=NoNoise(), replicas=1, ambient=10.0)
    run = simulate(_settings(Scenario.Offline, 20000.0, ms=30_000), sut)
    tl = run.timeline
    t_ss = 10.0 + 300.0 * 0.2  # 70 C < the 80 C slowdown: never throttles
    assert np.nanmax(tl.temperature_c) <= t_ss + 1e-9
    assert np.nanmax(tl.temperature_c) >= t_ss - 1.0  # 30 s = 7.5 time constants of 4 s
    assert tl.throttled_ns() == 0 and set(np.unique(tl.clock_mhz)) == {1200.0}


def test_thermal_throttles_at_hot_ambient():
    sut = _sut("thermal:period_ms=20", noise=NoNoise(), replicas=1, ambient=45.0)
    run = simulate(_settings(Scenario.Offline, 20000.0, ms=30_000), sut)
    tl = run.timeline
    # steady state at full power would be 45 + 60 = 105 C > 80: it must throttle, to 600 MHz
    assert set(np.unique(tl.clock_mhz)) == {600.0, 1200.0}
    assert tl.throttled_ns() > 0
    assert np.nanmax(tl.temperature_c) < 80.0 + 1.0
    late = tl.t_ns > 10e9
    assert np.nanmin(tl.temperature_c[late]) >= 75.0 - 1.0


@pytest.mark.parametrize(
    "spec, msg",
    [
        ("turbo", "unknown governor"),
        ("fixed", "needs MHZ"),
        ("fixed:abc", "MHZ must be a number"),
        ("power_cap:-5", "must be > 0"),
        ("ondemand:up=0.2,down=0.5", "down (0.5) must be below up"),
        ("ondemand:foo=1", "has no parameter 'foo'"),
        ("power_cap:200,period_ms=10,transition_us=20000", "transition_us (20000) must be shorter"),
        ("thermal:period_ms=0", "period_ms must be in"),
    ],
)
def test_bad_governor_specs(spec, msg):
    with pytest.raises(ValueError, match=None) as e:
        parse_governor(spec)
    assert msg in str(e.value) and "--governor" in str(e.value)


def test_spec_round_trips():
    for s in GOVERNORS + ["power_cap:260", "ondemand"]:
        g = parse_governor(s)
        assert parse_governor(g.spec) == g


def test_governor_needs_device_data():
    with pytest.raises(ValueError, match="no dvfs section"):
        make_sut(table=TABLE, governor="performance")
    with pytest.raises(ValueError, match="not a clock state"):
        make_sut(table=TABLE, dvfs=demo_dvfs(), compute_share=SHARE, governor="fixed:650")
    with pytest.raises(ValueError, match="ambient-c"):
        make_sut(table=TABLE, dvfs=demo_dvfs(), compute_share=SHARE, governor="thermal", ambient_c=95.0)


def test_ambient_in_the_spec_string():
    sut = _sut("thermal:ambient_c=40")
    assert sut.device_model.ambient == 40.0
    with pytest.raises(ValueError, match="two ambient temperatures"):
        _sut("thermal:ambient_c=40", ambient=30.0)


def test_simulator_law_takes_a_governor():
    from simbench.plan.coverage import SimulatorLaw

    law = SimulatorLaw(0.5, reference_queries=20_000, reference_runs=2, workers=1, governor="power_cap:200")
    assert "power_cap:200" in repr(law)
    x = law.sample(2000, seed=1)
    assert x.shape == (2000,) and np.all(x > 0)
    with pytest.raises(ValueError, match="unknown governor"):
        SimulatorLaw(0.5, reference_queries=20_000, reference_runs=2, workers=1, governor="turbo")
