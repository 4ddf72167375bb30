"""Prototype for a next step: would "machine pauses that begin while the worker is idle" close
the gap between predicted and measured Server p99 (no batching, one worker)?

Reads a fidelity run's folder (``run.py --out DIR``). Fits from the SingleStream trace only:

* service: the SingleStream service times (``complete - start``), bootstrapped i.i.d. — what
  the fitted profile's noise law does;
* idle pauses: SingleStream's harness hand-offs carry no model work (``start - issued`` and
  ``complete -> next issued``); their excess over their median, where it exceeds
  ``--threshold-ms``, is taken as a machine pause; rate = pauses / total hand-off time,
  durations = the excesses. A pause that begins while the worker is idle delays the next
  start to its end (pauses that begin during a service are already in the service times).

Then a FIFO one-worker queue with Poisson arrivals at each real Server run's achieved QPS
(the real runs give only their rate) is simulated 20 times x 20,000 queries, without and
with the idle pauses, and the mean (min..max) p99 printed beside the real run's p99.

    python benchmarks/fidelity/pause_model_prototype.py /tmp/fidelity_full --model small

docs/fidelity.md ("What the full run says") holds what it printed for the full run.
"""

from __future__ import annotations

import argparse
import glob

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from simbench.stats import loadgen_percentile
    from simbench.trace import read_trace

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root")
    ap.add_argument("--model", default="small")
    ap.add_argument("--threshold-ms", type=float, default=1.0)
    a = ap.parse_args(argv)
    ss = read_trace(f"{a.root}/{a.model}/ss/SingleStream/trace.parquet")
    svc = (ss.complete_ns - ss.start_ns).astype(float)
    gap = np.concatenate([ss.issued_ns[1:] - ss.complete_ns[:-1], ss.start_ns - ss.issued_ns]).astype(float)
    exc = gap - np.median(gap)
    pz = exc[exc > a.threshold_ms * 1e6]
    rate = pz.size / (gap.sum() / 1e9)
    print(f"SingleStream: {len(ss)} queries; hand-offs {gap.sum() / 1e9:.3f} s; {pz.size} pauses > {a.threshold_ms} ms "
          f"-> {rate:.1f} per idle second, median {np.median(pz) / 1e6 if pz.size else 0:.1f} ms, longest "
          f"{pz.max() / 1e6 if pz.size else 0:.1f} ms")
    rng = np.random.default_rng(0)
    for d in sorted(glob.glob(f"{a.root}/{a.model}/real_none_*_r*")):
        tr = read_trace(f"{d}/Server/trace.parquet")
        qps = len(tr) / (tr.issue_ns.max() / 1e9)
        out = []
        for use_pause in (False, True):
            p99 = []
            for _ in range(20):
                n = 20000
                arr = np.cumsum(rng.exponential(1e9 / qps, n))
                s = rng.choice(svc, n)
                horizon = arr[-1] + 1e9
                k = rng.poisson(rate * horizon / 1e9)
                pa = np.sort(rng.uniform(0, horizon, k))
                pe = pa + (rng.choice(pz, k) if k else np.zeros(0))
                free = 0.0
                lat = np.empty(n)
                for i in range(n):
                    t = max(arr[i], free)
                    if use_pause and arr[i] >= free:  # idle since `free`: pauses begun in [free, t]
                        lo, hi = np.searchsorted(pa, free), np.searchsorted(pa, t, side="right")
                        if hi > lo:
                            t = max(t, pe[lo:hi].max())
                    free = t + s[i]
                    lat[i] = free - arr[i]
                p99.append(loadgen_percentile(lat.astype(np.int64), 0.99) / 1e6)
            out.append((np.mean(p99), np.min(p99), np.max(p99)))
        real = loadgen_percentile(tr.query_latencies_ns(), 0.99) / 1e6
        print(f"{d.rsplit('/', 1)[-1]:20s} {qps:7.1f} QPS  real p99 {real:7.1f} ms | i.i.d. service {out[0][0]:6.1f} "
              f"({out[0][1]:.1f}-{out[0][2]:.1f}) | + idle pauses {out[1][0]:6.1f} ({out[1][1]:.1f}-{out[1][2]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
