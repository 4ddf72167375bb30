"""The simulator-driven coverage law: latencies produced by the simulator itself.

This is planning code (it drives ``simbench.sim``), so it lives in ``simbench.plan``;
``simbench.stats`` never imports the simulator. It satisfies the
:class:`simbench.stats.montecarlo.ReplicatedLaw` protocol, which is all
:func:`simbench.stats.validate` and :func:`simbench.stats.validate_correlated` need.

:class:`SimulatorLaw` wraps ``simbench.sim.simulate`` (numba engine) for one
Server configuration — a profile's SUT for a model, a batching policy, an
arrival law and a load given as a fraction of the SUT's capacity — so that the
Monte Carlo checks of :mod:`simbench.stats.montecarlo` (``validate``,
``validate_correlated``) run on real simulator output instead of the
GI/M/1 model.

* **Replications.** Replication ``r`` of seed ``s`` is one Server run of
  about ``n`` queries (``min_query_count = n``, ``min_duration_ms = 1``: Server
  generates until both are reached) whose ``schedule_rng_seed``,
  ``sample_index_rng_seed`` and ``service_seed`` are three words of
  ``numpy.random.SeedSequence([s, r])``. Replications are independent, each
  starts from an empty system (as a real run does), and the result for ``r``
  does not depend on how many replications run or on which worker ran it.
* **The true quantile.** ``quantile(q)`` is the lower ``q``-quantile of one
  pooled reference sample: ``reference_runs`` independent runs of
  ``reference_queries / reference_runs`` queries each, from seed stream
  ``SeedSequence([reference_seed, 2**40 + j])`` (never used by a replication).
  :meth:`SimulatorLaw.reference` reports its length, its own τ and the
  standard error of the reference p-th percentile on the probability scale,
  :math:`\\sqrt{p(1-p)\\tau/L}`.

Each replication is reduced to the counts ``#{x < v}`` and ``#{x <= v}`` at the
three thresholds the checks need, so no replication is kept in memory.
"""

from __future__ import annotations

import math
import operator
import os
import time
from dataclasses import dataclass, field

import numpy as np

from simbench.errors import SimbenchInputError

__all__ = ["SimulatorLaw", "SimulatorReference", "shutdown_workers"]

_REFERENCE_OFFSET = 2**40


@dataclass(frozen=True)
class SimulatorReference:
    """The long reference sample behind :meth:`SimulatorLaw.quantile`.

    Attributes
    ----------
    queries : int
        Pooled reference length ``L``.
    runs : int
        Independent runs it was pooled from.
    percentile : float
        ``p`` the diagnostics below refer to.
    quantile_ns : float
        The reference p-th percentile.
    autocorrelation_time : float
        τ of ``[x <= quantile_ns]`` in the first reference run (acf).
    standard_error : float
        :math:`\\sqrt{p(1-p)\\tau/L}`: standard error of ``F(quantile_ns)``
        around ``p`` (probability scale).
    elapsed_s : float
        Wall time to simulate it.
    """

    queries: int
    runs: int
    percentile: float
    quantile_ns: float
    autocorrelation_time: float
    standard_error: float
    elapsed_s: float


def _seeds(seed: int, replication: int) -> tuple[int, int, int]:
    words = np.random.SeedSequence([int(seed), int(replication)]).generate_state(3, dtype=np.uint64)
    return tuple(int(w) >> 1 for w in words)  # < 2**63: any signed/unsigned consumer accepts them


def _run_latencies(spec: tuple, query_count: int, seed: int, replication: int) -> np.ndarray:
    """One simulated Server run; latencies in ns (int64) in issue order."""
    import dataclasses

    from simbench.sim import simulate

    settings, sut, arrivals = _materialise(spec)
    schedule_seed, index_seed, service_seed = _seeds(seed, replication)
    run_settings = dataclasses.replace(
        settings,
        min_query_count=int(query_count),
        min_duration_ms=1,
        schedule_rng_seed=schedule_seed,
        sample_index_rng_seed=index_seed,
    )
    run = simulate(run_settings, sut, engine="numba", service_seed=service_seed, arrivals=arrivals)
    return run.trace.sample_latencies_ns()


_CACHE: dict = {}


def _materialise(spec: tuple):
    """(settings, sut, arrivals) for a law spec, cached per process."""
    if spec in _CACHE:
        return _CACHE[spec]
    import dataclasses

    from simbench.arrivals import parse_arrivals
    from simbench.profiles import load_profile
    from simbench.batching import parse_batching
    from simbench.settings import Scenario, official_settings
    from simbench.sim import sut_from_profile
    from simbench.plan.peak import capacity_qps

    profile, model, batching, utilization, arrival, governor = spec
    # "dynamic" alone is the profile's own batcher (A100: 128 / 4000 us); anything else is the
    # --batching grammar of simulate and benchmark. The governor (a simulate --governor spec)
    # does not change the utilization's reference: it is of the device at its reference clock.
    chosen = None if batching == "dynamic" else parse_batching(batching)
    sut = sut_from_profile(load_profile(profile), model, Scenario.Server, batching=chosen, governor=governor)
    settings = dataclasses.replace(
        official_settings(model, "Server"), server_target_qps=float(utilization) * capacity_qps(sut)
    )
    value = (settings, sut, parse_arrivals(arrival))
    _CACHE[spec] = value
    return value


