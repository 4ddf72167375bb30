"""simbench.profiles.fit and ``simbench profile fit``: per-batch service times, the median and
quantile regressions against closed forms, the noise law, and clear errors for traces that
cannot be fitted (no start_ns/batch_id: LoadGen's own logs; too few batches of a size)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simbench.errors import TraceError
from simbench.profiles.fit import NOISE_PROBABILITIES, BatchTimes, batch_service_times, fit_latency
from simbench.trace import Trace, write_trace

ROOT = Path(__file__).resolve().parents[2]


def _trace(batch_sizes, services, *, with_start=True, with_batch=True, gap_ns=1000):
    """A real Trace: batches run back to back, sample rows in query order."""
    rows = {k: [] for k in ("query_id", "sample_index", "issue_ns", "complete_ns", "start_ns", "batch_id")}
    t = 0
    q = 0
    for bid, (b, s) in enumerate(zip(batch_sizes, services)):
        for _ in range(b):
            rows["query_id"].append(q)
            rows["sample_index"].append(q % 7)
            rows["issue_ns"].append(t)
            rows["start_ns"].append(t + gap_ns)
            rows["complete_ns"].append(t + gap_ns + int(s))
            rows["batch_id"].append(bid)
            q += 1
        t += gap_ns + int(s)
    cols = {k: np.array(v, np.int64) for k, v in rows.items()}
    if not with_start:
        cols["start_ns"] = None
    if not with_batch:
        cols["batch_id"] = None
    return Trace(metadata={"scenario": "Offline", "engine": "simbench", "sut": {"name": "onnx:x", "workers": 1}}, **cols)


def test_service_time_per_batch_is_complete_minus_start():
    tr = _trace([2, 3, 1], [5000, 7000, 4000])
    bt = batch_service_times(tr, "t.parquet")
    assert bt.batch_size.tolist() == [2, 3, 1]
    assert bt.service_ns.tolist() == [5000.0, 7000.0, 4000.0]
    assert bt.traces[0]["batches"] == 3 and bt.traces[0]["path"] == "t.parquet"


def test_median_line_and_noise_law_recover_a_known_model():
    """service = (a + c*b) * m with m drawn from a known law: the fit gives a, c back and
    the noise quantiles are the law's quantiles (each multiplier reused per size)."""
    a, c = 2e6, 5e5
    mults = np.linspace(0.9, 1.3, 101)  # median exactly 1.1
    sizes = np.repeat([1, 2, 4, 8], mults.size)
    base = a + c * sizes
    service = base * np.tile(mults, 4)
    bt = BatchTimes(sizes, service, np.zeros(sizes.size, np.int64), np.zeros(sizes.size, np.int64),
                    np.zeros(sizes.size, np.int64), [{}])
    fit = fit_latency(bt, form="line")
    # the LAD line runs through the medians: (a + c b) * 1.1
    assert fit.line_fixed_ns == pytest.approx(a * 1.1, rel=1e-6)
    assert fit.line_per_sample_ns == pytest.approx(c * 1.1, rel=1e-6)
    assert fit.median_ns == pytest.approx(tuple(1.1 * (a + c * s) for s in (1, 2, 4, 8)), rel=1e-6)
    expect = np.quantile(np.tile(mults, 4), NOISE_PROBABILITIES) / 1.1
    assert [m for _, m in fit.noise_points] == pytest.approx(expect.tolist(), abs=1e-6)
    # quantile regression: the p90 line is (a + c b) * the law's 0.9 quantile
    q90 = float(np.quantile(mults, 0.9))
    pa, pc = fit.tail_lines["p90"]
    assert pa + pc * 8 == pytest.approx((a + c * 8) * q90, rel=1e-3)
    table = fit_latency(bt, form="table")
    assert table.median_ns == pytest.approx(tuple(np.median(service[sizes == s]) for s in (1, 2, 4, 8)))


