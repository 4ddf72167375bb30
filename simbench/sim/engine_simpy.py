"""The SimPy reference model of a simulated SUT: readable, every feature, no numba.

Processes (generator functions, each standing for one real thing):

* ``scheduled_arrivals`` — LoadGen's issue thread in an open loop (Server, Offline): puts each
  query's samples into the SUT's sample queue (``SampleQueue``) at its scheduled time.
* ``closed_loop_issuer`` — LoadGen in SingleStream/MultiStream: issues the next query when
  the previous one completes, until the stop rule holds or the generated queries run out.
* ``batcher`` — the SUT's dynamic batcher: takes an idle inference stream from a
  ``simpy.PriorityStore`` (lowest device index first), forms a batch from the queue and hands
  it to that device.
* ``device`` — one per replica: receives batches and runs each as a ``serve`` process (up to
  ``streams`` at once), integrating its power.
* ``governor`` — one per device (when a governor is set): ticks every period, reads the last
  period's mean power and utilization, advances the RC temperature and sets the clock.

Event order at one instant is the one documented in ``simbench.sim.engine_numba``; SimPy
realises it with event priorities, not by polling: governor events are scheduled ``URGENT``
(before every ordinary event of the instant), completions and arrivals are ordinary events,
and the batcher decides only at the end of the instant (``_EndOfInstant``, a priority below
``NORMAL``), after every completion and arrival of that instant has landed. Both engines call
the same arithmetic (``simbench.profiles.latency``, ``simbench.sim.governors``), so they give
identical Traces and timelines for the same inputs.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy
from simpy.core import NORMAL, URGENT
from simpy.resources.store import PriorityItem

from simbench.profiles.latency import device_service_time_ns, draw_multiplier
from simbench.sim.governors import (
    GOV_NONE,
    GOV_POWER_CAP,
    REASON_HW_THERMAL_SLOWDOWN,
    REASON_NONE,
    REASON_SW_POWER_CAP,
    decide_clock,
    thermal_step,
)

_ARRIVE = NORMAL + 1  # routed arrivals: after the instant's completions, before any dispatch
_LATE = NORMAL + 2  # the batcher's end of instant (per-device batchers: _LATE + device index)


class _EndOfInstant(simpy.events.Event):
    """Fires after every other event already due at this instant (priority below ``NORMAL``;
    ``priority`` orders several of them: lower first)."""

    def __init__(self, env: simpy.Environment, priority: int = _LATE):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority)


class _UrgentTimeout(simpy.events.Event):
    """A timeout that fires before the ordinary events of its instant (governor clock events)."""

    def __init__(self, env: simpy.Environment, delay: int):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


class Device:
    """One replica's state: streams in flight, clock, energy, temperature, timeline rows."""

    def __init__(self, env, d: int, m, timeline: list):
        self.env = env
        self.d = d
        self.m = m
        self.inbox = simpy.Store(env)
        self.inflight = 0
        self.clk = m.start_idx
        self.energy = 0.0
        self.seg_t = 0
        self.busy_acc = 0
        self.e_tick = 0.0
        self.e_row = 0.0
        self.t_row = 0
        self.temp = m.ambient_c
        self.throttled = False
        self.reason = REASON_NONE
        self.timeline = timeline
        self.track = m.busy_power_w[0] > 0.0
        self.busy_since = 0
        self.busy_total = 0
        self._completing = False
        self.idle = None  # the store its idle streams go to (shared, or its own when routed)
        self.insvc = 0  # samples in service on it (join-shortest-queue's queue length)
        if self.track:
            timeline.append((0, d, self.clk, m.idle_power_w, self._temp_out(), REASON_NONE))

    def _temp_out(self) -> float:
        return self.temp if self.m.has_thermal else float("nan")

    def flush(self) -> None:
        """Integrate power over the segment that ends now (power is constant within it).

        Without a governor only busy time is counted (``busy_since``/``busy_total``) and the
        energy is computed at the end, as the numba engine does."""
        m = self.m
        if m.gov_kind == GOV_NONE:
            if self.inflight == 0:  # called just before a dispatch: busy from now
                self.busy_since = self.env.now
            elif self.inflight == 1 and self._completing:
                self.busy_total += self.env.now - self.busy_since
            return
        p = m.busy_power_w[self.clk] if self.inflight > 0 else m.idle_power_w
        now = self.env.now
        dt = now - self.seg_t
        self.energy += p * dt
        if self.inflight > 0:
            self.busy_acc += dt
        self.seg_t = now

    def row(self) -> None:
        """A timeline row: clock, mean power since this device's previous row, temperature."""
        now = self.env.now
        p = (self.energy - self.e_row) / (now - self.t_row) if now > self.t_row else 0.0
        self.timeline.append((now, self.d, self.clk, p, self._temp_out(), self.reason))
        self.e_row = self.energy
        self.t_row = now


