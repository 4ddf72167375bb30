"""The real SUT's dynamic batcher forms the simulator's batches on the same schedule.

A real ``CallableSUT`` (its worker threads and ``BatchQueue``) with a fixed service time is fed
a designed schedule by a driver thread; the moments it actually received each sample are then
replayed in the simulator (``ReplayArrivals``) with the same batching policy and a constant
latency table. Both must form the same batches, in the same order.

The schedule is built so that every decision the simulator takes (a dispatch at a deadline, at
a completion or when a batch fills) is at least ``MARGIN_NS`` away from every arrival: a real
decision that lags the simulated one by less than that (thread wake-up, sleep overshoot,
accumulated over the <= 4 chained batches of an episode) sees the same queue, so the batches
are equal. The episodes are chosen so that measuring the timeout from when the worker
*started waiting* (the old rule) instead of from the *oldest queued sample's arrival*
(Triton's ``max_queue_delay``, the simulator's rule) forms different batches.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from simbench.batching import DynamicBatching
from simbench.bench.base import QuerySample
from simbench.bench.sut import CallableSUT
from simbench.settings import TestSettings
from simbench.sim import simulate
from simbench.testing import RecordingSink, ReplayArrivals, make_sut

MS = 1_000_000
SERVICE_NS = 120 * MS
TIMEOUT_US = 160_000.0
MAX_BATCH = 4
MARGIN_NS = 40 * MS

# Episodes start with an idle, empty SUT; times in ms from the episode start.
EPISODES = [
    # [0, 80] at the deadline 160; then 200 waits from its own arrival (deadline 360) although
    # the worker is busy until 280, so 420 is a batch of its own (the old rule waited from
    # 280 until 440 and took 420 along)
    (0, [0, 80, 200, 420]),
    # a full batch dispatches at once (60); 100 waits from its arrival (deadline 260), not
    # from the completion at 180, so 300 is a batch of its own
    (1000, [0, 20, 40, 60, 100, 300]),
    # six samples queue behind a busy worker: a full batch at the completion (280), then the
    # two left, their deadline (380) past, at the next completion (400) without waiting
    # again, so 470 is a batch of its own
    (2000, [0, 200, 205, 210, 215, 220, 225, 470]),
]
DESIGN_NS = np.array([(base + t) * MS for base, ts in EPISODES for t in ts], dtype=np.int64)


def _simulated_batches(arrivals_ns: np.ndarray, workers: int):
    n = int(arrivals_ns.shape[0])
    settings = TestSettings(scenario="Server", server_target_qps=1.0, min_duration_ms=0, min_query_count=n)
    sut = make_sut(
        table=[(1, SERVICE_NS), (MAX_BATCH, SERVICE_NS)],
        batching=DynamicBatching(max_batch=MAX_BATCH, timeout_us=TIMEOUT_US),
        replicas=workers,
    )
    run = simulate(settings, sut, engine="simpy", arrivals=ReplayArrivals(arrivals_ns - arrivals_ns[0]),
                   qsl_performance_count=n)
    t = run.trace
    order = np.lexsort((t.query_id, t.batch_id))
    groups: dict[int, list[int]] = {}
    for b, q in zip(t.batch_id[order].tolist(), t.query_id[order].tolist()):
        groups.setdefault(b, []).append(q)
    starts = {int(b): int(s) for b, s in zip(t.batch_id, t.start_ns)}
    return [groups[b] for b in sorted(groups)], [starts[b] for b in sorted(groups)], t


def _margin_ns(arrivals_ns: np.ndarray, starts_ns: list[int], complete_ns: np.ndarray) -> int:
    """Smallest distance between an arrival and a decision of the simulator that no arrival
    triggered (a dispatch at a deadline or at a completion, and every completion)."""
    decisions = np.setdiff1d(np.unique(np.concatenate([np.asarray(starts_ns), complete_ns])), arrivals_ns)
    return int(np.abs(arrivals_ns[:, None] - decisions[None, :]).min())


def _rule_batches(oldest_arrival: bool) -> list[list[int]]:
    """Closed form of one worker's batches under either timeout rule: the timeout runs from
    the oldest queued sample's arrival (True) or from when the worker began waiting (False)."""
    arr, timeout, out = DESIGN_NS.tolist(), int(TIMEOUT_US * 1000), []
    free, head = 0, 0
    while head < len(arr):
        begin = max(free, arr[head])
        deadline = (arr[head] if oldest_arrival else begin) + timeout
        kth = head + MAX_BATCH - 1
        full_at = arr[kth] if kth < len(arr) else None
        start = max(begin, min(deadline, full_at) if full_at is not None else deadline)
        end = head
        while end < len(arr) and end - head < MAX_BATCH and arr[end] <= start:
            end += 1
        out.append(list(range(head, end)))
        head, free = end, start + SERVICE_NS
    return out


def _real_batches(workers: int):
    sut = CallableSUT(lambda idx: time.sleep(SERVICE_NS / 1e9), workers=workers,
                      batching=DynamicBatching(max_batch=MAX_BATCH, timeout_us=TIMEOUT_US))
    sink = RecordingSink()
    sut.start(sink)
    received = np.zeros(DESIGN_NS.shape[0], dtype=np.int64)
    try:
        t0 = time.perf_counter_ns()
        for i, at in enumerate(DESIGN_NS.tolist()):
            left = t0 + at - time.perf_counter_ns()
            if left > 0:
                time.sleep(left / 1e9)
            received[i] = time.perf_counter_ns()
            sut.issue_query([QuerySample(i, i)])
        assert sink.wait(len(DESIGN_NS), timeout_s=30), sink.failures
    finally:
        sut.stop()
    recs = sorted(sink.records, key=lambda r: r[1])
    return [sorted(r[0]) for r in recs], [r[1] - received[0] for r in recs], received - received[0]


def test_design_keeps_every_decision_far_from_every_arrival():
    groups, starts, trace = _simulated_batches(DESIGN_NS, 1)
    assert _margin_ns(DESIGN_NS, starts, trace.complete_ns) >= MARGIN_NS
    # two workers: the full batch of episode 3 goes to the idle second worker at once (10 ms
    # earlier than one worker could), which brings one decision to 30 ms of an arrival
    groups2, starts2, trace2 = _simulated_batches(DESIGN_NS, 2)
    assert _margin_ns(DESIGN_NS, starts2, trace2.complete_ns) >= 30 * MS
    assert sorted(set(trace2.device_id.tolist())) == [0, 1]
    expected = [[0, 1], [2], [3], [4, 5, 6, 7], [8], [9], [10], [11, 12, 13, 14], [15, 16], [17]]
    assert groups == expected == _rule_batches(oldest_arrival=True)


def test_the_schedule_tells_the_two_rules_apart():
    old = _rule_batches(oldest_arrival=False)
    assert old == [[0, 1], [2, 3], [4, 5, 6, 7], [8, 9], [10], [11, 12, 13, 14], [15, 16, 17]]
    assert old != _simulated_batches(DESIGN_NS, 1)[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_real_batcher_forms_the_simulators_batches(workers):
    real_groups, real_starts, received = _real_batches(workers)
    sim_groups, sim_starts, trace = _simulated_batches(received, workers)
    lag_ms = [round((r - s) / MS, 2) for r, s in zip(real_starts, sim_starts)]
    margin = _margin_ns(received, sim_starts, trace.complete_ns)
    assert real_groups == sim_groups, (
        f"dispatch lag of the real batcher behind the simulator (ms): {lag_ms}; replayed margin"
        f" {margin / MS:.1f} ms"
    )
