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

from simbench.rng import stream_rng
from simbench.settings import SCENARIO_RULES, EffectiveSettings, Scenario

__all__ = ["QuerySchedule", "schedule", "stream_rng", "loaded_sample_set"]

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
        if SCENARIO_RULES[self.scenario].issue == "single_query":
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


def _server_arrivals_ns(eff: EffectiveSettings, arrivals) -> np.ndarray:
    """Server schedule: first query at 0, then gaps from the arrival law (Poisson by default)
    truncated to whole ns, until the last scheduled time reaches ``min_duration`` and at least
    ``min_query_count`` queries exist (capped by ``max_query_count`` when non-zero), as
    LoadGen's ``GenerateQueries`` loop does. Poisson is LoadGen's own draw (``std::mt19937``
    seeded with ``schedule_rng_seed``), so the times equal LoadGen's to the ns; the what-if
    laws draw from the ``schedule_rng_seed`` stream of ``stream_rng``.
    """
    from simbench.arrivals import PoissonArrivals  # numba import deferred to the Server path

    law = arrivals or PoissonArrivals()
    return law.times_ns(
        eff.schedule_rng_seed, eff.target_qps, eff.target_duration_ms * 1_000_000, eff.min_query_count, eff.max_query_count
    )


def schedule(effective: EffectiveSettings, arrivals=None) -> QuerySchedule:
    """Generate the query schedule for a run, as LoadGen does before timing starts.

    Parameters
    ----------
    effective : EffectiveSettings
        From ``simbench.settings.resolve``.
    arrivals : simbench.arrivals.ArrivalProcess, optional
        Server arrival law; default Poisson (LoadGen's). Ignored by other scenarios.

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
    * Server: Poisson at ``target_qps`` (or ``arrivals``); see ``_server_arrivals_ns``.
    * Offline: one query at t=0 holding ``samples_per_query`` samples.
    """
    from simbench.arrivals import check_schedule_size

    eff = effective
    spq = eff.samples_per_query
    issue = SCENARIO_RULES[eff.scenario].issue
    if issue == "single_query":
        check_schedule_size("offline_expected_qps", spq, "samples in the Offline query")
        return QuerySchedule(eff.scenario, spq, 1, np.zeros(1, dtype=np.int64), eff)
    if issue == "scheduled":
        times = _server_arrivals_ns(eff, arrivals)
        return QuerySchedule(eff.scenario, spq, int(times.shape[0]), times, eff)
    period_ns = 1e9 / eff.target_qps
    gen_ns = 2 * eff.min_duration_ms * 1_000_000
    count = max(eff.min_query_count, math.ceil(round(gen_ns / period_ns, 6)) + 1)
    if eff.max_query_count:
        count = min(count, eff.max_query_count)
    name = "single_stream" if eff.scenario is Scenario.SingleStream else "multi_stream"
    check_schedule_size(f"{name}_expected_latency_ns", count * spq, "pre-generated samples")
    return QuerySchedule(eff.scenario, spq, int(count), None, eff)
