"""The query schedule, generated up front as LoadGen's ``GenerateQueries`` does.

Shared by the simulator and the real load generator, so both issue the very same queries.

Each randomised dimension has its own generator seeded from its own LoadGen seed
(``qsl_rng_seed`` shuffles the data set and picks the loaded performance set,
``sample_index_rng_seed`` picks each query's samples, ``schedule_rng_seed`` draws the
Server arrival times), so changing the arrival law never reshuffles samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from simbench.settings import EffectiveSettings, Scenario

__all__ = ["QuerySchedule", "schedule", "stream_rng", "loaded_sample_set"]

# Stream tags keep generators distinct even if a user passes the same number for two seeds.
_STREAM_TAGS = {"qsl": 0, "sample_index": 1, "schedule": 2, "service": 3, "accuracy": 4}


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """An independent ``numpy.random.Generator`` for one named random stream.

    Parameters
    ----------
    seed : int
        The seed of that dimension (e.g. ``schedule_rng_seed``), 0 <= seed < 2**64.
    stream : {'qsl', 'sample_index', 'schedule', 'service', 'accuracy'}
        Which dimension the generator serves.
    """
    if stream not in _STREAM_TAGS:
        raise ValueError(f"stream: expected one of {sorted(_STREAM_TAGS)}, got {stream!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _STREAM_TAGS[stream]])))


def loaded_sample_set(effective: EffectiveSettings) -> np.ndarray:
    """QSL indices loaded for the performance run: the first ``performance_sample_count`` of a
    ``qsl_rng_seed`` shuffle of ``range(accuracy_sample_count)`` (int64 array)."""
    total = max(effective.accuracy_sample_count, effective.performance_sample_count)
    perm = stream_rng(effective.qsl_rng_seed, "qsl").permutation(total)
    return perm[: effective.performance_sample_count].astype(np.int64)


@dataclass(frozen=True)
class QuerySchedule:
    """Queries of one run, before it starts.

    Attributes
    ----------
    scenario : Scenario
    samples_per_query : int
    query_count : int
        Queries generated (LoadGen's ``generated_query_count``). SingleStream/MultiStream
        runs issue a prefix of them; Server issues all; Offline has exactly one.
    scheduled_ns : numpy.ndarray or None
        int64, shape (query_count,): scheduled issue time of each query, ns from the start
        (Server: Poisson times; Offline: [0]). None for SingleStream/MultiStream, whose
        queries are issued when the previous one completes.
    effective : EffectiveSettings
    """

    scenario: Scenario
    samples_per_query: int
    query_count: int
    scheduled_ns: np.ndarray | None
    effective: EffectiveSettings

    def sample_indices(self, query_count: int | None = None) -> np.ndarray:
        """QSL sample indices of the first ``query_count`` queries, flattened query-major.

        int64 array of shape (query_count * samples_per_query,). Deterministic: the same
        prefix whatever ``query_count`` is asked (one draw per query from
        ``sample_index_rng_seed``).

        Notes
        -----
        LoadGen: SingleStream/Server draw each sample uniformly with replacement from the
        loaded set; MultiStream takes ``samples_per_query`` contiguous loaded samples from a
        random start; Offline repeats the loaded set in order (shuffled per repetition in
        equal-issue mode).
        """
        n = self.query_count if query_count is None else int(query_count)
        eff = self.effective
        loaded = loaded_sample_set(eff)
        count = loaded.shape[0]
        rng = stream_rng(eff.sample_index_rng_seed, "sample_index")
        spq = self.samples_per_query
        if self.scenario is Scenario.Offline:
            if eff.sample_concatenate_permutation:
                reps = math.ceil(spq / count)
                order = np.concatenate([rng.permutation(count) for _ in range(reps)])[:spq]
            else:
                order = np.arange(spq, dtype=np.int64) % count
            return loaded[order]
        starts = rng.integers(0, count, size=n, dtype=np.int64)
        if spq == 1:
            return loaded[starts]
        offsets = (starts[:, None] + np.arange(spq, dtype=np.int64)[None, :]) % count
        return loaded[offsets.reshape(-1)]


@njit(cache=True)
def _poisson_times_ns(rng, mean_gap_ns, duration_ns, min_queries, max_queries, capacity):
    """Scheduled times: 0, then cumulative exponential gaps truncated to whole ns, while the
    previous time is before ``duration_ns`` or fewer than ``min_queries`` exist."""
    out = np.empty(capacity, dtype=np.int64)
    n = 0
    t = np.int64(0)
    prev = np.int64(-1)
    while prev < duration_ns or n < min_queries:
        if max_queries > 0 and n >= max_queries:
            break
        if n == out.shape[0]:
            grown = np.empty(out.shape[0] * 2, dtype=np.int64)
            grown[:n] = out[:n]
            out = grown
        out[n] = t
        n += 1
        prev = t
        t += np.int64(np.floor(rng.standard_exponential() * mean_gap_ns))
    return out[:n].copy()


def _server_arrivals_ns(eff: EffectiveSettings) -> np.ndarray:
    """Poisson schedule: first query at 0, then exponential gaps (truncated to whole ns).

    Generates until the last scheduled time reaches ``min_duration`` and at least
    ``min_query_count`` queries exist (capped by ``max_query_count`` when non-zero), as
    LoadGen's ``GenerateQueries`` loop does; the exponential variates come from the
    ``schedule_rng_seed`` stream, one per query after the first.
    """
    rng = stream_rng(eff.schedule_rng_seed, "schedule")
    mean_gap_ns = 1e9 / eff.target_qps
    duration_ns = eff.target_duration_ms * 1_000_000
    expected = int(duration_ns / mean_gap_ns * 1.01) + eff.min_query_count + 1024
    return _poisson_times_ns(
        rng, mean_gap_ns, duration_ns, eff.min_query_count, eff.max_query_count, expected
    )


def schedule(effective: EffectiveSettings) -> QuerySchedule:
    """Generate the query schedule for a run, as LoadGen does before timing starts.

    Parameters
    ----------
    effective : EffectiveSettings
        From ``simbench.settings.resolve``.

    Returns
    -------
    QuerySchedule

    Notes
    -----
    * SingleStream/MultiStream: queries are pre-generated at period ``1e9/target_qps`` ns
      until the timeline reaches ``2 * min_duration`` (the first query at 0, the last the
      first at or past it) and at least ``min_query_count`` exist:
      ``count = max(min_query_count, ceil(2*min_duration/period) + 1)``. LoadGen issues them
      on completion and logs "Ran out of generated queries" if they run out first.
      (Checked against mlcommons-loadgen 6.0.17: 100 us period, 2 s -> 40,001 queries.)
    * Server: see ``_server_arrivals_ns``.
    * Offline: one query at t=0 holding ``samples_per_query`` samples.
    """
    eff = effective
    spq = eff.samples_per_query
    if eff.scenario is Scenario.Offline:
        return QuerySchedule(eff.scenario, spq, 1, np.zeros(1, dtype=np.int64), eff)
    if eff.scenario is Scenario.Server:
        times = _server_arrivals_ns(eff)
        return QuerySchedule(eff.scenario, spq, int(times.shape[0]), times, eff)
    period_ns = 1e9 / eff.target_qps
    gen_ns = 2 * eff.min_duration_ms * 1_000_000
    count = max(eff.min_query_count, math.ceil(round(gen_ns / period_ns, 6)) + 1)
    if eff.max_query_count:
        count = min(count, eff.max_query_count)
    return QuerySchedule(eff.scenario, spq, int(count), None, eff)
