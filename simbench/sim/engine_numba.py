"""The numba-compiled fast path of the simulated SUT.

It implements exactly the event semantics of the SimPy reference model
(``simbench.sim.engine_simpy``), so that for the same inputs both produce the identical Trace
and device timeline. The model arrives as two typed structures (``RunPlan``, ``EngineModel``
from ``simbench.sim.device``), never as a list of positional arguments.

Order of events at one instant ``t`` (both engines):

0. governor phase, for each device (lowest index first; devices are independent):
   a clock change chosen ``transition_ns`` earlier takes effect, then the governor tick (at
   ``t = k * period``) reads the last period (mean power, utilization), advances the RC
   temperature, and picks the clock (``simbench.sim.governors.decide_clock``);
1. devices whose batch finishes at ``t`` complete its samples (lowest stream slot first);
   in a closed loop (SingleStream/MultiStream) a completed query lets the next one issue
   at ``t``;
2. queries scheduled at or before ``t`` join the FIFO sample queue (open loop: Server,
   Offline);
3. while a stream is free and samples wait: the lowest-index device with a free stream takes
   ``max_batch`` samples if that many wait, or all waiting samples (at most ``max_batch``)
   once the oldest has waited ``timeout_ns``; otherwise the next event is that deadline.

A batch of ``b`` samples dispatched as the ``k``-th batch of the run on a device at clock
index ``i`` with ``n`` batches then in flight on it (itself included) takes
``device_service_time_ns(table, share, b, f_ref / f_i, n, gain, m)`` with ``m`` the next draw of the
service-noise generator, one draw per batch in dispatch order. The batch keeps that duration
even if the clock changes while it runs (a change applies to batches dispatched after it);
the device's power follows its current clock.

Energy is integrated exactly: each device's power is constant between its events
(dispatch, completion, clock change, tick), ``E += P * dt`` at each of them. Without a
governor (one clock) the engines count busy time only and compute
``E = P_busy * busy_ns + P_idle * (end_ns - busy_ns)`` at the end (the same value, without
floating-point work on the hot path).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simbench.profiles.latency import (
    clock_scale,
    interp_latency_ns,
    interp_share,
    quantile_multiplier,
    stream_factor,
)
from simbench.sim.governors import decide_clock, thermal_step

_INF = np.iinfo(np.int64).max

# The profile's and the governors' arithmetic, compiled from the same source the SimPy model runs.
_interp = njit(cache=True)(interp_latency_ns)
_share = njit(cache=True)(interp_share)
_clock_scale = njit(cache=True)(clock_scale)
_stream_factor = njit(cache=True)(stream_factor)
_quantile = njit(cache=True)(quantile_multiplier)


@njit(cache=True)
def _service(bp, lp, sb, sv, batch, roc, k, gain, mult):
    # the same arithmetic as profiles.latency.device_service_time_ns (a factor of exactly 1.0
    # at the reference clock or with one stream in flight is skipped: x * 1.0 == x)
    lat = _interp(bp, lp, batch)
    if roc != 1.0:
        lat = lat * _clock_scale(_share(sb, sv, batch), roc)
    if k != 1:
        lat = lat * _stream_factor(k, gain)
    v = np.int64(round(lat * mult))
    if v < 1:
        return np.int64(1)
    return v


@njit(cache=True)
def _draw(rng, kind, sigma, probs, mults):
    if kind == 1:
        return _quantile(rng.random(), probs, mults)
    if kind == 2:
        return np.exp(sigma * rng.standard_normal())
    if kind == 3:
        return rng.standard_exponential()
    return 1.0


_decide = njit(cache=True)(decide_clock)
_thermal = njit(cache=True)(thermal_step)


@njit(cache=True)
def _grow_f(a, n):
    out = np.empty(max(16, a.shape[0] * 2), dtype=a.dtype)
    out[:n] = a[:n]
    return out


@njit(cache=True)
def _dq_grow(dq, dq_head, dq_len):
    """Double the per-device queue rings' capacity, each ring rewritten from slot 0."""
    R, cap = dq.shape
    out = np.empty((R, cap * 2), dtype=dq.dtype)
    for e in range(R):
        for i in range(dq_len[e]):
            out[e, i] = dq[e, (dq_head[e] + i) % cap]
        dq_head[e] = 0
    return out


