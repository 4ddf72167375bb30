"""The SimPy reference model of a simulated SUT: every feature, readable, slower.

Processes (generator functions, each standing for one real thing):

* ``scheduled_arrivals`` — LoadGen's issue thread in an open loop (Server, Offline): hands
  each query to the SUT at its scheduled time.
* ``closed_loop_issuer`` — LoadGen in SingleStream/MultiStream: issues the next query when
  the previous one completes, until the stop rule holds or the generated queries run out.
* ``batcher`` — the SUT's dynamic batcher: forms batches from the FIFO sample queue and
  hands them to idle devices.
* ``serve_batch`` — one device executing one batch.

The event semantics (what happens first at one instant) are documented in
``simbench.sim.engine_numba``; both engines produce identical Traces for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from simbench.profiles.latency import draw_multiplier, service_time_ns


@dataclass
class _State:
    spq: int
    q_issue: list = field(default_factory=list)
    queue_head: int = 0
    queue_tail: int = 0
    start: dict = field(default_factory=dict)
    complete: dict = field(default_factory=dict)
    batch: dict = field(default_factory=dict)
    device: dict = field(default_factory=dict)
    busy: list = field(default_factory=list)
    batches: int = 0
    wake: simpy.Event | None = None
    query_done: simpy.Event | None = None
    remaining: int = 0
    ran_out: bool = False

    def kick(self) -> None:
        if self.wake is not None and not self.wake.triggered:
            self.wake.succeed()

    def enqueue_query(self, env: simpy.Environment) -> None:
        self.q_issue.append(env.now)
        self.queue_tail += self.spq
        self.kick()


def scheduled_arrivals(env, state: _State, arrivals_ns: np.ndarray, max_duration_ns: int):
    """LoadGen's issue thread, open loop: each query joins the SUT at its scheduled time."""
    for t in arrivals_ns:
        t = int(t)
        if max_duration_ns > 0 and t >= max_duration_ns:
            return
        if t > env.now:
            yield env.timeout(t - env.now)
        state.enqueue_query(env)


def closed_loop_issuer(env, state: _State, generated: int, min_queries: int, min_dur: int, max_dur: int):
    """LoadGen's SingleStream/MultiStream issue rule: next query on completion of the last."""
    issued = 0
    while True:
        if issued > 0 and max_dur > 0 and env.now >= max_dur:
            return
        if issued >= generated:
            state.ran_out = True
            return
        state.query_done = env.event()
        state.remaining = state.spq
        state.enqueue_query(env)
        issued += 1
        if issued >= min_queries and env.now >= min_dur:
            return
        yield state.query_done


def serve_batch(env, state: _State, device_id: int, first: int, size: int, service_ns: int):
    """One device executing one batch: busy for ``service_ns``, then its samples complete."""
    yield env.timeout(service_ns)
    for s in range(first, first + size):
        state.complete[s] = env.now
    state.busy[device_id] = False
    if state.query_done is not None:
        state.remaining -= size
        if state.remaining == 0 and not state.query_done.triggered:
            state.query_done.succeed()
    state.kick()


def batcher(env, state: _State, max_batch: int, timeout_ns: int, table, noise):
    """The SUT's dynamic batcher (``max_batch``, ``timeout_ns``) over N devices."""
    batch_points, latency_points = table
    while True:
        state.wake = env.event()
        yield state.wake
        while True:
            # Let every other event of this instant happen first (completions, arrivals).
            while env.peek() == env.now:
                yield env.timeout(0)
            waiting = state.queue_tail - state.queue_head
            idle = [d for d, b in enumerate(state.busy) if not b]
            if waiting == 0 or not idle:
                break
            oldest_ns = state.q_issue[state.queue_head // state.spq]
            if waiting < max_batch and env.now < oldest_ns + timeout_ns:
                state.wake = env.event()
                yield state.wake | env.timeout(oldest_ns + timeout_ns - env.now)
                continue
            size = min(waiting, max_batch)
            d = idle[0]
            mult = draw_multiplier(*noise)
            svc = int(service_time_ns(batch_points, latency_points, size, mult))
            first = state.queue_head
            for s in range(first, first + size):
                state.start[s] = env.now
                state.batch[s] = state.batches
                state.device[s] = d
            state.busy[d] = True
            state.batches += 1
            state.queue_head += size
            env.process(serve_batch(env, state, d, first, size, svc))
        # loop back: wait for the next wake-up


def run(
    closed: bool,
    samples_per_query: int,
    arrivals_ns: np.ndarray,
    generated_queries: int,
    min_query_count: int,
    min_duration_ns: int,
    max_duration_ns: int,
    batch_points: np.ndarray,
    latency_points_ns: np.ndarray,
    max_batch: int,
    timeout_ns: int,
    replicas: int,
    rng: np.random.Generator,
    noise_kind: int,
    noise_sigma: float,
    noise_probs: np.ndarray,
    noise_mults: np.ndarray,
    record: bool = True,
    latency_bound_ns: int = -1,
):
    """Same inputs and outputs as ``engine_numba.run_kernel``, computed with SimPy
    (per-sample arrays are always kept; ``record`` is accepted for the same signature)."""
    env = simpy.Environment()
    state = _State(spq=samples_per_query, busy=[False] * replicas)
    noise = (rng, noise_kind, noise_sigma, noise_probs, noise_mults)
    env.process(batcher(env, state, max_batch, timeout_ns, (batch_points, latency_points_ns), noise))
    if closed:
        env.process(
            closed_loop_issuer(
                env, state, generated_queries, min_query_count, min_duration_ns, max_duration_ns
            )
        )
    else:
        env.process(scheduled_arrivals(env, state, arrivals_ns, max_duration_ns))
    env.run()
    nq = len(state.q_issue)
    n_s = nq * samples_per_query
    idx = range(n_s)
    q_issue = np.array(state.q_issue, dtype=np.int64)
    complete = np.fromiter((state.complete[s] for s in idx), dtype=np.int64, count=n_s)
    over = 0
    if latency_bound_ns >= 0:
        over = int(np.count_nonzero(complete - np.repeat(q_issue, samples_per_query) > latency_bound_ns))
    return (
        q_issue,
        np.fromiter((state.start[s] for s in idx), dtype=np.int64, count=n_s),
        complete,
        np.fromiter((state.batch[s] for s in idx), dtype=np.int64, count=n_s),
        np.fromiter((state.device[s] for s in idx), dtype=np.int64, count=n_s),
        nq,
        state.batches,
        state.ran_out,
        over,
    )