_POOLS: dict = {}


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C reaches the whole process group, but only the parent handles it
    (it terminates the workers), so workers print no tracebacks."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int):
    if workers not in _POOLS:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=_ignore_sigint)
    return _POOLS[workers]


def shutdown_workers() -> None:
    """Terminate the replication worker processes now (after Ctrl-C), dropping queued chunks.

    Finished rows are unaffected; the next :meth:`SimulatorLaw.threshold_counts` starts a new pool.
    """
    while _POOLS:
        _, pool = _POOLS.popitem()
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


@dataclass(frozen=True, eq=False)
class SimulatorLaw:
    """Server latencies from ``simbench.sim.simulate`` (numba engine), for :func:`validate`.

    Parameters
    ----------
    utilization : float
        Offered load as a fraction of ``capacity_qps(sut)`` (full batches back
        to back; ``1/latency(1)`` without batching), in (0, 1).
    batching : str, default "dynamic"
        ``"dynamic"`` (the profile's dynamic batcher; A100: 128 / 4000 µs), or any
        ``--batching`` form of ``simulate``/``benchmark`` (``none``, ``N``,
        ``dynamic:MAX_BATCH[:TIMEOUT_US]``; ``simbench.batching.parse_batching``).
    arrival : str, default "poisson"
        Arrival law in ``simbench simulate --arrival`` syntax (``poisson``,
        ``gamma:CV``, ``mmpp:RATIO[:BASE[:BURST]]``).
    profile, model : str
        Hardware profile and model (default A100, ResNet-50).
    reference_queries : int, default 50_000_000
        Length ``L`` of the pooled reference sample giving the true quantiles.
    reference_runs : int, default 5
        Independent runs the reference is pooled from.
    reference_seed : int, default 0
        Seed of the reference runs (streams disjoint from the replications').
    workers : int, default 0
        Processes for replications (``spawn``); 0 = ``os.cpu_count()``,
        1 = in this process.

    Examples
    --------
    >>> law = SimulatorLaw(0.3, batching="none", reference_queries=200_000, reference_runs=2, workers=1)
    >>> x = law.sample(1000, seed=0, replication=0)
    >>> x.size >= 1000
    True
    """

    utilization: float
    batching: str = "dynamic"
    arrival: str = "poisson"
    profile: str = "a100"
    model: str = "resnet50"
    reference_queries: int = 50_000_000
    reference_runs: int = 5
    reference_seed: int = 0
    workers: int = 0
    governor: str | None = None
    _state: dict = field(default_factory=dict, repr=False, compare=False)

    name = "simulator"
    correlated = True
    simulated = True

    def __post_init__(self) -> None:
        if not 0.0 < self.utilization < 1.0:
            raise SimbenchInputError(f"utilization must be in (0, 1), got {self.utilization!r}")
        if self.batching != "dynamic":
            from simbench.batching import parse_batching

            parse_batching(self.batching)  # ValueError naming --batching and the grammar
        if operator.index(self.reference_runs) < 1 or self.reference_queries < 1000 * self.reference_runs:
            raise SimbenchInputError("reference_queries must be >= 1000 per reference run")
        _materialise(self._spec)  # validate profile / model / arrival now

    def __repr__(self) -> str:
        return (
            f"SimulatorLaw({self.profile}/{self.model} Server, utilization={self.utilization:g}, "
            f"batching={self.batching!r}, arrival={self.arrival!r}"
            + (f", governor={self.governor!r})" if self.governor else ")")
        )

    @property
    def _spec(self) -> tuple:
        return (self.profile, self.model, self.batching, float(self.utilization), self.arrival, self.governor)

    @property
    def target_qps(self) -> float:
        """The Server target QPS this utilization maps to."""
        return float(_materialise(self._spec)[0].server_target_qps)

    def sample(self, query_count: int, *, seed: int = 0, replication: int = 0) -> np.ndarray:
        """Latencies (ns, float) of replication ``replication`` of seed ``seed``, in issue order.

        Server issues at least ``query_count`` queries; the first ``query_count`` are returned.
        """
        n = operator.index(query_count)
        if n < 1:
            raise SimbenchInputError(f"query_count must be >= 1, got {query_count!r}")
        return _run_latencies(self._spec, n, seed, replication)[:n].astype(float)

    def worker_count(self) -> int:
        """Processes the replications run in (``workers``, or all cores when 0)."""
        return self.workers or (os.cpu_count() or 1)

    def threshold_counts(self, query_count: int, replications: int, seed: int, thresholds_ns: np.ndarray) -> np.ndarray:
        """Counts ``[r, j, 0] = #{x < v_j}``, ``[r, j, 1] = #{x <= v_j}`` for each replication.

        Only the first ``query_count`` latencies of each run are counted (so
        every replication has exactly ``n``).
        """
        thresholds = np.asarray(thresholds_ns, dtype=float)
        n = operator.index(query_count)
        workers = min(self.worker_count(), replications)
        if workers <= 1:
            return _count_chunk_exact(self._spec, n, seed, list(range(replications)), thresholds)
        chunks = np.array_split(np.arange(replications), 8 * workers)
        futures = [
            _pool(workers).submit(_count_chunk_exact, self._spec, n, seed, chunk.tolist(), thresholds)
            for chunk in chunks
            if chunk.size
        ]
        return np.concatenate([f.result() for f in futures])

    def threshold_counts_each(self, query_counts, seed: int, thresholds_ns: np.ndarray) -> np.ndarray:
        """Like :meth:`threshold_counts` with its own run length per replication (replication ``r``
        runs ``query_counts[r]`` queries): the fresh runs of ``simbench.stats.procedure``."""
        thresholds = np.asarray(thresholds_ns, dtype=float)
        counts = [int(v) for v in np.asarray(query_counts).ravel()]
        workers = min(self.worker_count(), len(counts))
        if workers <= 1:
            return np.concatenate([_count_chunk_exact(self._spec, n, seed, [r], thresholds)
                                   for r, n in enumerate(counts)])
        futures = [_pool(workers).submit(_count_chunk_exact, self._spec, n, seed, [r], thresholds)
                   for r, n in enumerate(counts)]
        return np.concatenate([f.result() for f in futures])

    # ---------------------------------------------------------------- reference
    def _reference_sorted(self) -> np.ndarray:
        if "sorted" not in self._state:
            start = time.perf_counter()
            per_run = math.ceil(self.reference_queries / self.reference_runs)
            parts = []
            for j in range(self.reference_runs):
                parts.append(_run_latencies(self._spec, per_run, self.reference_seed, _REFERENCE_OFFSET + j)[:per_run])
            self._state["first"] = parts[0]
            pooled = np.concatenate(parts)
            del parts
            pooled.sort()
            self._state["sorted"] = pooled
            self._state["elapsed"] = time.perf_counter() - start
        return self._state["sorted"]

    def quantile(self, probability: float) -> float:
        """Lower ``probability``-quantile of the reference sample, in ns."""
        values = self._reference_sorted()
        return float(values[max(0, math.ceil(values.size * probability) - 1)])

    def reference_autocorrelation(self, probabilities, batch_size: int = 20_000) -> tuple[float, ...]:
        """τ of ``[x <= quantile(q)]`` for each ``q``, by batch means over the first reference run.

        The first reference run is one long independent Server run (``reference_queries /
        reference_runs`` queries); batches of ``batch_size`` queries, ``b Var(batch means) /
        (q (1 - q))``. Used as the "true" τ of ``simbench.stats.procedure``'s conditional coverage.
        """
        self._reference_sorted()
        first = self._state["first"]
        b = int(min(batch_size, max(1, first.size // 50)))
        out = []
        for q in probabilities:
            indicator = (first <= self.quantile(float(q))).astype(float)
            means = indicator[: first.size // b * b].reshape(-1, b).mean(axis=1)
            out.append(float(b * means.var(ddof=1) / (float(q) * (1.0 - float(q)))))
        return tuple(out)

    def reference(self, percentile: float = 0.99) -> SimulatorReference:
        """Length, τ and standard error of the reference sample at ``percentile``."""
        from simbench.stats.autocorrelation import indicator_autocorrelation

        values = self._reference_sorted()
        q = self.quantile(percentile)
        tau = indicator_autocorrelation(self._state["first"], percentile, threshold_ns=q).autocorrelation_time
        p = float(percentile)
        return SimulatorReference(
            queries=int(values.size),
            runs=int(self.reference_runs),
            percentile=p,
            quantile_ns=q,
            autocorrelation_time=float(tau),
            standard_error=math.sqrt(p * (1.0 - p) * tau / values.size),
            elapsed_s=float(self._state["elapsed"]),
        )


def _count_chunk_exact(spec, n, seed, replications, thresholds):
    out = np.empty((len(replications), thresholds.size, 2), dtype=np.int64)
    for i, r in enumerate(replications):
        x = _run_latencies(spec, n, seed, r)[:n]
        if x.size < n:
            raise RuntimeError(f"replication {r} produced {x.size} < {n} queries")
        for j, v in enumerate(thresholds):
            out[i, j, 0] = np.count_nonzero(x < v)
            out[i, j, 1] = np.count_nonzero(x <= v)
    return out
