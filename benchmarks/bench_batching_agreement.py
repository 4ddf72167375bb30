"""Does the real dynamic batcher form the simulator's batches on LoadGen's own schedule?

A real ``CallableSUT`` with a fixed service time (``time.sleep``) runs the Server scenario
under ``simbench.bench.LoadGenerator`` (LoadGen's Poisson schedule). The moments it received
each query (the trace's ``issued_ns``) are then replayed in the simulator
(``simbench.testing.ReplayArrivals``) with the same batching policy and the real run's median
service time as a constant latency table. Printed: the share of samples whose batch (the set
of queries served together) is the same in both, the share of identical batches, and how far
the real dispatches lag the simulated ones (p50/p99/max over identical batches).

One early decision that jitter tips the other way (an arrival a few hundred us before or after
a deadline) shifts every later batch until the queue empties, so the whole-run figure mixes
the rule with the machine's timing noise. The second figure checks the rule decision by
decision (one worker): at each real dispatch, given the real queue and the real completion of
the previous batch, the rule's dispatch instant and batch; printed are the share of real
batches equal to the rule's and the real lag behind the rule's instant.

    python benchmarks/bench_batching_agreement.py [--qps 150] [--service-ms 20] [--batching dynamic:8:10000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from simbench.batching import parse_batching
from simbench.bench.loadgen import LoadGenerator
from simbench.bench.sut import CallableSUT
from simbench.settings import TestSettings, official_settings
from simbench.sim import simulate
from simbench.testing import ReplayArrivals, make_sut


def _batches(trace) -> dict[frozenset, int]:
    groups: dict[int, list[int]] = {}
    for b, q in zip(trace.batch_id.tolist(), trace.query_id.tolist()):
        groups.setdefault(b, []).append(q)
    starts = {}
    for b, s in zip(trace.batch_id.tolist(), trace.start_ns.tolist()):
        starts.setdefault(b, s)
    return {frozenset(g): starts[b] for b, g in groups.items()}


def _per_decision(real, policy) -> None:
    """The rule, checked at each real dispatch given the real queue (one worker, FIFO)."""
    order = np.argsort(real.query_id)
    arr = real.issued_ns[order]
    first = {}
    for b, q, s, c in zip(real.batch_id.tolist(), real.query_id.tolist(), real.start_ns.tolist(), real.complete_ns.tolist()):
        lo = first.get(b, (q, s, c, 0))
        first[b] = (min(lo[0], q), s, c, lo[3] + 1)
    batches = sorted(first.values(), key=lambda v: v[1])
    timeout_ns = int(round(policy.timeout_us * 1000))
    free, head, ok, lags = 0, 0, 0, []
    for q0, start, complete, size in batches:
        kth = head + policy.max_batch - 1
        due = arr[head] + timeout_ns
        if kth < len(arr):
            due = min(due, arr[kth])
        rule_start = max(free, due)
        rule_size = int(np.searchsorted(arr, rule_start, side="right")) - head
        rule_size = max(1, min(rule_size, policy.max_batch))
        ok += (q0 == head and size == rule_size)
        lags.append((start - rule_start) / 1e6)
        head, free = head + size, complete
    lags = np.array(lags)
    print(f"  per decision: {ok}/{len(batches)} real batches ({ok / len(batches):.2%}) are the rule's batch at the real"
          f" dispatch; real lag behind the rule's instant p50 {np.percentile(lags, 50):.3f} ms,"
          f" p99 {np.percentile(lags, 99):.3f} ms, max {lags.max():.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qps", type=float, default=150.0)
    ap.add_argument("--service-ms", type=float, default=20.0)
    ap.add_argument("--batching", default="dynamic:8:10000")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    policy = parse_batching(args.batching)
    service_s = args.service_ms / 1e3
    settings = dataclasses.replace(
        official_settings("resnet50", "Server"), server_target_qps=args.qps,
        min_duration_ms=int(args.seconds * 1000), min_query_count=1,
    )
    sut = CallableSUT(lambda idx: time.sleep(service_s), workers=args.workers, batching=policy)
    real = LoadGenerator(sut, settings, qsl_total_count=1024, qsl_performance_count=1024).run().trace
    arrivals = real.issued_ns - real.issued_ns[0]
    by_batch = {}
    for b, s, c in zip(real.batch_id.tolist(), real.start_ns.tolist(), real.complete_ns.tolist()):
        by_batch[b] = c - s
    service_ns = float(np.median(list(by_batch.values())))
    sim = simulate(
        TestSettings(scenario="Server", server_target_qps=1.0, min_duration_ms=0, min_query_count=len(arrivals)),
        make_sut(table=[(1, service_ns), (policy.max_batch, service_ns)], batching=policy, replicas=args.workers),
        engine="simpy", arrivals=ReplayArrivals(arrivals), qsl_performance_count=len(arrivals),
    ).trace
    rb, sb = _batches(real), _batches(sim)
    same = set(rb) & set(sb)
    samples_same = sum(len(g) for g in same)
    lag_ms = np.array([(rb[g] - real.issued_ns[0]) - sb[g] for g in same]) / 1e6
    sizes_real = np.bincount([len(g) for g in rb], minlength=policy.max_batch + 1)[1:]
    sizes_sim = np.bincount([len(g) for g in sb], minlength=policy.max_batch + 1)[1:]
    print(f"Server {args.qps:g} QPS for {args.seconds:g} s, service {args.service_ms:g} ms (real median {service_ns / 1e6:.3f} ms),"
          f" --batching {args.batching}, {args.workers} worker(s): {len(real)} samples")
    print(f"  samples in the same batch as simulated: {samples_same}/{len(real)} ({samples_same / len(real):.2%})")
    print(f"  identical batches: {len(same)} of {len(rb)} real / {len(sb)} simulated")
    print(f"  batch sizes 1..{policy.max_batch}: real {sizes_real.tolist()}  simulated {sizes_sim.tolist()}")
    if args.workers == 1:
        _per_decision(real, policy)
    if len(lag_ms):
        print(f"  real dispatch lag behind the simulator (identical batches): p50 {np.percentile(lag_ms, 50):.3f} ms,"
              f" p99 {np.percentile(lag_ms, 99):.3f} ms, max {lag_ms.max():.3f} ms")


if __name__ == "__main__":
    main()