@njit(cache=True)
def _route(dq, dq_head, dq_len, insvc, routing, q):
    """Route query ``q`` (one sample) to a device's queue; returns the (maybe grown) rings
    and the device.

    ``routing`` 1 (join-shortest-queue): the device with the fewest samples queued plus in
    service, ties to the lowest index; 2 (round-robin): device ``q mod R``."""
    R = dq_len.shape[0]
    if routing == 1:
        d = 0
        best = dq_len[0] + insvc[0]
        for e in range(1, R):
            v = dq_len[e] + insvc[e]
            if v < best:
                best = v
                d = e
    else:
        d = q % R
    if dq_len[d] == dq.shape[1]:
        dq = _dq_grow(dq, dq_head, dq_len)
    dq[d, (dq_head[d] + dq_len[d]) & (dq.shape[1] - 1)] = q  # capacity: a power of two
    dq_len[d] += 1
    return dq, d


@njit(inline="always")
def _kernel(plan, m, rng, record, latency_bound_ns, governed, routing):
    # ``governed`` is a constant in each caller: with it False the governor code folds away
    # and the fixed-clock loop compiles as tight as before the device model. ``routing``
    # (0 one shared queue, 1 join-shortest-queue, 2 round-robin) is a constant too; with 0
    # the per-device-queue code folds away.
    # (every field of ``m`` is read once, up front)
    m_ambient_c = m.ambient_c
    m_batch_points = m.batch_points
    m_busy_power_w = m.busy_power_w
    m_cap_w = m.cap_w
    m_decay = m.decay
    m_down = m.down
    m_gov_kind = m.gov_kind
    m_has_thermal = m.has_thermal
    m_idle_power_w = m.idle_power_w
    m_latency_points_ns = m.latency_points_ns
    m_max_batch = m.max_batch
    m_max_idx = m.max_idx
    m_noise_kind = m.noise_kind
    m_noise_mults = m.noise_mults
    m_noise_probs = m.noise_probs
    m_noise_sigma = m.noise_sigma
    m_period_ns = m.period_ns
    m_ref_over_clock = m.ref_over_clock
    m_release_c = m.release_c
    m_replicas = m.replicas
    m_resistance_c_per_w = m.resistance_c_per_w
    m_share_batches = m.share_batches
    m_share_values = m.share_values
    m_slow_idx = m.slow_idx
    m_slowdown_c = m.slowdown_c
    m_start_idx = m.start_idx
    m_stream_gain = m.stream_gain
    m_streams = m.streams
    m_timeout_ns = m.timeout_ns
    m_transition_ns = m.transition_ns
    m_up = m.up
    m_window_n = m.window_n
    inf = np.iinfo(np.int64).max
    closed = plan.closed
    spq = plan.samples_per_query
    arrivals_ns = plan.arrivals_ns
    generated_queries = plan.generated_queries
    min_query_count = plan.min_query_count
    min_duration_ns = plan.min_duration_ns
    max_duration_ns = plan.max_duration_ns
    max_batch = m_max_batch
    timeout_ns = m_timeout_ns
    R = m_replicas
    S = m_streams
    nslot = R * S
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
    clock_of = np.empty(s_cap, dtype=np.int64)
    overlatency = 0
    slot_busy = np.zeros(nslot, dtype=np.bool_)
    free_at = np.zeros(nslot, dtype=np.int64)
    b_first = np.zeros(nslot, dtype=np.int64)
    b_size = np.zeros(nslot, dtype=np.int64)
    inflight = np.zeros(R, dtype=np.int64)
    # per-device queues (routing != 0): a ring of query indices per device, samples in service
    routed = routing != 0
    dq = np.empty((R, 64 if routed else 1), dtype=np.int64)
    dq_head = np.zeros(R, dtype=np.int64)
    dq_len = np.zeros(R, dtype=np.int64)
    insvc = np.zeros(R, dtype=np.int64)
    slot_s = np.empty((nslot, max_batch if routed else 1), dtype=np.int64)
    # device power / governor state
    gov = m_gov_kind if governed else 0
    period = m_period_ns
    clk = np.full(R, m_start_idx, dtype=np.int64)
    energy = np.zeros(R, dtype=np.float64)
    seg_t = np.zeros(R, dtype=np.int64)
    busy_acc = np.zeros(R, dtype=np.int64)
    busy_since = np.zeros(R, dtype=np.int64)
    busy_total = np.zeros(R, dtype=np.int64)
    e_tick = np.zeros(R, dtype=np.float64)
    e_row = np.zeros(R, dtype=np.float64)
    t_row = np.zeros(R, dtype=np.int64)
    pend_idx = np.full(R, -1, dtype=np.int64)
    pend_at = np.full(R, inf, dtype=np.int64)
    wn = m_window_n
    ring = np.zeros((R, wn), dtype=np.float64)
    temp = np.full(R, m_ambient_c, dtype=np.float64)
    throttled = np.zeros(R, dtype=np.bool_)
    reason = np.zeros(R, dtype=np.int64)
    ticks = 0
    next_tick = period if gov != 0 else inf
    track = m_busy_power_w[0] > 0.0
    tn = 0
    tl_t = np.empty(16, dtype=np.int64)
    tl_d = np.empty(16, dtype=np.int64)
    tl_c = np.empty(16, dtype=np.int64)
    tl_p = np.empty(16, dtype=np.float64)
    tl_T = np.empty(16, dtype=np.float64)
    tl_r = np.empty(16, dtype=np.int64)
    if track:
        for d in range(R):
            if tn == tl_t.shape[0]:
                tl_t = _grow_f(tl_t, tn); tl_d = _grow_f(tl_d, tn); tl_c = _grow_f(tl_c, tn)
                tl_p = _grow_f(tl_p, tn); tl_T = _grow_f(tl_T, tn); tl_r = _grow_f(tl_r, tn)
            tl_t[tn] = 0; tl_d[tn] = d; tl_c[tn] = clk[d]; tl_p[tn] = m_idle_power_w
            tl_T[tn] = temp[d] if m_has_thermal else np.nan; tl_r[tn] = 0
            tn += 1
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
    n_free = nslot
    while a < n_open and arrivals_ns[a] <= 0:
        if routed:
            dq, _d = _route(dq, dq_head, dq_len, insvc, routing, a)
        tail += spq
        a += 1
    if not closed:
        nq = a
    while True:
        # 3. dispatch (at the current instant, after its governor phase, completions, arrivals)
        if routed:  # each device batches its own queue, lowest device index first
            for d in range(R):
                while dq_len[d] > 0 and inflight[d] < S:
                    qlen = dq_len[d]
                    if qlen >= max_batch or now >= q_issue[dq[d, dq_head[d]]] + timeout_ns:
                        b = qlen if qlen < max_batch else max_batch
                        sl = d * S
                        while slot_busy[sl]:
                            sl += 1
                        mult = _draw(rng, m_noise_kind, m_noise_sigma, m_noise_probs, m_noise_mults)
                        if gov != 0:
                            p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                            dt = now - seg_t[d]
                            energy[d] += p * dt
                            if inflight[d] > 0:
                                busy_acc[d] += dt
                            seg_t[d] = now
                        elif inflight[d] == 0:
                            busy_since[d] = now
                        inflight[d] += 1
                        svc = _service(m_batch_points, m_latency_points_ns, m_share_batches, m_share_values, b,
                                       m_ref_over_clock[clk[d]], inflight[d], m_stream_gain, mult)
                        mask = dq.shape[1] - 1  # ring capacity: a power of two
                        for i in range(b):
                            s = dq[d, (dq_head[d] + i) & mask]
                            slot_s[sl, i] = s
                            if record:
                                start[s] = now
                                batch[s] = k
                                device[s] = d
                                if gov != 0:
                                    clock_of[s] = clk[d]
                        dq_head[d] = (dq_head[d] + b) & mask
                        dq_len[d] -= b
                        insvc[d] += b
                        slot_busy[sl] = True
                        n_free -= 1
                        free_at[sl] = now + svc
                        b_size[sl] = b
                        head += b
                        k += 1
                    else:
                        break
        while not routed and head < tail and n_free > 0:
            qlen = tail - head
            if qlen >= max_batch or now >= q_issue[head // spq] + timeout_ns:
                b = qlen if qlen < max_batch else max_batch
                d = 0
                while inflight[d] >= S:
                    d += 1
                sl = d * S
                while slot_busy[sl]:
                    sl += 1
                mult = _draw(rng, m_noise_kind, m_noise_sigma, m_noise_probs, m_noise_mults)
                if gov != 0:  # power: flush the segment that ends now
                    p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                    dt = now - seg_t[d]
                    energy[d] += p * dt
                    if inflight[d] > 0:
                        busy_acc[d] += dt
                    seg_t[d] = now
                elif inflight[d] == 0:  # fixed clock: only busy time matters
                    busy_since[d] = now
                inflight[d] += 1
                svc = _service(m_batch_points, m_latency_points_ns, m_share_batches, m_share_values, b,
                               m_ref_over_clock[clk[d]], inflight[d], m_stream_gain, mult)
                if record:
                    for s in range(head, head + b):
                        start[s] = now
                        batch[s] = k
                        device[s] = d
                    if gov != 0:
                        for s in range(head, head + b):
                            clock_of[s] = clk[d]
                slot_busy[sl] = True
                n_free -= 1
                free_at[sl] = now + svc
                b_first[sl] = head
                b_size[sl] = b
                head += b
                k += 1
            else:
                break
        t = inf
        # With every stream busy an arrival changes nothing but the queue, so arrivals are
        # absorbed at the next completion (their issue times are kept): same outcome, fewer
        # loop iterations.
        if a < n_open and n_free > 0 and not routed:
            t = arrivals_ns[a]
        for sl in range(nslot):
            if slot_busy[sl] and free_at[sl] < t:
                t = free_at[sl]
        if routed:
            for d in range(R):
                if dq_len[d] > 0 and dq_len[d] < max_batch and inflight[d] < S:
                    deadline = q_issue[dq[d, dq_head[d]]] + timeout_ns
                    if deadline < t:
                        t = deadline
        elif head < tail and tail - head < max_batch and n_free > 0:
            deadline = q_issue[head // spq] + timeout_ns
            if deadline < t:
                t = deadline
        if routed:
            # Per-device queues: arrivals before the next other event (completion, batching
            # deadline, governor event) are routed here, in order, each seeing the state at its
            # own time (only the arrivals before it changed it). The first instant at which one
            # of them lets a device dispatch (its queue reaches max_batch on a free stream, or
            # a new deadline falls due) becomes the next event.
            t_gov = inf
            if gov != 0:
                t_gov = next_tick
                for d in range(R):
                    if pend_at[d] < t_gov:
                        t_gov = pend_at[d]
            bound = t if t < t_gov else t_gov
            trig = False
            hit = False
            ta = 0
            while a < n_open and arrivals_ns[a] < bound:
                ta = arrivals_ns[a]
                while a < n_open and arrivals_ns[a] == ta:
                    dq, d = _route(dq, dq_head, dq_len, insvc, routing, a)
                    tail += spq
                    a += 1
                    if inflight[d] < S:
                        if dq_len[d] >= max_batch:
                            trig = True
                        elif dq_len[d] == 1:
                            deadline = ta + timeout_ns
                            if deadline < t:
                                t = deadline
                                if t < bound:
                                    bound = t
                if trig or bound <= ta:
                    hit = True
                    break
            if hit:
                now = ta  # dispatch at this arrival instant (nothing else happens at it)
                continue
            if t == inf and a >= n_open:
                break
            if t_gov < t:
                t = t_gov
        else:
            if t == inf:
                if a < n_open:
                    t = arrivals_ns[a]
                else:
                    break
            if gov != 0:
                if next_tick < t:
                    t = next_tick
                for d in range(R):
                    if pend_at[d] < t:
                        t = pend_at[d]
        now = t
        # 0. governor phase
        if gov != 0:
            for d in range(R):
                if pend_at[d] == now:
                    p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                    dt = now - seg_t[d]
                    energy[d] += p * dt
                    if inflight[d] > 0:
                        busy_acc[d] += dt
                    seg_t[d] = now
                    clk[d] = pend_idx[d]
                    pend_at[d] = inf
                    pend_idx[d] = -1
                    if tn == tl_t.shape[0]:
                        tl_t = _grow_f(tl_t, tn); tl_d = _grow_f(tl_d, tn); tl_c = _grow_f(tl_c, tn)
                        tl_p = _grow_f(tl_p, tn); tl_T = _grow_f(tl_T, tn); tl_r = _grow_f(tl_r, tn)
                    tl_t[tn] = now; tl_d[tn] = d; tl_c[tn] = clk[d]
                    tl_p[tn] = (energy[d] - e_row[d]) / (now - t_row[d]) if now > t_row[d] else 0.0
                    tl_T[tn] = temp[d] if m_has_thermal else np.nan; tl_r[tn] = reason[d]
                    tn += 1
                    e_row[d] = energy[d]
                    t_row[d] = now
            if next_tick == now:
                for d in range(R):
                    p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                    dt = now - seg_t[d]
                    energy[d] += p * dt
                    if inflight[d] > 0:
                        busy_acc[d] += dt
                    seg_t[d] = now
                    mean_p = (energy[d] - e_tick[d]) / period
                    e_tick[d] = energy[d]
                    util = busy_acc[d] / period
                    busy_acc[d] = 0
                    ring[d, ticks % wn] = mean_p
                    cnt = ticks + 1 if ticks + 1 < wn else wn
                    wsum = 0.0
                    for i in range(cnt):
                        wsum += ring[d, i]
                    wmean = wsum / cnt
                    if m_has_thermal:
                        temp[d] = _thermal(temp[d], mean_p, m_ambient_c, m_resistance_c_per_w, m_decay)
                    c = clk[d]
                    step_up = m_busy_power_w[c + 1] - m_busy_power_w[c] if c < m_max_idx else 0.0
                    new, thr = _decide(gov, c, m_max_idx, m_slow_idx, util, m_up, m_down, wmean, mean_p, m_cap_w,
                                       step_up, temp[d], throttled[d], m_slowdown_c, m_release_c)
                    throttled[d] = thr
                    if thr:
                        reason[d] = 0x40
                    elif gov == 4 and new < m_max_idx:
                        reason[d] = 0x4
                    else:
                        reason[d] = 0
                    if new != c:
                        if m_transition_ns > 0:
                            pend_idx[d] = new
                            pend_at[d] = now + m_transition_ns
                        else:
                            clk[d] = new
                    if tn == tl_t.shape[0]:
                        tl_t = _grow_f(tl_t, tn); tl_d = _grow_f(tl_d, tn); tl_c = _grow_f(tl_c, tn)
                        tl_p = _grow_f(tl_p, tn); tl_T = _grow_f(tl_T, tn); tl_r = _grow_f(tl_r, tn)
                    tl_t[tn] = now; tl_d[tn] = d; tl_c[tn] = clk[d]
                    tl_p[tn] = (energy[d] - e_row[d]) / (now - t_row[d]) if now > t_row[d] else 0.0
                    tl_T[tn] = temp[d] if m_has_thermal else np.nan; tl_r[tn] = reason[d]
                    tn += 1
                    e_row[d] = energy[d]
                    t_row[d] = now
                ticks += 1
                next_tick += period
        # 1. completions
        for sl in range(nslot):
            if slot_busy[sl] and free_at[sl] == now:
                d = sl // S
                if gov != 0:
                    p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                    dt = now - seg_t[d]
                    energy[d] += p * dt
                    if inflight[d] > 0:
                        busy_acc[d] += dt
                    seg_t[d] = now
                elif inflight[d] == 1:
                    busy_total[d] += now - busy_since[d]
                inflight[d] -= 1
                slot_busy[sl] = False
                n_free += 1
                if routed:
                    insvc[d] -= b_size[sl]
                    for i in range(b_size[sl]):
                        s = slot_s[sl, i]
                        if record:
                            complete[s] = now
                        if latency_bound_ns >= 0 and now - q_issue[s] > latency_bound_ns:
                            overlatency += 1
                else:
                    f = b_first[sl]
                    if record:
                        for s in range(f, f + b_size[sl]):
                            complete[s] = now
                    if latency_bound_ns >= 0:
                        for s in range(f, f + b_size[sl]):
                            if now - q_issue[s // spq] > latency_bound_ns:
                                overlatency += 1
                if closed:
                    remaining -= b_size[sl]
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
            if routed:
                dq, _d = _route(dq, dq_head, dq_len, insvc, routing, a)
            tail += spq
            a += 1
        if not closed:
            nq = a
    # the run ends at its last event: flush every device and close its timeline
    if not record or gov == 0:
        for s in range(nq * spq if record else 0):
            clock_of[s] = m_start_idx
    if track:
        for d in range(R):
            if gov != 0:
                p = m_busy_power_w[clk[d]] if inflight[d] > 0 else m_idle_power_w
                dt = now - seg_t[d]
                energy[d] += p * dt
                seg_t[d] = now
            else:  # fixed clock: busy power over busy time, idle power over the rest
                energy[d] = m_busy_power_w[0] * busy_total[d] + m_idle_power_w * (now - busy_total[d])
            if now > t_row[d]:
                if tn == tl_t.shape[0]:
                    tl_t = _grow_f(tl_t, tn); tl_d = _grow_f(tl_d, tn); tl_c = _grow_f(tl_c, tn)
                    tl_p = _grow_f(tl_p, tn); tl_T = _grow_f(tl_T, tn); tl_r = _grow_f(tl_r, tn)
                tl_t[tn] = now; tl_d[tn] = d; tl_c[tn] = clk[d]
                tl_p[tn] = (energy[d] - e_row[d]) / (now - t_row[d])
                tl_T[tn] = temp[d] if m_has_thermal else np.nan; tl_r[tn] = reason[d]
                tn += 1
    n_s = nq * spq if record else 0
    return (
        q_issue[:nq].copy(),
        start[:n_s],
        complete[:n_s],
        batch[:n_s],
        device[:n_s],
        clock_of[:n_s],
        nq,
        k,
        ran_out,
        overlatency,
        energy,
        now,
        tl_t[:tn].copy(),
        tl_d[:tn].copy(),
        tl_c[:tn].copy(),
        tl_p[:tn].copy(),
        tl_T[:tn].copy(),
        tl_r[:tn].copy(),
    )


@njit(cache=True)
def _run_fixed(plan, m, rng, record, latency_bound_ns):
    return _kernel(plan, m, rng, record, latency_bound_ns, False, 0)


@njit(cache=True)
def _run_governed(plan, m, rng, record, latency_bound_ns):
    return _kernel(plan, m, rng, record, latency_bound_ns, True, 0)


@njit(cache=True)
def _run_routed_fixed(plan, m, rng, record, latency_bound_ns, routing):
    return _kernel(plan, m, rng, record, latency_bound_ns, False, routing)


@njit(cache=True)
def _run_routed_governed(plan, m, rng, record, latency_bound_ns, routing):
    return _kernel(plan, m, rng, record, latency_bound_ns, True, routing)


ROUTINGS = {"shared": 0, "jsq": 1, "round-robin": 2}


def run_kernel(plan, m, rng, record=True, latency_bound_ns=-1, routing=0):
    """Simulate one run.

    Parameters
    ----------
    plan : RunPlan
    m : EngineModel
    rng : numpy.random.Generator
        The service-noise stream.
    record : bool
        False keeps no per-sample arrays (they come back empty): the peak search only needs
        ``overlatency``, the count of samples with latency above ``latency_bound_ns`` (when >= 0).
    routing : int
        0: one FIFO queue shared by every device (the default). Per-device queues (open loop,
        one sample per query): 1 join-shortest-queue — each arriving query goes to the device
        whose queue length, samples queued there plus samples in service on it, is smallest
        at its arrival instant (after that instant's completions, before its dispatch), ties
        to the lowest device index; 2 round-robin — query ``q`` to device ``q mod replicas``.
        Each device then batches its own queue (``max_batch``, ``timeout_ns``); at one
        instant devices dispatch in index order.

    Returns
    -------
    tuple
        ``(query_issue_ns, start_ns, complete_ns, batch_id, device_id, clock_idx, queries_issued,
        batches, ran_out, overlatency, energy_wns, end_ns, tl_t, tl_dev, tl_clock_idx, tl_power_w,
        tl_temp_c, tl_reason)`` — ``energy_wns`` per device in W*ns, ``tl_*`` the device timeline.
    """
    if routing != 0:
        if m.gov_kind == 0:
            return _run_routed_fixed(plan, m, rng, record, latency_bound_ns, routing)
        return _run_routed_governed(plan, m, rng, record, latency_bound_ns, routing)
    if m.gov_kind == 0:
        return _run_fixed(plan, m, rng, record, latency_bound_ns)
    return _run_governed(plan, m, rng, record, latency_bound_ns)
