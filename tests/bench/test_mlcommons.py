"""The official LoadGen as a peer engine, and the LoadGen log importer (real mlperf_loadgen)."""

from __future__ import annotations

import numpy as np
import pytest

lg = pytest.importorskip("mlperf_loadgen")

from bench_helpers import short_settings  # noqa: E402

from simbench.report import summary_to_dict  # noqa: E402
from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir  # noqa: E402
from simbench.bench.mlcommons import run_mlcommons, to_loadgen_settings  # noqa: E402
from simbench.batching import DynamicBatching  # noqa: E402
from simbench.bench.sut import CallableSUT, NullSUT, OnnxSUT  # noqa: E402
from simbench.stats import latency_early_stopping  # noqa: E402


def _mlc(sut, settings, tmp_path):
    return run_mlcommons(sut, settings, qsl_total_count=1000, qsl_performance_count=256, log_dir=tmp_path / "loadgen")


def test_settings_are_passed_field_for_field():
    s = short_settings("Server", server_target_qps=123.5, schedule_rng_seed=2**63 + 5)
    out = to_loadgen_settings(s)
    assert out.scenario == lg.TestScenario.Server
    assert out.server_target_qps == 123.5 and out.min_duration_ms == 200
    assert out.schedule_rng_seed == 2**63 + 5
    assert out.server_target_latency_ns == 15_000_000


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_mlcommons_engine_matches_loadgen_exactly(scenario, tmp_path):
    run = _mlc(NullSUT(), short_settings(scenario, min_duration_ms=100), tmp_path)
    cmp = run.extra["loadgen"]["comparison"]
    assert len(cmp) >= 10
    for key, v in cmp.items():
        if v["rel_diff"] is None:
            assert v["simbench"] == v["loadgen"], key
        elif key in ("result_qps_without_loadgen_overhead", "result_qps_with_loadgen_overhead"):
            # LoadGen divides by the mean latency truncated to whole ns, and by the last
            # query's *issued* (not scheduled) time; summary.py uses the exact mean and the
            # scheduled time (reported to the lead). Both differ by well under 0.1 %.
            assert abs(v["rel_diff"]) < 1e-3, (key, v)
        else:  # LoadGen prints throughput with 6 significant digits
            assert abs(v["rel_diff"]) < 1e-5, (key, v)
    assert run.trace.metadata["engine"] == "mlcommons"
    assert (tmp_path / "loadgen" / "mlperf_log_detail.txt").is_file()


@pytest.mark.parametrize("qps,seed", [(1000.0, None), (337.3, 12345)])
def test_server_schedule_equals_loadgens_to_the_ns(qps, seed, tmp_path):
    from simbench.bench.loadgen_logs import find_log_file, read_detail_log, read_trace_samples
    from simbench.schedule import schedule
    from simbench.settings import resolve

    over = {"server_target_qps": qps, "min_duration_ms": 300}
    if seed is not None:
        over["schedule_rng_seed"] = seed
    settings = short_settings("Server", **over)
    _mlc(NullSUT(), settings, tmp_path)
    log = tmp_path / "loadgen"
    detail = read_detail_log(find_log_file(log, "detail"))
    scheduled = np.sort(read_trace_samples(find_log_file(log, "trace"))["scheduled_ns"])
    ours = schedule(resolve(settings, 1000, 256)).scheduled_ns
    assert ours.shape[0] == detail["generated_query_count"] == scheduled.shape[0]
    assert np.array_equal(scheduled - scheduled[0], ours)


def test_early_stopping_equal_given_loadgen_latencies(tmp_path):
    run = _mlc(NullSUT(), short_settings("SingleStream", min_duration_ms=100), tmp_path)
    imported = import_loadgen_dir(tmp_path / "loadgen")
    lat = imported.trace.sample_latencies_ns()
    ours = latency_early_stopping(lat, 0.90).estimate_ns
    assert ours == imported.detail["early_stopping_latency_ss"]
    assert summary_to_dict(run.summary)["early_stopping_latency_ss"] == ours


def test_sut_side_records_merge_with_loadgen_trace(tiny_model, tmp_path):
    sut = OnnxSUT(tiny_model, threads=1, workers=1, batching=DynamicBatching(max_batch=4, timeout_us=500))
    run = _mlc(sut, short_settings("Server", server_target_qps=300.0), tmp_path)
    t = run.trace
    assert t.batch_id is not None and t.device_id is not None
    assert np.bincount(t.batch_id).max() <= 4
    # SUT-side start lies between LoadGen's issue and completion, up to clock alignment.
    slack = 200_000
    assert np.all(t.start_ns >= t.issued_ns - slack) and np.all(t.start_ns <= t.complete_ns + slack)


def test_import_without_trace_json(tmp_path):
    _mlc(NullSUT(), short_settings("Offline", min_duration_ms=50), tmp_path)
    (tmp_path / "loadgen" / "mlperf_log_trace.json").unlink()
    imported = import_loadgen_dir(tmp_path / "loadgen")
    assert imported.trace is None and imported.detail["result_samples_per_second"] > 0


def test_import_rejects_non_loadgen_folder(tmp_path):
    from simbench.errors import TraceError

    with pytest.raises(TraceError, match="mlperf_log_detail"):
        import_loadgen_dir(tmp_path)


def test_compare_reports_differences(tmp_path):
    _mlc(CallableSUT(lambda i: None), short_settings("Server", min_duration_ms=100), tmp_path)
    imported = import_loadgen_dir(tmp_path / "loadgen")
    detail = dict(imported.detail)
    detail["result_99.00_percentile_latency_ns"] = imported.summary.latency_percentiles_ns[0.99] * 2
    cmp = compare_with_loadgen(imported.summary, detail)
    assert cmp["result_99.00_percentile_latency_ns"]["rel_diff"] == pytest.approx(-0.5)


class _Raiser:
    def __init__(self):
        self.n = 0

    def __call__(self, indices):
        self.n += 1
        if self.n == 8:
            raise RuntimeError("device lost")


def test_mlcommons_sut_that_raises(tmp_path):
    run = _mlc(CallableSUT(_Raiser()), short_settings("SingleStream", min_duration_ms=100), tmp_path)
    assert run.status == "failed" and "device lost" in run.errors[0]
    assert len(run.trace) == 7  # only real SUT completions, not the drained ones
    assert not run.summary.result_valid


class _WrongId(NullSUT):
    def issue_query(self, samples):
        self._sink.complete([samples[0].id + 12345])


def test_mlcommons_wrong_id_never_reaches_loadgen(tmp_path):
    run = _mlc(_WrongId(), short_settings("Offline", min_duration_ms=50), tmp_path)
    assert run.status == "failed" and "wrong sample id" in run.errors[0]
    assert run.summary is None and len(run.trace) == 0


class _Silent(NullSUT):
    def issue_query(self, samples):
        pass


def test_mlcommons_stall_timeout(tmp_path):
    s = short_settings("SingleStream", min_duration_ms=50)
    run = run_mlcommons(_Silent(), s, qsl_total_count=1000, qsl_performance_count=256, log_dir=tmp_path, stall_timeout_s=0.2)
    assert run.status == "failed" and "never completed" in run.errors[0]
