"""Per-device queues: join-shortest-queue (JSQ) and round-robin routing.

Both engines give the identical Trace (and device timeline) with every routing; the queueing
results are checked against closed forms with exponential service and no batching:

* one shared queue over c devices is M/M/c (Erlang C, Kleinrock 1975 eq. 3.42);
* round-robin splits a Poisson stream of rate lambda into c renewal streams whose gaps are
  Erlang-c (the sum of c exponential gaps), so each device is an E_c/M/1 queue: mean sojourn
  ``1 / (mu (1 - sigma))`` with ``sigma`` the root in (0, 1) of ``sigma = A*(mu (1 - sigma))``,
  ``A*(s) = (lambda / (lambda + s))^c`` the gap's Laplace-Stieltjes transform (GI/M/1,
  Kleinrock 1975 §6.4, eqs. 6.21-6.30);
* JSQ lies strictly between them (Winston 1977, "Optimality of the shortest line
  discipline", J. Appl. Prob. 14: JSQ minimises the expected queue among routings without
  service-time knowledge, so it beats round-robin; a shared queue never leaves a device idle
  while a query waits, so it beats any per-device routing);
* with one device all three are the same queue: the Traces are identical.
"""

import dataclasses

import numpy as np
import pytest
from scipy.optimize import brentq

from simbench.errors import SimbenchInputError
from simbench.plan.fleet import erlang_c
from simbench.profiles.schema import DynamicBatching, ExponentialNoise, LognormalNoise, NoBatching
from simbench.settings import Scenario, TestSettings
from simbench.sim import simulate
from simbench.testing import demo_dvfs, make_sut
from simbench.trace import COLUMNS

TABLE = [(1, 400_000.0), (8, 900_000.0), (64, 5_000_000.0)]
SHARE = [(1, 0.3), (64, 0.8)]


def _same(a, b):
    for col in COLUMNS:
        x, y = getattr(a.trace, col), getattr(b.trace, col)
        if x is None or y is None:
            assert x is None and y is None, col
        else:
            np.testing.assert_array_equal(x, y, err_msg=col)
    if a.timeline is not None:
        for col in ("device_id", "t_ns", "clock_mhz", "power_w", "temperature_c", "throttle"):
            np.testing.assert_array_equal(getattr(a.timeline, col), getattr(b.timeline, col), err_msg=col)
        assert a.timeline.metadata["energy_j"] == b.timeline.metadata["energy_j"]


@pytest.mark.parametrize("routing", ["jsq", "round-robin"])
@pytest.mark.parametrize("case", ["no-batching", "batching", "streams+power_cap"])
def test_engines_identical_with_per_device_queues(routing, case):
    kw = dict(table=TABLE, noise=LognormalNoise(sigma=0.4, source="t"), replicas=3)
    if case == "no-batching":
        kw["batching"] = NoBatching()
    else:
        kw["batching"] = DynamicBatching(max_batch=16, timeout_us=500)
    if case == "streams+power_cap":
        kw.update(dvfs=demo_dvfs(), compute_share=SHARE, streams=2, stream_gain=0.5,
                  governor="power_cap:150,window_ms=50,period_ms=10,transition_us=1000")
    sut = dataclasses.replace(make_sut(**kw), routing=routing)
    s = TestSettings(scenario=Scenario.Server, server_target_qps=6000.0, min_duration_ms=300, min_query_count=20)
    a = simulate(s, sut, engine="numba", service_seed=11)
    b = simulate(s, sut, engine="simpy", service_seed=11)
    assert len(a.trace) > 1000 and a.batches == b.batches
    _same(a, b)
    used = np.bincount(a.trace.device_id, minlength=3)
    assert used.min() > 0  # every device serves
    if routing == "round-robin":
        np.testing.assert_array_equal(a.trace.device_id, np.arange(len(a.trace)) % 3)
    assert a.trace.metadata["sut"]["routing"] == routing