def test_trace_without_start_or_batch_id_names_what_is_missing():
    with pytest.raises(TraceError, match=r"x\.parquet: the trace has no start_ns and no batch_id columns"):
        batch_service_times(_trace([1], [10], with_start=False, with_batch=False), "x.parquet")
    with pytest.raises(TraceError, match=r"the trace has no batch_id column;"):
        batch_service_times(_trace([1], [10], with_batch=False), "x.parquet")


def test_too_few_batches_of_a_size_is_named():
    bt = batch_service_times(_trace([1] * 5 + [4] * 2 + [8], [10] * 8), "t")
    with pytest.raises(ValueError, match=r"batch size 4: 2 batches, batch size 8: 1 batch \(need >= 3"):
        fit_latency(bt, min_batches=3)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "simbench.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_fit_errors_before_writing(tmp_path):
    write_trace(_trace([1, 1, 1], [10, 10, 10], with_start=False), tmp_path / "nostart.parquet")
    write_trace(_trace([1, 1, 2], [10, 10, 20]), tmp_path / "few.parquet")
    r = _cli("profile", "fit", "--trace", "nostart.parquet", "--into", "p.yaml", "--model", "m", cwd=tmp_path)
    assert r.returncode == 2 and "nostart.parquet: the trace has no start_ns column" in r.stderr, r.stderr
    r = _cli("profile", "fit", "--trace", "few.parquet", "--into", "p.yaml", "--model", "m", cwd=tmp_path)
    assert r.returncode == 2 and "batch size 2: 1 batch (need >= 3" in r.stderr, r.stderr
    r = _cli("profile", "fit", "--trace", "few.parquet", "--into", "p.txt", "--model", "m", cwd=tmp_path)
    assert r.returncode == 2 and "--into p.txt: expected a .yaml file name" in r.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_cli_fit_on_the_shipped_real_traces_simulates(tmp_path):
    """The repository's real ONNX Runtime traces: SingleStream plus the Offline sweep."""
    traces = ["--trace", str(ROOT / "traces/resnet50_ort_cpu/SingleStream/trace.parquet")]
    for b in (1, 2, 4, 8):
        traces += ["--trace", str(ROOT / f"traces/resnet50_ort_cpu_offline_batch_sweep/batch_{b}/Offline")]
    r = _cli("profile", "fit", *traces, "--into", "local.yaml", "--model", "resnet50", "--form", "table", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from simbench.profiles import load_profile
    from simbench.trace import read_trace

    m = load_profile(tmp_path / "local.yaml").models["resnet50"]
    assert [p.batch for p in m.latency.points] == [1, 2, 4, 8]
    # table form: latency(1) is the median of every batch-1 service time in the traces
    ss = read_trace(ROOT / "traces/resnet50_ort_cpu/SingleStream/trace.parquet")
    b1 = read_trace(ROOT / "traces/resnet50_ort_cpu_offline_batch_sweep/batch_1/Offline/trace.parquet")
    s1 = np.concatenate([(t.complete_ns - t.start_ns) for t in (ss, b1)])
    assert m.latency.points[0].latency_ns == pytest.approx(float(np.median(s1)), abs=0.1)
    assert "traces/resnet50_ort_cpu/SingleStream/trace.parquet" in m.source
    r = _cli("simulate", "--profile", "local.yaml", "--scenario", "SingleStream", "--min-duration-s", "5",
             "--out", "sim", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_cli_fit_on_a_fresh_mlcommons_engine_trace(tmp_path):
    """(The simbench engine's traces are the shipped ones, fitted above.)"""
    engine = "mlcommons"
    r = _cli("benchmark", "--sut", "onnx:tiny", "--scenario", "Offline", "--batching", "4", "--min-duration-s", "0.1",
             "--min-query-count", "48", "--engine", engine, "--out", "run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("profile", "fit", "--trace", "run/Offline", "--into", "p.yaml", "--model", "tiny", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from simbench.profiles import load_profile

    prof = load_profile(tmp_path / "p.yaml")
    assert [p.batch for p in prof.models["tiny"].latency.points] == [4]
    # LoadGen's own log folder of the same run has no start_ns / batch_id
    r = _cli("profile", "fit", "--trace", "run/Offline/loadgen", "--into", "q.yaml", "--model", "tiny", cwd=tmp_path)
    assert r.returncode == 2
    assert "(LoadGen log import): the trace has no start_ns and no batch_id columns" in r.stderr


def test_table_medians_that_fall_with_batch_are_pooled_isotonically():
    sizes = np.repeat([1, 2, 4], 5)
    service = np.repeat([10.0, 30.0, 20.0], 5)  # batch 4 "faster" than batch 2: noise
    bt = BatchTimes(sizes, service, np.zeros(15, np.int64), np.zeros(15, np.int64), np.zeros(15, np.int64), [{}])
    fit = fit_latency(bt, form="table")
    assert fit.median_ns == pytest.approx((10.0, 25.0, 25.0))  # PAVA: equal weights pool 30 and 20


def _concurrent_trace(n, service_ns, workers=2):
    """``workers`` batches of one sample always in flight, each taking ``service_ns``."""
    rows = {k: [] for k in ("query_id", "sample_index", "issue_ns", "complete_ns", "start_ns", "batch_id", "device_id")}
    for i in range(n):
        w, slot = i % workers, i // workers
        start = slot * service_ns
        for k, v in (("query_id", i), ("sample_index", i), ("issue_ns", 0), ("start_ns", start),
                     ("complete_ns", start + service_ns), ("batch_id", i), ("device_id", w)):
            rows[k].append(v)
    cols = {k: np.array(v, np.int64) for k, v in rows.items()}
    return Trace(metadata={"scenario": "Offline", "engine": "simbench", "sut": {"name": "onnx:x", "workers": workers}}, **cols)


def test_cli_fit_concurrent_trace_writes_streams(tmp_path):
    from simbench.profiles import load_profile

    write_trace(_trace([1] * 20, [1_000_000] * 20), tmp_path / "one.parquet")
    write_trace(_concurrent_trace(40, 1_250_000), tmp_path / "two.parquet")  # 2 / (1 + g) = 1.25: g = 0.6
    r = _cli("profile", "fit", "--trace", "one.parquet", "--concurrent-trace", "two.parquet", "--into", "p.yaml",
             "--model", "m", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = load_profile(tmp_path / "p.yaml").models["m"]
    for scen in ("Server", "Offline"):
        st = m.scenarios[scen].streams
        assert st.count == 2 and st.gain == pytest.approx(0.6, abs=1e-6)
    assert m.scenarios["SingleStream"].streams is None


def test_fit_into_a_built_profile_keeps_the_roofline_compute_share(tmp_path):
    """profile build writes a roofline entry with compute_share; fitting the same model from
    traces replaces its latency but keeps that share (what scales with clock)."""
    from simbench.profiles import load_profile
    from simbench.profiles.dump import write_profile
    from simbench.profiles.fit import fit_into_profile, fitted_model
    from simbench.profiles.roofline import RooflineRates, graph_costs, predict_latency, predicted_model
    from simbench.bench.models import tiny_cnn
    from simbench.profiles.schema import HardwareProfile

    pred = predict_latency(graph_costs(tiny_cnn()), RooflineRates(1e10, 1e10, 1e9, 1000.0, 4.0,
                           {"compute": "c", "conv": "c", "memory": "m", "overhead": "o"}), (1, 2, 4))
    rm = predicted_model(pred, description="tiny", profile_name="p")
    assert [p.share for p in rm.compute_share.points] == pytest.approx(list(pred.compute_bound_share), abs=1e-6)
    prof = HardwareProfile.model_validate({"name": "p", "device": "cpu", "models": {
        "tiny": rm.model_dump(mode="json", exclude_unset=True)}})
    write_profile(prof, tmp_path / "p.yaml")
    bt = batch_service_times(_trace([1] * 5, [1000] * 5), "t")
    new = fit_into_profile(tmp_path / "p.yaml", "tiny", fitted_model(fit_latency(bt), bt))
    m = new.models["tiny"]
    assert m.latency.points[0].latency_ns == 1000.0
    assert m.compute_share == rm.compute_share and m.compute_bound_share == rm.compute_bound_share
