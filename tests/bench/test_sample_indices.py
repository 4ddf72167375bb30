"""Real, simulated and mlcommons-loadgen runs pick the same QSL samples for the same seeds.

The reference is the official LoadGen itself (``mlperf_loadgen``, 6.0.17 wheel): the indices
it passed to ``LoadSamplesToRam`` and the ``sample_idx`` of every sample in its own
``mlperf_log_trace.json``. simbench's schedule (``simbench.loadgen_rng``), the real load
generator's Trace and the simulator's Trace must hold the very same indices, in order.
"""

from __future__ import annotations

import numpy as np
import pytest

lg = pytest.importorskip("mlperf_loadgen")

from bench_helpers import short_settings  # noqa: E402

from simbench.bench.loadgen import LoadGenerator  # noqa: E402
from simbench.bench.loadgen_logs import find_log_file, read_detail_log, read_trace_samples  # noqa: E402
from simbench.bench.mlcommons import run_mlcommons  # noqa: E402
from simbench.bench.sut import NullSUT  # noqa: E402
from simbench.schedule import loaded_sample_set, schedule  # noqa: E402
from simbench.settings import resolve  # noqa: E402
from simbench.sim import simulate  # noqa: E402
from simbench.testing import make_sut  # noqa: E402

TOTAL, PERF = 1000, 256


class _LoadRecorder(NullSUT):
    def __init__(self):
        super().__init__()
        self.loaded: list[list[int]] = []

    def load_samples(self, indices):
        self.loaded.append(list(indices))


def _loadgen(settings, tmp_path, total=TOTAL, perf=PERF):
    """(loaded set, per-sample indices in sample order, detail log) from the official LoadGen."""
    sut = _LoadRecorder()
    run_mlcommons(sut, settings, qsl_total_count=total, qsl_performance_count=perf, log_dir=tmp_path / "lg")
    samples = read_trace_samples(find_log_file(tmp_path / "lg", "trace"))
    order = np.lexsort((samples["sample_seq"], samples["query_seq"]))
    return np.array(sut.loaded[0]), samples["sample_index"][order], read_detail_log(find_log_file(tmp_path / "lg", "detail"))


CASES = {
    "SingleStream": dict(),
    "SingleStream-seeds": dict(qsl_rng_seed=7, sample_index_rng_seed=2**64 - 3, min_query_count=700),
    "MultiStream": dict(min_duration_ms=50, multi_stream_expected_latency_ns=2_000_000),
    "Server": dict(server_target_qps=1500.0, sample_index_rng_seed=12345),
    "Offline": dict(offline_expected_qps=3000.0),
    "Offline-equal-issue": dict(offline_expected_qps=3000.0, sample_concatenate_permutation=True),
    "SingleStream-equal-issue": dict(sample_concatenate_permutation=True, min_query_count=300),
    "Server-equal-issue": dict(server_target_qps=1500.0, sample_concatenate_permutation=True, min_query_count=300),
    "Server-unique": dict(server_target_qps=1500.0, performance_issue_unique=True),
    "MultiStream-same": dict(min_duration_ms=50, performance_issue_same=True, performance_issue_same_index=9),
}


@pytest.mark.parametrize("case", list(CASES))
def test_schedule_picks_loadgens_samples(case, tmp_path):
    settings = short_settings(case.split("-")[0], **CASES[case])
    loaded, lg_indices, detail = _loadgen(settings, tmp_path)
    eff = resolve(settings, TOTAL, PERF)
    sched = schedule(eff)
    ours_loaded = loaded_sample_set(eff)
    assert np.array_equal(loaded[:PERF], ours_loaded)
    if eff.scenario.value == "MultiStream":  # LoadGen pads the set with its first spq - 1
        assert np.array_equal(loaded[PERF:], ours_loaded[: eff.samples_per_query - 1])
    spq = 1 if eff.scenario.value == "Offline" else eff.samples_per_query
    n = lg_indices.shape[0] // spq
    assert lg_indices.shape[0] == n * spq > 0
    assert eff.min_query_count == detail["effective_min_query_count"]
    assert sched.query_count == detail["generated_query_count"]
    assert np.array_equal(sched.sample_indices(n), lg_indices)


@pytest.mark.parametrize("scenario", ["SingleStream", "Server", "Offline"])
def test_real_simulated_and_mlcommons_runs_use_the_same_samples(scenario, tmp_path):
    settings = short_settings(scenario, sample_index_rng_seed=99, qsl_rng_seed=5)
    _, lg_indices, _ = _loadgen(settings, tmp_path)
    real = LoadGenerator(NullSUT(), settings, qsl_total_count=TOTAL, qsl_performance_count=PERF).run().trace
    sim = simulate(settings, make_sut(1e5), qsl_total_count=TOTAL, qsl_performance_count=PERF).trace
    n = min(len(real), len(sim), lg_indices.shape[0])
    assert n >= 20
    assert np.array_equal(real.sample_index[:n], lg_indices[:n])
    assert np.array_equal(sim.sample_index[:n], lg_indices[:n])


@pytest.mark.parametrize("perf", [50_000, 70_000])
def test_large_sets_rejections_and_the_one_draw_shuffle(perf, tmp_path):
    """A 50,000-sample shuffle draws pairs from ranges just above 2**31, where Lemire's method
    rejects almost half its draws; past 65,535 samples std::shuffle takes one draw per
    element. Both must still give LoadGen's loaded set and its indices."""
    settings = short_settings("Server", performance_sample_count_override=perf, server_target_qps=20_000.0,
                              min_duration_ms=50, min_query_count=2000)
    loaded, lg_indices, _ = _loadgen(settings, tmp_path, total=perf, perf=perf)
    eff = resolve(settings, perf, perf)
    assert np.array_equal(loaded, loaded_sample_set(eff))
    assert np.array_equal(schedule(eff).sample_indices(lg_indices.shape[0]), lg_indices)