def test_one_device_every_routing_is_the_same_queue():
    base = make_sut(table=TABLE, noise=ExponentialNoise(), batching=DynamicBatching(max_batch=8, timeout_us=300))
    s = TestSettings(scenario=Scenario.Server, server_target_qps=2000.0, min_duration_ms=500, min_query_count=20)
    runs = [simulate(s, dataclasses.replace(base, routing=r), service_seed=5) for r in ("shared", "jsq", "round-robin")]
    for r in runs[1:]:
        for col in COLUMNS:
            x = getattr(runs[0].trace, col)
            if x is not None:
                np.testing.assert_array_equal(x, getattr(r.trace, col), err_msg=col)


def _ec_m1_sojourn(lam, mu, c):
    """E_c/M/1 mean sojourn: per-device gaps Erlang-c of total rate lambda (see module doc)."""
    sigma = brentq(lambda x: (lam / (lam + mu * (1 - x))) ** c - x, 1e-12, 1 - 1e-12)
    return 1.0 / (mu * (1.0 - sigma))


@pytest.mark.parametrize("c", [2, 4])
def test_jsq_lies_between_a_shared_queue_and_round_robin(c):
    service_s, rho = 1e-3, 0.8
    lam = rho * c / service_s
    s = TestSettings(scenario=Scenario.Server, server_target_qps=lam, min_duration_ms=int(400_000 / lam * 1000),
                     min_query_count=20)
    mean = {}
    for routing in ("shared", "jsq", "round-robin"):
        sut = dataclasses.replace(make_sut(service_s * 1e9, noise=ExponentialNoise(), batching=NoBatching(), replicas=c),
                                  routing=routing)
        t = simulate(s, sut, service_seed=3).trace
        assert len(t) > 390_000
        mean[routing] = float(np.mean(t.complete_ns - t.issue_ns)) / 1e9
    mmc = erlang_c(c, lam * service_s) / (c / service_s - lam) + service_s  # M/M/c mean sojourn
    ecm1 = _ec_m1_sojourn(lam, 1 / service_s, c)
    assert mean["shared"] == pytest.approx(mmc, rel=0.03)
    assert mean["round-robin"] == pytest.approx(ecm1, rel=0.03)
    assert mean["shared"] < mean["jsq"] < mean["round-robin"]
    # JSQ is measurably away from both bounds (not a relabelled copy of either)
    assert mean["jsq"] > 1.05 * mean["shared"] and mean["jsq"] < 0.8 * mean["round-robin"]


def test_jsq_joins_the_shortest_queue_counting_samples_in_service():
    """Deterministic service 10 ms, no batching, 2 devices, arrivals at 0, 1, 2, 3 ms: q0 ->
    device 0 (both empty, lowest index), q1 -> device 1 (0 has 1 in service), q2 -> device 0
    (tie 1-1, lowest index), q3 -> device 1 (0 has 2, 1 has 1)."""
    from simbench.sim import run_engine
    from simbench.schedule import QuerySchedule
    from simbench.settings import resolve

    sut = dataclasses.replace(make_sut(10_000_000.0, batching=NoBatching(), replicas=2), routing="jsq")
    eff = resolve(TestSettings(scenario=Scenario.Server, server_target_qps=1000.0, min_duration_ms=1, min_query_count=4),
                  1024, 1024)
    times = np.array([0, 1_000_000, 2_000_000, 3_000_000], dtype=np.int64)
    sched = QuerySchedule(eff.scenario, 1, 4, times, eff)
    for engine in ("numba", "simpy"):
        out = run_engine(eff, sched, sut, 0, engine=engine)
        assert out.device_id.tolist() == [0, 1, 0, 1], engine
        assert out.start_ns.tolist() == [0, 1_000_000, 10_000_000, 11_000_000], engine


def test_per_device_queues_are_refused_outside_the_server_scenario():
    sut = dataclasses.replace(make_sut(1e6, replicas=2), routing="jsq")
    with pytest.raises(SimbenchInputError, match="Server scenario only"):
        simulate(TestSettings(scenario=Scenario.Offline, offline_expected_qps=100.0, min_duration_ms=10), sut)
    with pytest.raises(SimbenchInputError, match="routing: expected one of"):
        dataclasses.replace(sut, routing="random")
