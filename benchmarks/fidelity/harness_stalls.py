"""Where real Server latency goes on this machine: the harness's own stalls against the SUT.

Runs ``LoadGenerator`` (the real load generator) on ONNX Runtime's small CNN (one intra-op
thread, one worker) in the Server scenario, with and without the trace spill that
``simbench benchmark`` runs (``spill_dir``), and prints per run: how long each spill took and
when, the query p99, the p99/max of the issue lag (issued - scheduled) and of the service
time (complete - start). A stall probe (a busy loop in its own process, run before the runs)
says how often the machine itself takes the CPU away.

    python benchmarks/fidelity/harness_stalls.py --qps 600 --seconds 4 --repeats 2
    python benchmarks/fidelity/harness_stalls.py --service-after-idle --repeats 3

``--service-after-idle`` times one ONNX Runtime session of the small CNN directly (no
harness): the median of 60 back-to-back runs per batch size (1, 2, 4, 8), of 240 runs with
the size drawn at random from those four (mixed shapes), and of 60 batch-1 runs each after
3 ms of sleep (service after idle).

docs/fidelity.md ("Diagnosis") holds what it measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def one_run(qps: float, seconds: float, spill: bool) -> dict:
    import simbench.trace as st
    from simbench.bench.loadgen import LoadGenerator
    from simbench.bench.sut import make_sut
    from simbench.settings import TestSettings
    from simbench.stats import loadgen_percentile

    flushes: list[tuple[int, int]] = []
    orig = st.TraceSpill.flush

    def timed_flush(self):
        a = time.perf_counter_ns()
        orig(self)
        flushes.append((a, time.perf_counter_ns()))

    st.TraceSpill.flush = timed_flush
    try:
        sut = make_sut("onnx:small", threads=1, workers=1)
        s = TestSettings(scenario="Server", server_target_qps=qps, min_duration_ms=int(seconds * 1000), min_query_count=1,
                         server_target_latency_ns=100_000_000)
        with tempfile.TemporaryDirectory(prefix="fidelity_stalls_") as d:
            lg = LoadGenerator(sut, s, qsl_total_count=1024, qsl_performance_count=1024,
                               spill_dir=(d + "/trace.parts") if spill else None)
            run = lg.run()
    finally:
        st.TraceSpill.flush = orig
    t = run.trace
    lag = t.issued_ns - t.issue_ns
    svc = t.complete_ns - t.start_ns
    ms = lambda v: float(v) / 1e6  # noqa: E731
    return {
        "spill": spill,
        "p99_ms": ms(loadgen_percentile(t.query_latencies_ns(), 0.99)),
        "lag_p99_ms": ms(loadgen_percentile(lag, 0.99)), "lag_max_ms": ms(lag.max()),
        "service_p99_ms": ms(loadgen_percentile(svc, 0.99)), "service_max_ms": ms(svc.max()),
        "spills": [(ms(a - lg._t0), ms(b - a)) for a, b in flushes],
    }


def service_after_idle(repeats: int) -> None:
    import onnxruntime as ort

    from simbench.bench.models import model_path

    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model_path("small")), o, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((8, *sess.get_inputs()[0].shape[1:]), dtype=np.float32)

    def timed(b: int) -> float:
        a = time.perf_counter_ns()
        sess.run(None, {name: x[:b]})
        return (time.perf_counter_ns() - a) / 1e6

    rng = np.random.default_rng(1)
    for b in (1, 8):
        for _ in range(20):
            timed(b)
    for _ in range(repeats):
        fixed = {b: float(np.median([timed(b) for _ in range(60)])) for b in (1, 2, 4, 8)}
        mixed: dict[int, list[float]] = {1: [], 2: [], 4: [], 8: []}
        for _ in range(240):
            b = int(rng.choice([1, 2, 4, 8]))
            mixed[b].append(timed(b))
        idle = []
        for _ in range(60):
            time.sleep(0.003)
            idle.append(timed(1))
        print("back to back (ms)", {b: round(v, 2) for b, v in fixed.items()},
              "| mixed shapes", {b: round(float(np.median(v)), 2) for b, v in mixed.items()},
              f"| batch 1 after 3 ms idle {float(np.median(idle)):.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qps", type=float, default=600.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--service-after-idle", action="store_true", help="time ORT alone: back to back, mixed shapes, after idle")
    a = ap.parse_args(argv)
    if a.service_after_idle:
        import os

        print(f"load average {os.getloadavg()[0]:.1f}")
        service_after_idle(a.repeats)
        return 0
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from run import _stall_probe

    pr = _stall_probe(5.0)
    print(f"load average {os.getloadavg()[0]:.1f}; stall probe: {pr['per_s_over_1ms']:.1f} gaps/s > 1 ms, "
          f"{pr['per_s_over_5ms']:.1f}/s > 5 ms, longest {pr['max_ms']:.1f} ms, {pr['lost_share']:.1%} lost")
    for _ in range(a.repeats):
        for spill in (True, False):
            r = one_run(a.qps, a.seconds, spill)
            sp = ", ".join(f"{t:.0f} ms: {d:.1f} ms" for t, d in r["spills"])
            print(f"spill={'on ' if spill else 'off'} p99 {r['p99_ms']:6.1f} ms | lag p99 {r['lag_p99_ms']:5.1f} max "
                  f"{r['lag_max_ms']:5.1f} | service p99 {r['service_p99_ms']:5.2f} max {r['service_max_ms']:5.1f} ms"
                  + (f" | spills (at: took) {sp}" if sp else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
