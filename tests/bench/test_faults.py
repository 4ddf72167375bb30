"""Faults: a SUT that raises, reports a wrong id, never completes; Ctrl-C. Nothing completed is lost."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from simbench.report import render_text
from simbench.bench.loadgen import BenchmarkInterrupted, LoadGenerator
from simbench.bench.sut import CallableSUT, NullSUT

from bench_helpers import short_settings


def _gen(sut, scenario="Server", stall_timeout_s=0.3, **kw):
    return LoadGenerator(
        sut, short_settings(scenario, **kw), qsl_total_count=1000, qsl_performance_count=256, stall_timeout_s=stall_timeout_s
    )


class _Counter:
    def __init__(self, fail_at):
        self.n = 0
        self.fail_at = fail_at

    def __call__(self, indices):
        self.n += 1
        if self.n == self.fail_at:
            raise RuntimeError("device lost")


@pytest.mark.parametrize("scenario", ["SingleStream", "Server", "Offline"])
def test_sut_that_raises(scenario):
    run = _gen(CallableSUT(_Counter(11), workers=1), scenario, min_query_count=50).run()
    assert run.status == "failed"
    assert "SUT raised RuntimeError: device lost" in run.errors[0]
    assert not run.summary.result_valid
    assert len(run.trace) == 10  # the ten samples before the failure, all kept
    assert render_text(run.summary).count("ERROR") == 1


class _WrongIdSUT(NullSUT):
    name = "WrongId"

    def __init__(self, bad_at, bad_id):
        super().__init__()
        self.count, self.bad_at, self.bad_id = 0, bad_at, bad_id

    def issue_query(self, samples):
        self.count += 1
        ids = [s.id for s in samples]
        if self.count == self.bad_at:
            ids = [self.bad_id(ids[0])]
        self._sink.complete(ids)


@pytest.mark.parametrize(
    "bad_id, why",
    [(lambda i: i + 10_000, "never issued"), (lambda i: i - 1, "already completed")],
)
def test_sut_reports_wrong_sample_id(bad_id, why):
    run = _gen(_WrongIdSUT(6, bad_id), "SingleStream").run()
    assert run.status == "failed"
    assert "wrong sample id" in run.errors[0] and why in run.errors[0]
    assert len(run.trace) == 5 and not run.summary.result_valid


class _BlackHole(NullSUT):
    """Completes the first ``n`` samples, then never again."""

    name = "BlackHole"

    def __init__(self, n):
        super().__init__()
        self.left = n

    def issue_query(self, samples):
        if self.left > 0:
            self.left -= len(samples)
            self._sink.complete([s.id for s in samples])


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_sut_never_completes(scenario):
    t0 = time.perf_counter()
    sut = _BlackHole(0 if scenario == "Offline" else 16)
    run = _gen(sut, scenario, stall_timeout_s=0.2).run()
    assert time.perf_counter() - t0 < 5
    assert run.status == "failed" and "never completed" in run.errors[0]
    assert run.outstanding_samples > 0
    if scenario == "Offline":
        assert run.summary is None and len(run.trace) == 0
    else:
        assert len(run.trace) == 16 and not run.summary.result_valid


def test_failed_run_files_are_written(tmp_path):
    from simbench.bench.job import write_run
    from simbench.trace import read_trace

    run = _gen(CallableSUT(_Counter(4)), "Server").run()
    write_run(run, tmp_path)
    assert len(read_trace(tmp_path / "trace.parquet")) == 3
    d = json.loads((tmp_path / "summary.json").read_text())
    assert d["result_validity"] == "INVALID" and d["run_status"] == "failed"
    assert "INVALID" in (tmp_path / "mlperf_log_summary.txt").read_text()


@pytest.fixture(autouse=True, scope="module")
def _warm_numba():
    """Compile the schedule kernels first, so the timed Ctrl-C tests below never fire their
    signal while a fresh install is still JIT-compiling (before any query was issued)."""
    from simbench.schedule import schedule
    from simbench.settings import TestSettings, resolve

    schedule(resolve(TestSettings(scenario="Server", server_target_qps=100, min_duration_ms=100), 10, 10))


def _sigint_after(seconds):
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


class _SignalAfter:
    """A SUT function that logs every sample it ran and sends this process SIGINT right
    after running its ``n``-th: the signal comes at an observable point of the run (not
    after a sleep), however loaded the machine is."""

    def __init__(self, n):
        self.n, self.log, self.lock = n, [], threading.Lock()

    def __call__(self, indices):
        time.sleep(0.001)
        with self.lock:
            self.log.extend(int(i) for i in indices)
            fire = len(self.log) == self.n
        if fire:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("scenario", ["SingleStream", "Server"])
def test_ctrl_c_keeps_partial_trace(scenario):
    fn = _SignalAfter(30)
    gen = _gen(CallableSUT(fn, workers=1), scenario, min_duration_ms=20_000)
    with pytest.raises(BenchmarkInterrupted) as exc:
        gen.run()
    run = exc.value.run
    assert isinstance(exc.value, KeyboardInterrupt)
    assert run.status == "interrupted" and "interrupted" in run.errors[-1]
    # Every sample completed before the stop is in the trace: the SUT's own log holds them
    # all, plus at most the one it was running when the run stopped.
    assert len(run.trace) >= 30
    assert 0 <= len(fn.log) - len(run.trace) <= 1
    assert run.trace.sample_index.tolist() == fn.log[: len(run.trace)]
    # The run stopped at once: a few more queries at most (SingleStream issues one at a time).
    assert len(fn.log) < 60
    assert np.all(run.trace.complete_ns > 0)
    assert not run.summary.result_valid


def test_ctrl_c_in_job_flushes_trace_before_exit(tmp_path):
    from simbench.bench.job import BenchmarkOptions, benchmark_job
    from simbench.settings import Scenario
    from simbench.trace import read_trace

    opts = BenchmarkOptions(
        sut="null", scenarios=(Scenario.Server,), target_qps=500, min_duration_s=30, out=str(tmp_path)
    )
    fired = []

    def on_event(kind, info):
        # Ctrl-C once the run is under way (not during set-up), from a timer thread as a
        # terminal would deliver it.
        if kind == "progress" and info.get("completed_samples", 0) >= 60 and not fired:
            fired.append(_sigint_after(0.05))

    with pytest.raises(KeyboardInterrupt):
        benchmark_job(opts, on_event=on_event)
    t = read_trace(tmp_path / "Server" / "trace.parquet")
    assert len(t) > 50 and t.metadata["run_status"] == "interrupted"
    d = json.loads((tmp_path / "Server" / "summary.json").read_text())
    assert d["run_status"] == "interrupted"
