"""End-to-end procedure validation (issue 11 §3): one run -> tau -> corrected count -> fresh run."""

import numpy as np
import pytest

from simbench.stats import QueueLaw, indicator_autocorrelation, margin_coverage, sample_latencies
from simbench.stats import _kernels
from simbench.stats.procedure import fresh_run_coverage, reference_tau, validate_procedure


def test_fresh_run_coverage_matches_the_exact_beta_law_for_iid():
    for n, p in ((24_576, 0.9), (262_742, 0.99), (270_336, 0.99), (1_000_003, 0.99)):
        m = (1 - p) / 20
        assert fresh_run_coverage([n], p, m)[0] == pytest.approx(margin_coverage(n, p), abs=1e-4)
    # inflating the variance by tau is the same as dividing n by tau (up to the rank rounding)
    assert fresh_run_coverage([262_742 * 9], 0.99, 0.0005, 9.0, 9.0)[0] == pytest.approx(
        margin_coverage(262_742, 0.99), abs=2e-4)


def test_varying_length_kernel_counts_what_queue_sample_draws():
    law = QueueLaw(0.7)
    states = _kernels.replication_states(5, 3)
    lengths = np.array([1000, 5000, 123], dtype=np.int64)
    thresholds = np.array([law.quantile(0.5), law.quantile(0.9)]) / law.mean_service_ns
    _, a, b, _, _ = law._kernel_arguments()
    counts = _kernels.queue_threshold_counts_each(*law._queue_arguments(), states, lengths, thresholds)
    for r in range(3):
        x = _kernels.queue_sample(*law._queue_arguments(), states[r], int(lengths[r]))
        for j, v in enumerate(thresholds):
            assert counts[r, j, 0] == np.count_nonzero(x < v) and counts[r, j, 1] == np.count_nonzero(x <= v)


def test_reference_tau_agrees_with_an_independent_estimate():
    law = QueueLaw(0.5)
    tau, se = reference_tau(law, [0.9], runs=3, batches=200, batch_size=2000, seed=1)
    long = sample_latencies(law, 2_000_000, seed=9)
    geyer = indicator_autocorrelation(long, 0.9, threshold_ns=law.quantile(0.9), method="geyer").autocorrelation_time
    assert float(tau[0]) == pytest.approx(geyer, rel=0.1)
    assert 0 < float(se[0]) < 0.1 * float(tau[0])


def test_validate_procedure_small_run_is_deterministic_and_consistent():
    kwargs = dict(percentile=0.9, replications=16, budget_queries=1.2e7, methods=("geyer", "obm"),
                  direct_methods=("geyer",), true_tau=(6.8, 6.8, 6.9), seed=3)
    result = validate_procedure(QueueLaw(0.5), **kwargs)
    again = validate_procedure(QueueLaw(0.5), **kwargs)
    assert result.estimates == again.estimates
    geyer, obm = result.estimate("geyer"), result.estimate("obm")
    assert geyer.pilots == 16 and 1 <= geyer.direct_replications <= 16 and obm.direct_replications == 0
    assert obm.direct_coverage is None
    # the corrected count is Eq. 2's 23,886 times tau_high, tau about 7 at 50 % load
    assert 23_886 * 5 < geyer.corrected_median < 23_886 * 10
    assert 0.97 < geyer.conditional_coverage <= 1.0
    assert result.iid_coverage == pytest.approx(margin_coverage(23_886, 0.9))
