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

__all__ = ["QuerySchedule", "schedule", "stream_rng", "loaded_sample_set", "expected_sample_count"]

def loaded_sample_set(effective: EffectiveSettings) -> np.ndarray:
    """QSL indices loaded for the performance run, in LoadGen's order: ``std::shuffle`` of
    ``0 .. performance_sample_count - 1`` by ``std::mt19937(qsl_rng_seed)``, as LoadGen's
    ``GenerateLoadableSets`` builds its performance set (``simbench.loadgen_rng``).
    int64 array of shape (performance_sample_count,), without MultiStream's padding."""
    from simbench.loadgen_rng import loaded_sample_set as _loadgen_loaded_set

    return _loadgen_loaded_set(effective.qsl_rng_seed, effective.performance_sample_count)


def _generation_min_queries(eff: EffectiveSettings) -> tuple[int, int]:
    """LoadGen's ``min_queries`` in ``GenerateQueries`` and its equal-issue block (0: none).

    ``performance_issue_unique`` asks for one query per loaded sample (per
    ``samples_per_query`` in MultiStream); equal issue (``sample_concatenate_permutation``)
    pads ``min_queries`` to a multiple of the loaded set's size (with MultiStream's padding).
    """
    spq = eff.samples_per_query
    loaded = eff.performance_sample_count + (spq - 1 if eff.scenario is Scenario.MultiStream else 0)
    min_queries = loaded // spq if eff.performance_issue_unique else eff.min_query_count
    block = 0
    if eff.sample_concatenate_permutation:
        block = loaded
        if min_queries % block:
            min_queries += block - min_queries % block
    return min_queries, block


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

        int64 array of shape (query_count * samples_per_query,) (Offline: the one query's
        samples). The very indices LoadGen issues for the same seeds: LoadGen's own
        ``std::mt19937(sample_index_rng_seed)`` draws (``simbench.loadgen_rng``), so the
        same prefix whatever ``query_count`` is asked.

        Notes
        -----
        LoadGen: SingleStream/Server draw each sample uniformly with replacement from the
        loaded set; MultiStream takes ``samples_per_query`` contiguous loaded samples from a
        random start; Offline repeats the loaded set in order (shuffled per repetition in
        equal-issue mode); ``performance_issue_unique`` / ``performance_issue_same`` and
        equal issue as in ``loadgen.cc``'s ``GenerateQueries``.
        """
        from simbench.loadgen_rng import query_sample_indices

        n = self.query_count if query_count is None else int(query_count)
        eff = self.effective
        offline = self.scenario is Scenario.Offline
        return query_sample_indices(
            loaded_sample_set(eff),
            scenario=self.scenario.value,
            query_count=1 if offline else n,
            samples_per_query=self.samples_per_query,
            sample_index_rng_seed=eff.sample_index_rng_seed,
            min_query_count=eff.min_query_count,
            performance_issue_unique=eff.performance_issue_unique,
            performance_issue_same=eff.performance_issue_same,
            performance_issue_same_index=eff.performance_issue_same_index,
            sample_concatenate_permutation=eff.sample_concatenate_permutation,
        )


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
    min_queries, block = _generation_min_queries(eff)
    duration_ns = 0 if eff.performance_issue_unique else eff.target_duration_ms * 1_000_000
    times = law.times_ns(eff.schedule_rng_seed, eff.target_qps, duration_ns, min_queries, eff.max_query_count)
    if block and not eff.performance_issue_unique:
        # Equal issue: LoadGen keeps adding a whole loaded set of queries while the timeline
        # is short of min_duration, so the count ends on a multiple of the set's size.
        target = -(-int(times.shape[0]) // block) * block
        if target > times.shape[0] and not (eff.max_query_count and times.shape[0] >= eff.max_query_count):
            times = law.times_ns(eff.schedule_rng_seed, eff.target_qps, duration_ns, target, eff.max_query_count)
    return times


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
    min_queries, block = _generation_min_queries(eff)
    if eff.performance_issue_unique:
        count = min_queries  # LoadGen generates exactly these (no duration target)
    else:
        count = max(min_queries, math.ceil(round(gen_ns / period_ns, 6)) + 1)
        if block:
            count = -(-count // block) * block  # equal issue: whole loaded sets of queries
    if eff.max_query_count:
        count = min(count, eff.max_query_count)
    name = "single_stream" if eff.scenario is Scenario.SingleStream else "multi_stream"
    check_schedule_size(f"{name}_expected_latency_ns", count * spq, "pre-generated samples")
    return QuerySchedule(eff.scenario, spq, int(count), None, eff)


def expected_sample_count(effective: EffectiveSettings) -> int:
    """Samples ``schedule(effective)`` will hold, computed without generating it (for the
    disk and memory checks made before a run).

    Exact for SingleStream, MultiStream and Offline (the formulas of ``schedule``). For
    Server the count is random; this returns a high estimate: the Poisson mean
    ``target_qps * target_duration`` plus four standard deviations (``sqrt`` of the mean)
    plus one, at least ``min_query_count``, at most ``max_query_count`` when non-zero.

    Returns
    -------
    int
        Samples (queries x samples per query), >= 1.
    """
    eff = effective
    spq = eff.samples_per_query
    if eff.scenario is Scenario.Offline:
        return int(spq)
    if eff.scenario is Scenario.Server:
        mean = eff.target_qps * eff.target_duration_ms / 1000.0
        count = max(eff.min_query_count, math.ceil(mean + 4.0 * math.sqrt(mean) + 1.0))
    else:
        period_ns = 1e9 / eff.target_qps
        gen_ns = 2 * eff.min_duration_ms * 1_000_000
        count = max(eff.min_query_count, math.ceil(round(gen_ns / period_ns, 6)) + 1)
    if eff.max_query_count:
        count = min(count, eff.max_query_count)
    return int(count) * int(spq)
