"""The SimPy reference model of a simulated SUT: readable, every feature, no numba.

Processes (generator functions, each standing for one real thing):

* ``scheduled_arrivals`` — LoadGen's issue thread in an open loop (Server, Offline): puts each
  query into the SUT's sample queue (a ``simpy.Store``) at its scheduled time.
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

_LATE = NORMAL + 1


class _EndOfInstant(simpy.events.Event):
    """Fires after every other event already due at this instant (priority below ``NORMAL``)."""

    def __init__(self, env: simpy.Environment):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, _LATE)


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
        if self.track:
            timeline.append((0, d, self.clk, m.idle_power_w, self._temp_out(), REASON_NONE))

    def _temp_out(self) -> float:
        return self.temp if self.m.has_thermal else float("nan")

    def flush(self) -> None:
        """Integrate power over the segment that ends now (power is constant within it)."""
        m = self.m
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

    def __init__(self, env, spq: int):
        self.spq = spq
        self.q_issue: list[int] = []
        self.start: dict = {}
        self.complete: dict = {}
        self.batch: dict = {}
        self.device: dict = {}
        self.clock: dict = {}
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


def _issue(env, state: _State, queries: simpy.Store) -> None:
    q = len(state.q_issue)
    state.q_issue.append(env.now)
    first = q * state.spq
    state.issued_samples += state.spq
    queries.put((first, state.spq, env.now))


def scheduled_arrivals(env, state: _State, queries, arrivals_ns: np.ndarray, max_duration_ns: int):
    """LoadGen's issue thread, open loop: each query joins the queue at its scheduled time."""
    for t in arrivals_ns:
        t = int(t)
        if max_duration_ns > 0 and t >= max_duration_ns:
            break
        if t > env.now:
            yield env.timeout(t - env.now)
        _issue(env, state, queries)
    state.issuer_finished = True
    state.check_done()


def closed_loop_issuer(env, state: _State, queries, generated: int, min_queries: int, min_dur: int, max_dur: int):
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
        _issue(env, state, queries)
        issued += 1
        if issued >= min_queries and env.now >= min_dur:
            break
        yield state.query_done
    state.issuer_finished = True
    state.check_done()


class _Pending:
    """The batcher's view of the queue: FIFO runs of (first sample, count, issue time)."""

    def __init__(self):
        self.runs: deque = deque()
        self.count = 0

    def add(self, item) -> None:
        self.runs.append(list(item))
        self.count += item[1]

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


def batcher(env, state: _State, m, queries: simpy.Store, idle: simpy.PriorityStore, devices: list, rng):
    """The SUT's dynamic batcher (``max_batch``, ``timeout_ns``) over every device's streams."""
    pending = _Pending()
    while True:
        token = yield idle.get()  # some stream is idle
        while True:
            if pending.count == 0:
                pending.add((yield queries.get()))
            yield _EndOfInstant(env)  # this instant's completions and arrivals land first
            while queries.items:
                pending.add(queries.items.pop(0))
            deadline = pending.oldest_issue_ns() + m.timeout_ns
            if pending.count >= m.max_batch or env.now >= deadline:
                break
            get = queries.get()
            fired = yield get | env.timeout(deadline - env.now)
            if get in fired:
                pending.add(get.value)
            else:
                get.cancel()
        # hand the batch to the lowest-index device with an idle stream (chosen at this instant)
        if idle.items and idle.items[0].priority < token.priority:
            idle.put(token)
            token = yield idle.get()
        size = min(pending.count, m.max_batch)
        first = pending.take(size)
        mult = draw_multiplier(rng, m.noise_kind, m.noise_sigma, m.noise_probs, m.noise_mults)
        dev = devices[token.priority]
        dev.flush()
        dev.inflight += 1
        svc = device_service_time_ns(
            m.batch_points, m.latency_points_ns, m.share_batches, m.share_values, size,
            m.ref_over_clock[dev.clk], dev.inflight, m.stream_gain, mult,
        )
        for s in range(first, first + size):
            state.start[s] = env.now
            state.batch[s] = state.batches
            state.device[s] = dev.d
            state.clock[s] = dev.clk
        state.batches += 1
        dev.inbox.put((first, size, svc))


def serve(env, state: _State, dev: Device, idle: simpy.PriorityStore, first: int, size: int, service_ns: int):
    """One inference stream of a device executing one batch."""
    yield env.timeout(service_ns)
    dev.flush()
    dev.inflight -= 1
    for s in range(first, first + size):
        state.complete[s] = env.now
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


def run(plan, m, rng: np.random.Generator, record: bool = True, latency_bound_ns: int = -1):
    """Same inputs and outputs as ``engine_numba.run_kernel``, computed with SimPy
    (per-sample arrays are always kept; ``record`` is accepted for the same signature)."""
    env = simpy.Environment()
    state = _State(env, plan.samples_per_query)
    # plain Python numbers (and lists for the tables the hot path indexes)
    queries = simpy.Store(env)
    idle = simpy.PriorityStore(env)
    timeline: list = []
    devices = [Device(env, d, m, timeline) for d in range(m.replicas)]
    for dev in devices:
        env.process(device(env, state, dev, idle))
    env.process(batcher(env, state, m, queries, idle, devices, rng))
    if m.gov_kind != GOV_NONE:
        for dev in devices:
            env.process(governor(env, dev))
    if plan.closed:
        env.process(
            closed_loop_issuer(
                env, state, queries, plan.generated_queries, plan.min_query_count,
                plan.min_duration_ns, plan.max_duration_ns,
            )
        )
    else:
        env.process(scheduled_arrivals(env, state, queries, plan.arrivals_ns, plan.max_duration_ns))
    env.run(until=state.done)
    end = env.now
    for dev in devices:
        if dev.track:
            dev.flush()
            if end > dev.t_row:
                dev.row()
    spq = plan.samples_per_query
    nq = len(state.q_issue)
    n_s = nq * spq
    idx = range(n_s)
    q_issue = np.array(state.q_issue, dtype=np.int64)
    complete = np.fromiter((state.complete[s] for s in idx), dtype=np.int64, count=n_s)
    over = 0
    if latency_bound_ns >= 0:
        over = int(np.count_nonzero(complete - np.repeat(q_issue, spq) > latency_bound_ns))
    tl = np.array(timeline, dtype=object).reshape(-1, 6) if timeline else np.zeros((0, 6), dtype=object)
    return (
        q_issue,
        np.fromiter((state.start[s] for s in idx), dtype=np.int64, count=n_s),
        complete,
        np.fromiter((state.batch[s] for s in idx), dtype=np.int64, count=n_s),
        np.fromiter((state.device[s] for s in idx), dtype=np.int64, count=n_s),
        np.fromiter((state.clock[s] for s in idx), dtype=np.int64, count=n_s),
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
