"""GI/G/1 law (Gamma service): reference quantiles, the GI/M/1 special case, Pollaczek-Khinchine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simbench.errors import SimbenchInputError
from simbench.stats import GIG1Law, QueueLaw, sample_latencies, validate_procedure
from simbench.stats import _kernels


def test_shape_one_service_reproduces_gim1_closed_form_quantiles():
    # GI/M/1 with bursty Gamma(0.25) arrivals: the sojourn time is Exp(1 - sigma) exactly
    law = GIG1Law(0.5, arrival_shape=0.25, service_shape=1.0, reference_queries=16_000_000, reference_runs=8)
    exact = QueueLaw(0.5, arrival_shape=0.25)
    for q in (0.9, 0.99):
        value, se = law.reference_quantile(q)
        assert se > 0
        assert abs(value - exact.quantile(q)) < 4 * se, (q, value, exact.quantile(q), se)
        assert abs(value / exact.quantile(q) - 1) < 0.02


def test_shape_one_service_draws_the_gim1_stream():
    # same state, sigma and no warm-up: the GI/G/1 kernel with exponential service is the GI/M/1 one
    gim1 = QueueLaw(0.8, arrival_shape=0.25)
    state = _kernels.replication_states(3, 1)[0]
    a, b, sigma, _, _ = gim1._queue_arguments()
    x = _kernels.queue_sample(a, b, sigma, 1.0, 0, state, 1000)
    assert np.array_equal(x * gim1.mean_service_ns, sample_latencies(gim1, 1000, seed=3))
    assert not np.array_equal(x, _kernels.queue_sample(a, b, sigma, 4.0, 0, state, 1000))


@pytest.mark.parametrize(("rho", "service_shape"), [(0.5, 4.0), (0.8, 4.0), (0.8, 1.0e4)])
def test_poisson_arrivals_mean_wait_is_pollaczek_khinchine(rho, service_shape):
    law = GIG1Law(rho, arrival_shape=1.0, service_shape=service_shape, reference_queries=16_000_000,
                  reference_runs=8)
    second_moment = 1.0 + 1.0 / service_shape  # E[S^2] of a unit-mean Gamma(k)
    expected_wait = rho * second_moment / (2 * (1 - rho))  # P-K, E[S] = 1
    runs = law._reference["mean_runs"]
    se = runs.std(ddof=1) / math.sqrt(runs.size)
    assert abs(law.mean / law.mean_service_ns - 1.0 - expected_wait) < 4 * se + 1e-3
    assert se < 0.01 * expected_wait  # the check has teeth: 1 % of E[W]


def test_reference_quantile_is_the_pooled_order_statistic():
    law = GIG1Law(0.8, arrival_shape=0.5, service_shape=4.0, reference_queries=400_000, reference_runs=2,
                  warmup_queries=1000)
    states = _kernels.replication_states(np.random.SeedSequence([0, 4]), 2)
    pooled = np.concatenate([_kernels.queue_sample(*law._queue_arguments(), s, 200_000) for s in states])
    for q in (0.9, 0.99, 0.9995):
        value = law.quantile(q) / law.mean_service_ns
        order_statistic = np.sort(pooled)[math.ceil(q * pooled.size) - 1]
        assert abs(value - order_statistic) <= law._reference["width"] * 1.000001


def test_bad_parameters_name_the_field():
    with pytest.raises(SimbenchInputError, match="service_shape"):
        GIG1Law(0.5, service_shape=0.0)
    with pytest.raises(SimbenchInputError, match="warmup_queries"):
        GIG1Law(0.5, warmup_queries=-1)
    with pytest.raises(SimbenchInputError, match="utilization"):
        GIG1Law(1.2)
    law = GIG1Law(0.5, reference_queries=20_000, reference_runs=2, warmup_queries=100)
    with pytest.raises(SimbenchInputError, match="outside the reference histogram"):
        law.quantile(0.1)


def test_procedure_runs_on_gig1():
    law = GIG1Law(0.5, arrival_shape=0.5, service_shape=4.0, reference_queries=4_000_000, reference_runs=4,
                  warmup_queries=10_000)
    result = validate_procedure(law, percentile=0.9, replications=10, budget_queries=1e7, methods=("geyer",),
                                reference_budget=2e7)
    estimate = result.estimate("geyer")
    assert result.true_tau[1] > 2  # a correlated queue
    assert estimate.corrected_median > result.iid_queries
    assert estimate.direct_replications >= 1