class _State:
    """What the processes share: the outcome arrays and the closed-loop bookkeeping."""

    def __init__(self, env, spq: int, capacity: int):
        self.spq = spq
        self.q_issue: list[int] = []
        self.start = np.zeros(capacity, dtype=np.int64)
        self.complete = np.zeros(capacity, dtype=np.int64)
        self.batch = np.zeros(capacity, dtype=np.int64)
        self.device = np.zeros(capacity, dtype=np.int64)
        self.clock = np.zeros(capacity, dtype=np.int64)
        self.batches = 0
        self.query_done: simpy.Event | None = None
        self.remaining = 0
        self.ran_out = False
        self.issued_samples = 0
        self.completed_samples = 0
        self.issuer_finished = False
        self.done = env.event()

    def check_done(self) -> None:
        if self.issuer_finished and self.completed_samples == self.issued_samples and not self.done.triggered:
            self.done.succeed()


class SampleQueue:
    """The SUT's FIFO sample queue: runs of (first sample, count, issue time), one per query.

    Like a ``simpy.Store`` of samples, but the batcher waits for what it needs — "at least
    ``n`` samples" (``at_least``) — instead of being woken by every sample put, which would
    cost an event per sample.
    """

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.runs: deque = deque()
        self.count = 0
        self._want = 0
        self._waiter: simpy.Event | None = None

    def put(self, first: int, n: int, issue_ns: int) -> None:
        self.runs.append([first, n, issue_ns])
        self.count += n
        if self._waiter is not None and self.count >= self._want:
            self._waiter.succeed()
            self._waiter = None

    def at_least(self, n: int) -> simpy.Event:
        """An event that fires once ``n`` samples are queued (at once if they already are)."""
        ev = self.env.event()
        if self.count >= n:
            ev.succeed()
        else:
            self._want, self._waiter = n, ev
        return ev

    def forget_waiter(self) -> None:
        self._waiter = None

    def oldest_issue_ns(self) -> int:
        return self.runs[0][2]

    def take(self, n: int) -> int:
        """Remove the first ``n`` samples; return the first one's index (samples are contiguous)."""
        first = self.runs[0][0]
        left = n
        while left:
            run = self.runs[0]
            used = min(left, run[1])
            run[0] += used
            run[1] -= used
            left -= used
            if run[1] == 0:
                self.runs.popleft()
        self.count -= n
        return first

    def take_list(self, n: int) -> np.ndarray:
        """Remove the first ``n`` samples, wherever they are numbered (per-device queues)."""
        out = np.empty(n, dtype=np.int64)
        i = 0
        while i < n:
            run = self.runs[0]
            used = min(n - i, run[1])
            out[i:i + used] = np.arange(run[0], run[0] + used)
            run[0] += used
            run[1] -= used
            i += used
            if run[1] == 0:
                self.runs.popleft()
        self.count -= n
        return out


def _issue(env, state: _State, queue: SampleQueue) -> None:
    q = len(state.q_issue)
    state.q_issue.append(env.now)
    state.issued_samples += state.spq
    queue.put(q * state.spq, state.spq, env.now)


def scheduled_arrivals(env, state: _State, queue: SampleQueue, arrivals_ns: np.ndarray, max_duration_ns: int):
    """LoadGen's issue thread, open loop: each query joins the queue at its scheduled time."""
    for t in arrivals_ns:
        t = int(t)
        if max_duration_ns > 0 and t >= max_duration_ns:
            break
        if t > env.now:
            yield env.timeout(t - env.now)
        _issue(env, state, queue)
    state.issuer_finished = True
    state.check_done()


def routed_arrivals(env, state: _State, queues: list, devices: list, routing: int, arrivals_ns: np.ndarray,
                    max_duration_ns: int):
    """LoadGen's issue thread in front of per-device queues: each query (one sample) goes,
    at its scheduled time and after that instant's completions, to the device with the
    fewest samples queued plus in service (``routing`` 1, join-shortest-queue; ties to the
    lowest index) or to device ``q mod replicas`` (``routing`` 2, round-robin)."""
    R = len(devices)
    for t in arrivals_ns:
        t = int(t)
        if max_duration_ns > 0 and t >= max_duration_ns:
            break
        if t > env.now:
            yield env.timeout(t - env.now)
        yield _EndOfInstant(env, _ARRIVE)
        q = len(state.q_issue)
        if routing == 1:
            d = min(range(R), key=lambda e: (queues[e].count + devices[e].insvc, e))
        else:
            d = q % R
        state.q_issue.append(env.now)
        state.issued_samples += 1
        queues[d].put(q, 1, env.now)
    state.issuer_finished = True
    state.check_done()


