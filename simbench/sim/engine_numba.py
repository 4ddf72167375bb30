"""The numba-compiled fast path of the simulated SUT.

It implements exactly the event semantics of the SimPy reference model
(``simbench.sim.engine_simpy``), for the configurations both support, so that for the same
inputs both produce the identical Trace. The semantics, at every instant ``t``:

1. devices whose batch finishes at ``t`` complete its samples (lowest device index first);
   in a closed loop (SingleStream/MultiStream) a completed query lets the next one issue
   at ``t``;
2. queries scheduled at or before ``t`` join the FIFO sample queue (open loop: Server,
   Offline);
3. while a device is idle and samples wait: the lowest-index idle device takes
   ``max_batch`` samples if that many wait, or all waiting samples (at most ``max_batch``)
   once the oldest has waited ``timeout_ns``; otherwise the next event is that deadline.

A batch of ``b`` samples dispatched as the ``k``-th batch of the run takes
``service_time_ns(latency_table, b, m)`` with ``m`` the next draw of the
service-noise generator (``draw_multiplier``), one draw per batch in dispatch order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simbench.profiles.latency import draw_multiplier, service_time_ns

_INF = np.iinfo(np.int64).max


@njit(cache=True)
def run_kernel(
    closed,
    samples_per_query,
    arrivals_ns,
    generated_queries,
    min_query_count,
    min_duration_ns,
    max_duration_ns,
    batch_points,
    latency_points_ns,
    max_batch,
    timeout_ns,
    replicas,
    rng,
    noise_kind,
    noise_sigma,
    noise_probs,
    noise_mults,
    record=True,
    latency_bound_ns=-1,
):
    """Simulate one run. Returns per-query issue times and per-sample start/complete/batch/device.

    With ``record=False`` no per-sample arrays are kept (they come back empty), which makes a
    run of tens of millions of queries much cheaper when only ``overlatency`` is needed
    (the peak search). ``overlatency`` counts samples whose latency exceeds
    ``latency_bound_ns`` (when >= 0).

    Returns
    -------
    (query_issue_ns, start_ns, complete_ns, batch_id, device_id, queries_issued,
     batches, ran_out, overlatency)
    """
    inf = np.iinfo(np.int64).max
    spq = samples_per_query
    if closed:
        q_cap = generated_queries
        n_open = 0
    else:
        q_cap = arrivals_ns.shape[0]
        n_open = q_cap
        if max_duration_ns > 0:
            n_open = 0
            while n_open < q_cap and arrivals_ns[n_open] < max_duration_ns:
                n_open += 1
    s_cap = q_cap * spq if record else 0
    if closed:
        q_issue = np.empty(q_cap, dtype=np.int64)
    else:
        q_issue = arrivals_ns  # open loop: a query's issue time is its scheduled time
    start = np.empty(s_cap, dtype=np.int64)
    complete = np.empty(s_cap, dtype=np.int64)
    batch = np.empty(s_cap, dtype=np.int64)
    device = np.empty(s_cap, dtype=np.int64)
    overlatency = 0
    busy = np.zeros(replicas, dtype=np.bool_)
    free_at = np.zeros(replicas, dtype=np.int64)
    b_first = np.zeros(replicas, dtype=np.int64)
    b_size = np.zeros(replicas, dtype=np.int64)
    head = 0
    tail = 0
    nq = 0
    k = 0
    a = 0
    ran_out = False
    stop_issuing = False
    remaining = 0
    now = 0
    if closed:
        q_issue[0] = 0
        tail = spq
        nq = 1
        remaining = spq
        if nq >= min_query_count and 0 >= min_duration_ns:
            stop_issuing = True
    n_idle = replicas
    while a < n_open and arrivals_ns[a] <= 0:
        tail += spq
        a += 1
    if not closed:
        nq = a
    while True:
        # 3. dispatch (at the current instant, after its completions and arrivals)
        while head < tail and n_idle > 0:
            qlen = tail - head
            if qlen >= max_batch or now >= q_issue[head // spq] + timeout_ns:
                b = qlen if qlen < max_batch else max_batch
                d = 0
                while busy[d]:
                    d += 1
                mult = draw_multiplier(rng, noise_kind, noise_sigma, noise_probs, noise_mults)
                svc = service_time_ns(batch_points, latency_points_ns, b, mult)
                if record:
                    for s in range(head, head + b):
                        start[s] = now
                        batch[s] = k
                        device[s] = d
                busy[d] = True
                n_idle -= 1
                free_at[d] = now + svc
                b_first[d] = head
                b_size[d] = b
                head += b
                k += 1
            else:
                break
        t = inf
        # With every device busy an arrival changes nothing but the queue, so arrivals are
        # absorbed at the next completion (their issue times are kept): same outcome, fewer
        # loop iterations.
        if a < n_open and n_idle > 0:
            t = arrivals_ns[a]
        for d in range(replicas):
            if busy[d] and free_at[d] < t:
                t = free_at[d]
        if head < tail and tail - head < max_batch and n_idle > 0:
            deadline = q_issue[head // spq] + timeout_ns
            if deadline < t:
                t = deadline
        if t == inf:
            if a < n_open:
                t = arrivals_ns[a]
            else:
                break
        now = t
        # 1. completions
        for d in range(replicas):
            if busy[d] and free_at[d] == now:
                busy[d] = False
                n_idle += 1
                f = b_first[d]
                if record:
                    for s in range(f, f + b_size[d]):
                        complete[s] = now
                if latency_bound_ns >= 0:
                    for s in range(f, f + b_size[d]):
                        if now - q_issue[s // spq] > latency_bound_ns:
                            overlatency += 1
                if closed:
                    remaining -= b_size[d]
                    if remaining == 0 and not stop_issuing:
                        if max_duration_ns > 0 and now >= max_duration_ns:
                            stop_issuing = True
                        elif nq >= generated_queries:
                            ran_out = True
                            stop_issuing = True
                        else:
                            q_issue[nq] = now
                            tail += spq
                            nq += 1
                            remaining = spq
                            if nq >= min_query_count and now >= min_duration_ns:
                                stop_issuing = True
        # 2. arrivals
        while a < n_open and arrivals_ns[a] <= now:
            tail += spq
            a += 1
        if not closed:
            nq = a
    n_s = nq * spq if record else 0
    return (
        q_issue[:nq].copy(),
        start[:n_s],
        complete[:n_s],
        batch[:n_s],
        device[:n_s],
        nq,
        k,
        ran_out,
        overlatency,
    )