def closed_loop_issuer(env, state: _State, queue: SampleQueue, generated: int, min_queries: int, min_dur: int, max_dur: int):
    """LoadGen's SingleStream/MultiStream issue rule: next query on completion of the last."""
    issued = 0
    while True:
        if issued > 0 and max_dur > 0 and env.now >= max_dur:
            break
        if issued >= generated:
            state.ran_out = True
            break
        state.query_done = env.event()
        state.remaining = state.spq
        _issue(env, state, queue)
        issued += 1
        if issued >= min_queries and env.now >= min_dur:
            break
        yield state.query_done
    state.issuer_finished = True
    state.check_done()


def batcher(env, state: _State, m, queue: SampleQueue, idle: simpy.PriorityStore, devices: list, rng,
            priority: int = _LATE, routed: bool = False):
    """The SUT's dynamic batcher (``max_batch``, ``timeout_ns``) over every device's streams
    (one shared queue), or over one device's own queue (``routed``; ``devices`` is then that
    device alone and ``priority`` orders the devices' decisions at one instant)."""
    while True:
        token = yield idle.get()  # some stream is idle
        while True:
            if queue.count == 0:
                yield queue.at_least(1)
            yield _EndOfInstant(env, priority)  # this instant's completions and arrivals land first
            deadline = queue.oldest_issue_ns() + m.timeout_ns
            if queue.count >= m.max_batch or env.now >= deadline:
                break
            full = queue.at_least(m.max_batch)
            fired = yield full | env.timeout(deadline - env.now)
            if full not in fired:
                queue.forget_waiter()
        # hand the batch to the lowest-index device with an idle stream (chosen at this instant)
        if idle.items and idle.items[0].priority < token.priority:
            idle.put(token)
            token = yield idle.get()
        size = min(queue.count, m.max_batch)
        first = queue.take_list(size) if routed else queue.take(size)
        mult = draw_multiplier(rng, m.noise_kind, m.noise_sigma, m.noise_probs, m.noise_mults)
        dev = devices[0] if routed else devices[token.priority]
        dev.flush()
        dev.inflight += 1
        svc = device_service_time_ns(
            m.batch_points, m.latency_points_ns, m.share_batches, m.share_values, size,
            m.ref_over_clock[dev.clk], dev.inflight, m.stream_gain, mult,
        )
        sel = first if routed else slice(first, first + size)
        state.start[sel] = env.now
        state.batch[sel] = state.batches
        state.device[sel] = dev.d
        state.clock[sel] = dev.clk
        state.batches += 1
        dev.insvc += size
        dev.inbox.put((sel, size, svc))


def serve(env, state: _State, dev: Device, idle: simpy.PriorityStore, sel, size: int, service_ns: int):
    """One inference stream of a device executing one batch (samples ``sel``: a slice or indices)."""
    yield env.timeout(service_ns)
    dev._completing = True
    dev.flush()
    dev._completing = False
    dev.inflight -= 1
    dev.insvc -= size
    state.complete[sel] = env.now
    state.completed_samples += size
    idle.put(PriorityItem(dev.d, None))
    if state.query_done is not None:
        state.remaining -= size
        if state.remaining == 0 and not state.query_done.triggered:
            state.query_done.succeed()
    state.check_done()


def device(env, state: _State, dev: Device, idle: simpy.PriorityStore):
    """One replica: offers its streams as idle, runs each batch it is handed."""
    for _ in range(dev.m.streams):
        idle.put(PriorityItem(dev.d, None))
    while True:
        first, size, svc = yield dev.inbox.get()
        env.process(serve(env, state, dev, idle, first, size, svc))


def governor(env, dev: Device):
    """The device's governor: a tick every period; a clock change lands ``transition_ns`` later."""
    m = dev.m
    period = m.period_ns
    ring = [0.0] * m.window_n
    ticks = 0
    while True:
        yield _UrgentTimeout(env, period)
        dev.flush()
        mean_p = (dev.energy - dev.e_tick) / period
        dev.e_tick = dev.energy
        util = dev.busy_acc / period
        dev.busy_acc = 0
        ring[ticks % m.window_n] = mean_p
        cnt = ticks + 1 if ticks + 1 < m.window_n else m.window_n
        wsum = 0.0
        for i in range(cnt):
            wsum += ring[i]
        wmean = wsum / cnt
        if m.has_thermal:
            dev.temp = thermal_step(dev.temp, mean_p, m.ambient_c, m.resistance_c_per_w, m.decay)
        c = dev.clk
        step_up = m.busy_power_w[c + 1] - m.busy_power_w[c] if c < m.max_idx else 0.0
        new, thr = decide_clock(
            m.gov_kind, c, m.max_idx, m.slow_idx, util, m.up, m.down, wmean, mean_p, m.cap_w,
            step_up, dev.temp, dev.throttled, m.slowdown_c, m.release_c,
        )
        dev.throttled = thr
        if thr:
            dev.reason = REASON_HW_THERMAL_SLOWDOWN
        elif m.gov_kind == GOV_POWER_CAP and new < m.max_idx:
            dev.reason = REASON_SW_POWER_CAP
        else:
            dev.reason = REASON_NONE
        if new != c:
            if m.transition_ns > 0:
                env.process(_apply_clock(env, dev, new, m.transition_ns))
            else:
                dev.clk = new
        dev.row()
        ticks += 1


def _apply_clock(env, dev: Device, new: int, delay: int):
    yield _UrgentTimeout(env, delay)
    dev.flush()
    dev.clk = new
    dev.row()


def run(plan, m, rng: np.random.Generator, record: bool = True, latency_bound_ns: int = -1, routing: int = 0):
    """Same inputs and outputs as ``engine_numba.run_kernel``, computed with SimPy
    (per-sample arrays are always kept; ``record`` is accepted for the same signature).
    ``routing`` as in ``run_kernel``: 0 one shared queue, 1 join-shortest-queue, 2 round-robin."""
    env = simpy.Environment()
    spq = plan.samples_per_query
    capacity = (plan.generated_queries if plan.closed else plan.arrivals_ns.shape[0]) * spq
    state = _State(env, spq, capacity)
    timeline: list = []
    devices = [Device(env, d, m, timeline) for d in range(m.replicas)]
    if routing:
        queues = [SampleQueue(env) for _ in devices]
        for dev, q in zip(devices, queues):
            dev.idle = simpy.PriorityStore(env)
            env.process(device(env, state, dev, dev.idle))
            env.process(batcher(env, state, m, q, dev.idle, [dev], rng, _LATE + dev.d, True))
    else:
        queue = SampleQueue(env)
        idle = simpy.PriorityStore(env)
        for dev in devices:
            dev.idle = idle
            env.process(device(env, state, dev, idle))
        env.process(batcher(env, state, m, queue, idle, devices, rng))
    if m.gov_kind != GOV_NONE:
        for dev in devices:
            env.process(governor(env, dev))
    if plan.closed:
        env.process(
            closed_loop_issuer(
                env, state, queue, plan.generated_queries, plan.min_query_count,
                plan.min_duration_ns, plan.max_duration_ns,
            )
        )
    elif routing:
        env.process(routed_arrivals(env, state, queues, devices, routing, plan.arrivals_ns, plan.max_duration_ns))
    else:
        env.process(scheduled_arrivals(env, state, queue, plan.arrivals_ns, plan.max_duration_ns))
    env.run(until=state.done)
    end = env.now
    for dev in devices:
        if dev.track:
            if m.gov_kind == GOV_NONE:
                dev.energy = m.busy_power_w[0] * dev.busy_total + m.idle_power_w * (end - dev.busy_total)
            else:
                dev.flush()
            if end > dev.t_row:
                dev.row()
    nq = len(state.q_issue)
    n_s = nq * spq
    q_issue = np.array(state.q_issue, dtype=np.int64)
    complete = state.complete[:n_s].copy()
    over = 0
    if latency_bound_ns >= 0:
        over = int(np.count_nonzero(complete - np.repeat(q_issue, spq) > latency_bound_ns))
    tl = np.array(timeline, dtype=object).reshape(-1, 6) if timeline else np.zeros((0, 6), dtype=object)
    return (
        q_issue,
        state.start[:n_s].copy(),
        complete,
        state.batch[:n_s].copy(),
        state.device[:n_s].copy(),
        state.clock[:n_s].copy(),
        nq,
        state.batches,
        state.ran_out,
        over,
        np.array([dev.energy for dev in devices], dtype=np.float64),
        end,
        tl[:, 0].astype(np.int64),
        tl[:, 1].astype(np.int64),
        tl[:, 2].astype(np.int64),
        tl[:, 3].astype(np.float64),
        tl[:, 4].astype(np.float64),
        tl[:, 5].astype(np.int64),
    )
