"""Server arrival processes: LoadGen's Poisson law and what-if alternatives.

MLPerf's Server scenario is defined with Poisson arrivals (``PoissonArrivals``, the default).
The others answer "what if traffic were smoother or burstier than Poisson at the same mean
rate?": ``DeterministicArrivals`` (constant gaps), ``GammaArrivals`` (gap coefficient of
variation ``cv``; cv = 1 is Poisson, cv > 1 bursty), ``MMPPArrivals`` (a two-state
Markov-modulated Poisson process: bursts of ``burst_ratio`` times the base rate) and
``TraceArrivals`` (the inter-arrival gaps of a real trace, rescaled to the target rate).

Every law yields scheduled times in whole ns with the first query at 0, generated until the
previous time reaches the duration and at least ``min_queries`` exist (LoadGen's loop), from
``schedule_rng_seed``: Poisson through LoadGen's own ``std::mt19937`` draw (the same times as
LoadGen, to the ns), the what-if laws through simbench's ``schedule`` stream. Each has
``mean`` and ``cv`` of its gaps (in units of the mean gap) for analytic checks.

References
----------
LoadGen ``loadgen.cc`` ``GenerateQueries`` / ``ScheduleDistribution`` (Poisson);
W. Fischer and K. Meier-Hellstern, "The Markov-modulated Poisson process (MMPP) cookbook",
Performance Evaluation 18 (1993) — the two-state MMPP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from simbench.errors import SimbenchInputError

MAX_SCHEDULE_SIZE = 150_000_000
"""Most queries (or Offline samples) one run may generate: a simulated sample costs about 90 bytes of memory, so 150 M is ~14 GB."""

__all__ = [
    "MAX_SCHEDULE_SIZE",
    "check_schedule_size",
    "ArrivalProcess",
    "PoissonArrivals",
    "DeterministicArrivals",
    "GammaArrivals",
    "MMPPArrivals",
    "TraceArrivals",
    "DiurnalArrivals",
    "NAMED_TRACES",
    "parse_arrivals",
    "loadgen_mt19937",
    "PoissonGapStream",
    "KeptPoissonArrivals",
]


@njit(cache=True)
def _times_ns(rng, kind, mean_gap_ns, p1, p2, p3, gaps, duration_ns, min_queries, max_queries, capacity):
    """Scheduled times for one law (kind 1 deterministic, 2 Gamma(shape p1),
    3 MMPP-2 (p1 = burst rate ratio, p2 = mean dwell in the base state / mean gap,
    p3 = mean dwell in the burst state / mean gap), 4 trace gaps (cycled))."""
    out = np.empty(capacity, dtype=np.int64)
    n = 0
    t = np.int64(0)
    prev = np.int64(-1)
    state = 0
    # MMPP: rates chosen so the long-run mean rate is 1 / mean_gap_ns.
    frac_burst = p3 / (p2 + p3) if kind == 3 else 0.0
    base_rate = 1.0 / (mean_gap_ns * ((1.0 - frac_burst) + frac_burst * p1)) if kind == 3 else 0.0
    state_left = 0.0
    if kind == 3:
        state_left = rng.standard_exponential() * p2 * mean_gap_ns
    i = 0
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
        if kind == 1:
            gap = mean_gap_ns
        elif kind == 2:
            gap = rng.standard_gamma(p1) * mean_gap_ns / p1
        elif kind == 3:
            gap = 0.0
            while True:
                rate = base_rate * (p1 if state == 1 else 1.0)
                step = rng.standard_exponential() / rate
                if step <= state_left:
                    state_left -= step
                    gap += step
                    break
                # the state ends before the next arrival: memorylessness lets us redraw
                gap += state_left
                state = 1 - state
                state_left = rng.standard_exponential() * (p3 if state == 1 else p2) * mean_gap_ns
        else:
            gap = gaps[i % gaps.shape[0]] * mean_gap_ns
            i += 1
        t += np.int64(np.floor(gap))
    return out[:n].copy()


def check_schedule_size(setting: str, count: float, what: str) -> None:
    """Raise ValueError naming ``setting`` when a run would generate more than
    ``MAX_SCHEDULE_SIZE`` queries or samples (each costs tens of bytes per trace column)."""
    if count > MAX_SCHEDULE_SIZE:
        raise SimbenchInputError(
            f"{setting}: this run would generate {count:,.0f} {what}, more than the"
            f" {MAX_SCHEDULE_SIZE:,} one run can hold in memory; lower the rate or min_duration"
        )


@dataclass(frozen=True)
class ArrivalProcess:
    """Base class; subclasses set the law. ``kind`` names it in metadata and on the CLI."""

    @property
    def kind(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _params(self) -> tuple[int, float, float, float, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def times_ns(
        self,
        seed: int,
        target_qps: float,
        duration_ns: int,
        min_queries: int,
        max_queries: int = 0,
    ) -> np.ndarray:
        """Scheduled times (int64 ns, first at 0) at mean rate ``target_qps`` (> 0).

        Parameters
        ----------
        seed : int
            ``schedule_rng_seed`` (0 <= seed < 2**64).
        target_qps : float
            Mean arrival rate, queries per second, > 0.
        duration_ns : int
            Queries are generated until the previous scheduled time reaches this.
        min_queries, max_queries : int
            At least ``min_queries``; at most ``max_queries`` when non-zero.

        Raises
        ------
        ValueError
            ``target_qps`` not positive, or a schedule too large for memory or int64 ns.
        """
        if not target_qps > 0:
            raise SimbenchInputError(f"target_qps: expected > 0, got {target_qps}")
        mean_gap_ns = 1e9 / target_qps
        expected = duration_ns / mean_gap_ns
        if max_queries:
            expected = min(expected, max_queries)
        check_schedule_size("server_target_qps", max(expected, min_queries), "queries")
        # The schedule must fit int64 ns: the run spans about max(duration, min_queries gaps).
        span_ns = max(duration_ns, (min_queries + 1) * mean_gap_ns)
        if span_ns * 20 > 2**62:
            raise SimbenchInputError(
                f"server_target_qps: {target_qps:g} QPS is too low: {max(min_queries, 1)} queries"
                f" would span {span_ns / 1e9 / 86400:,.0f} days"
            )
        capacity = int(expected * 1.05) + min_queries + 1024
        return self._generate(int(seed), float(target_qps), int(duration_ns), int(min_queries), int(max_queries), capacity)

    def _generate(self, seed, target_qps, duration_ns, min_queries, max_queries, capacity) -> np.ndarray:
        from simbench.rng import stream_rng

        code, p1, p2, p3, gaps = self._params()
        rng = stream_rng(seed, "schedule")
        return _times_ns(rng, code, 1e9 / target_qps, p1, p2, p3, gaps, duration_ns, min_queries, max_queries, capacity)

    def describe(self) -> dict:
        return {"kind": self.kind, **{k: v for k, v in self.__dict__.items() if k != "gaps"}}


@dataclass(frozen=True)
class PoissonArrivals(ArrivalProcess):
    """Exponential gaps: LoadGen's Server law (gap cv = 1), drawn exactly as LoadGen draws them.

    The times are LoadGen's own: ``std::mt19937`` seeded with ``schedule_rng_seed``,
    ``std::exponential_distribution<double>(target_qps)`` in seconds, each gap truncated to
    whole ns and summed (``loadgen.cc`` ``ScheduleDistribution<Server>`` and
    ``GenerateQueries``). So the same settings give the very schedule LoadGen issues, to the
    ns; ``tests/bench/test_mlcommons.py`` checks it against mlcommons-loadgen's trace log.
    """

    kind = "poisson"  # type: ignore[assignment]
    mean = 1.0
    cv = 1.0

    def _generate(self, seed, target_qps, duration_ns, min_queries, max_queries, capacity) -> np.ndarray:
        bitgen = loadgen_mt19937(seed)
        out = np.empty(capacity, dtype=np.int64)
        state = np.array([0, 0, -1], dtype=np.int64)  # queries so far, next time, previous time
        chunk = max(1024, min(capacity, 1 << 22))
        while True:
            if out.shape[0] - state[0] < chunk:
                out = np.concatenate([out, np.empty(max(chunk, out.shape[0]), dtype=np.int64)])
            raw = bitgen.random_raw(2 * chunk)
            if _loadgen_poisson_fill(raw, target_qps, out, state, duration_ns, min_queries, max_queries):
                return out[: state[0]].copy()


def loadgen_mt19937(seed: int) -> np.random.MT19937:
    """A ``numpy.random.MT19937`` in the state of C++ ``std::mt19937(seed)``
    (``simbench.loadgen_rng.mt19937``, which also draws LoadGen's sample indices)."""
    from simbench.loadgen_rng import mt19937

    return mt19937(seed)


@njit(cache=True)
def _loadgen_poisson_fill(raw, rate_qps, out, state, duration_ns, min_queries, max_queries):
    """Consume pairs of 32-bit mt19937 outputs as LoadGen's exponential gaps; True when done.

    libstdc++ ``generate_canonical<double, 53>`` takes two outputs, ``(g1 + g2 * 2**32) / 2**64``
    (clamped below 1); ``exponential_distribution`` returns ``-log(1 - u) / rate`` seconds;
    ``duration_cast<nanoseconds>`` truncates ``seconds * 1e9`` toward zero.
    """
    n, t, prev = state[0], state[1], state[2]
    below_one = np.nextafter(1.0, 0.0)
    for k in range(raw.shape[0] // 2):
        if not (prev < duration_ns or n < min_queries) or (max_queries > 0 and n >= max_queries):
            break
        out[n] = t
        n += 1
        prev = t
        u = (np.float64(raw[2 * k]) + np.float64(raw[2 * k + 1]) * 4294967296.0) / 18446744073709551616.0
        if u >= 1.0:
            u = below_one
        gap_s = -np.log(1.0 - u) / rate_qps
        t += np.int64(gap_s * 1e9)
    state[0], state[1], state[2] = n, t, prev
    return not (prev < duration_ns or n < min_queries) or (max_queries > 0 and n >= max_queries)


class PoissonGapStream:
    """LoadGen's standard exponential draws for one ``schedule_rng_seed``, kept for reuse.

    ``PoissonArrivals`` draws gap ``k`` as ``-log(1 - u_k) / target_qps`` seconds with
    ``u_k`` from ``std::mt19937(seed)`` (see ``_loadgen_poisson_fill``). The ``u_k`` do not
    depend on the rate, so a search that runs many rates with one seed (the peak search,
    sweeps) can draw ``E_k = -log(1 - u_k)`` once and rebuild each rate's schedule from them
    with ``times_ns``: the same expression in the same order, so the same times to the ns
    (tested against ``PoissonArrivals.times_ns``).

    Parameters
    ----------
    seed : int
        ``schedule_rng_seed`` (0 <= seed < 2**64).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._bitgen = loadgen_mt19937(self.seed)
        self._gaps = np.empty(0, dtype=np.float64)
        self._buffer = np.empty(0, dtype=np.int64)

    def standard_gaps(self, count: int) -> np.ndarray:
        """The first ``count`` draws ``E_k = -log(1 - u_k)`` (float64, shape (count,))."""
        have = self._gaps.shape[0]
        if count > have:
            more = max(count - have, have // 4, 1 << 16)
            grown = np.empty(have + more, dtype=np.float64)
            grown[:have] = self._gaps
            chunk = 1 << 22  # draw in pieces: the raw outputs take twice the room of the gaps
            for lo in range(have, have + more, chunk):
                hi = min(lo + chunk, have + more)
                _standard_exponentials(self._bitgen.random_raw(2 * (hi - lo)), grown[lo:hi])
            self._gaps = grown
        return self._gaps[:count]

    def times_ns(
        self, target_qps: float, duration_ns: int, min_queries: int, max_queries: int = 0, *, reuse: bool = False
    ) -> np.ndarray:
        """``PoissonArrivals().times_ns(seed, target_qps, ...)``, from the kept draws.

        With ``reuse=True`` the result is a view of a buffer the next ``reuse`` call
        overwrites (a probe that is done with its schedule saves the allocation).

        Raises
        ------
        ValueError
            ``target_qps`` not positive, or a schedule too large (as ``times_ns``).
        """
        if not target_qps > 0:
            raise SimbenchInputError(f"target_qps: expected > 0, got {target_qps}")
        expected = duration_ns / (1e9 / target_qps)
        if max_queries:
            expected = min(expected, max_queries)
        check_schedule_size("server_target_qps", max(expected, min_queries), "queries")
        count = int(expected * 1.02) + min_queries + 1024
        while True:
            gaps = self.standard_gaps(count)
            if reuse:
                if self._buffer.shape[0] < count:
                    self._buffer = np.empty(count, dtype=np.int64)
                out = self._buffer
            else:
                out = np.empty(count, dtype=np.int64)
            n = _poisson_times_from_gaps(gaps, float(target_qps), out, int(duration_ns), int(min_queries), int(max_queries))
            if n >= 0:
                return out[:n] if reuse else out[:n].copy()
            count = int(count * 1.25) + 1024


@dataclass(frozen=True, eq=False)
class KeptPoissonArrivals(PoissonArrivals):
    """``PoissonArrivals`` served from a ``PoissonGapStream``'s kept draws when the seed is
    the stream's (the same times to the ns; otherwise drawn afresh). A run right after a peak
    search at the same seed then skips redrawing its tens of millions of gaps."""

    stream: PoissonGapStream | None = None

    def _generate(self, seed, target_qps, duration_ns, min_queries, max_queries, capacity) -> np.ndarray:
        if self.stream is None or self.stream.seed != int(seed):
            return super()._generate(seed, target_qps, duration_ns, min_queries, max_queries, capacity)
        return self.stream.times_ns(target_qps, duration_ns, min_queries, max_queries)

    def describe(self) -> dict:
        return {"kind": "poisson"}


@njit(cache=True)
def _standard_exponentials(raw, out):
    """``-log(1 - u)`` of each pair of 32-bit outputs, as ``_loadgen_poisson_fill`` forms them."""
    below_one = np.nextafter(1.0, 0.0)
    for k in range(out.shape[0]):
        u = (np.float64(raw[2 * k]) + np.float64(raw[2 * k + 1]) * 4294967296.0) / 18446744073709551616.0
        if u >= 1.0:
            u = below_one
        out[k] = -np.log(1.0 - u)


@njit(cache=True)
def _poisson_times_from_gaps(gaps, rate_qps, out, duration_ns, min_queries, max_queries):
    """LoadGen's loop over kept draws: number of times written, or -1 if ``gaps`` ran out."""
    n = 0
    t = np.int64(0)
    prev = np.int64(-1)
    for k in range(gaps.shape[0]):
        if not (prev < duration_ns or n < min_queries) or (max_queries > 0 and n >= max_queries):
            return n
        out[n] = t
        n += 1
        prev = t
        gap_s = gaps[k] / rate_qps
        t += np.int64(gap_s * 1e9)
    if not (prev < duration_ns or n < min_queries) or (max_queries > 0 and n >= max_queries):
        return n
    return -1


@dataclass(frozen=True)
class DeterministicArrivals(ArrivalProcess):
    """Constant gaps of ``1 / target_qps`` (gap cv = 0)."""

    kind = "deterministic"  # type: ignore[assignment]
    mean = 1.0
    cv = 0.0

    def _params(self):
        return 1, 0.0, 0.0, 0.0, np.ones(1)


@dataclass(frozen=True)
class GammaArrivals(ArrivalProcess):
    """Gamma gaps with coefficient of variation ``cv`` (> 0): shape ``1/cv^2``."""

    cv: float = 2.0
    kind = "gamma"  # type: ignore[assignment]
    mean = 1.0

    def __post_init__(self) -> None:
        if not (0 < self.cv <= 100):
            raise SimbenchInputError(f"gamma cv: expected 0 < cv <= 100, got {self.cv}")

    def _params(self):
        return 2, 1.0 / self.cv**2, 0.0, 0.0, np.ones(1)


@dataclass(frozen=True)
class MMPPArrivals(ArrivalProcess):
    """Two-state MMPP: bursts at ``burst_ratio`` x the base rate.

    ``base_dwell`` / ``burst_dwell`` are the mean times spent in each state, in units of the
    mean gap (e.g. 1000 and 100: a burst every ~1000 arrivals lasting ~100 mean gaps). The
    base rate is set so the long-run mean rate equals ``target_qps``.
    """

    burst_ratio: float = 5.0
    base_dwell: float = 1000.0
    burst_dwell: float = 100.0
    kind = "mmpp"  # type: ignore[assignment]
    mean = 1.0

    def __post_init__(self) -> None:
        if self.burst_ratio < 1 or self.base_dwell <= 0 or self.burst_dwell <= 0:
            raise SimbenchInputError("mmpp: expected burst_ratio >= 1 and positive dwell times")

    @property
    def cv(self) -> float:
        """Gap cv from the MMPP-2 interarrival law (Fischer & Meier-Hellstern 1993, eq. 8)."""
        f = self.burst_dwell / (self.base_dwell + self.burst_dwell)
        lam0 = 1.0 / ((1 - f) + f * self.burst_ratio)
        lam1 = lam0 * self.burst_ratio
        r0, r1 = 1.0 / self.base_dwell, 1.0 / self.burst_dwell  # switching rates
        # second moment of the stationary interarrival time of an MMPP-2
        q = np.array([[-r0, r0], [r1, -r1]])
        lam = np.diag([lam0, lam1])
        d0 = q - lam
        pi = np.array([r1, r0]) / (r0 + r1)
        p_arr = pi @ lam / (pi @ lam).sum()
        inv = np.linalg.inv(-d0)
        m1 = p_arr @ inv @ np.ones(2)
        m2 = 2 * p_arr @ inv @ inv @ np.ones(2)
        return float(math.sqrt(m2 - m1**2) / m1)

    def _params(self):
        return 3, float(self.burst_ratio), float(self.base_dwell), float(self.burst_dwell), np.ones(1)


@dataclass(frozen=True, eq=False)
class TraceArrivals(ArrivalProcess):
    """Replay the gaps of a real trace (cycled), rescaled so their mean is ``1/target_qps``.

    ``gaps`` are positive inter-arrival gaps in any unit; ``source`` names the trace.
    """

    gaps: np.ndarray = None  # type: ignore[assignment]
    source: str = ""
    rate_qps: float | None = None
    native_rate_qps: float | None = None
    kind = "trace"  # type: ignore[assignment]
    mean = 1.0

    def __post_init__(self) -> None:
        g = np.asarray(self.gaps, dtype=np.float64)
        if g.ndim != 1 or g.size < 2 or np.any(g < 0) or g.sum() <= 0:
            raise SimbenchInputError("trace gaps: expected at least 2 non-negative gaps with a positive sum")
        object.__setattr__(self, "gaps", g / g.mean())
        if self.rate_qps is not None and not self.rate_qps > 0:
            raise SimbenchInputError(f"trace rate: expected > 0 QPS, got {self.rate_qps}")

    @property
    def cv(self) -> float:
        return float(np.std(self.gaps) / np.mean(self.gaps))

    @property
    def fixed_rate_qps(self) -> float | None:
        """The mean rate this law imposes (``@RATE`` or ``@native``), or None: the run's."""
        return self.rate_qps

    def times_ns(self, seed, target_qps, duration_ns, min_queries, max_queries=0):
        return super().times_ns(seed, self.rate_qps or target_qps, duration_ns, min_queries, max_queries)

    def _params(self):
        return 4, 0.0, 0.0, 0.0, self.gaps

    def describe(self) -> dict:
        return {"kind": "trace", "source": self.source, "gap_count": int(self.gaps.size), "cv": self.cv,
                "rate_qps": self.rate_qps, "native_rate_qps": self.native_rate_qps}


@njit(cache=True)
def _diurnal_times_ns(rng, mean_rate_per_ns, amplitude, period_ns, duration_ns, min_queries, max_queries, capacity):
    """Non-homogeneous Poisson arrivals at ``rate(t) = mean (1 + A sin(2 pi t / P))`` by
    thinning a Poisson process at ``mean (1 + A)`` (Lewis & Shedler 1979)."""
    out = np.empty(capacity, dtype=np.int64)
    n = 0
    t = 0.0
    lam_max = mean_rate_per_ns * (1.0 + amplitude)
    prev = np.int64(-1)
    while prev < duration_ns or n < min_queries:
        if max_queries > 0 and n >= max_queries:
            break
        if n == out.shape[0]:
            grown = np.empty(out.shape[0] * 2, dtype=np.int64)
            grown[:n] = out[:n]
            out = grown
        ti = np.int64(np.floor(t))
        out[n] = ti
        n += 1
        prev = ti
        while True:
            t += rng.standard_exponential() / lam_max
            rate = mean_rate_per_ns * (1.0 + amplitude * np.sin(2.0 * np.pi * t / period_ns))
            if rng.random() * lam_max <= rate:
                break
    return out[:n].copy()


@dataclass(frozen=True)
class DiurnalArrivals(ArrivalProcess):
    """Poisson arrivals whose rate swings sinusoidally about the target QPS (a daily cycle,
    compressed): ``rate(t) = target_qps (1 + A sin(2 pi t / period_s))``, ``A = peak_to_mean - 1``.

    ``peak_to_mean`` in [1, 2] (the rate never goes negative); ``period_s`` > 0. Generated by
    thinning (P. A. W. Lewis and G. S. Shedler, "Simulation of nonhomogeneous Poisson
    processes by thinning", Naval Research Logistics Quarterly 26, 1979), from the
    ``schedule`` stream, so the same seed gives the same times.
    """

    peak_to_mean: float = 1.5
    period_s: float = 60.0
    kind = "diurnal"  # type: ignore[assignment]
    mean = 1.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.peak_to_mean <= 2.0:
            raise SimbenchInputError(f"diurnal peak_to_mean: expected 1..2 (the rate stays >= 0), got {self.peak_to_mean}")
        if not self.period_s > 0:
            raise SimbenchInputError(f"diurnal period_s: expected > 0, got {self.period_s}")

    @property
    def cv(self) -> float:  # gap cv over a whole number of periods; > 1 for A > 0
        return float("nan")

    def _generate(self, seed, target_qps, duration_ns, min_queries, max_queries, capacity) -> np.ndarray:
        from simbench.rng import stream_rng

        rng = stream_rng(seed, "schedule")
        return _diurnal_times_ns(rng, target_qps / 1e9, self.peak_to_mean - 1.0, self.period_s * 1e9,
                                 duration_ns, min_queries, max_queries, capacity + int(capacity * (self.peak_to_mean - 1)))


NAMED_TRACES = {
    "azure-conv": ("azure_llm_2023/AzureLLMInferenceTrace_conv.csv", "TIMESTAMP"),
    "azure-code": ("azure_llm_2023/AzureLLMInferenceTrace_code.csv", "TIMESTAMP"),
    "mooncake": ("mooncake_fast25/conversation_arrivals.csv", "timestamp_ms"),
}
"""Shipped production traces (``traces/arrivals/``, installed as ``simbench.traces``): name ->
(file, timestamp column). Sources and licences: each folder's ``SOURCE.md``."""


def parse_arrivals(text: str) -> ArrivalProcess:
    """Parse ``--arrival``: ``poisson`` | ``deterministic`` | ``gamma:CV`` |
    ``mmpp:BURST_RATIO[:BASE_DWELL[:BURST_DWELL]]`` | ``diurnal:peak_to_mean=R,period_s=P`` |
    ``trace:SOURCE[@RATE|@native]``.

    ``SOURCE`` is a shipped trace name (``azure-conv``, ``azure-code``, ``mooncake``;
    ``NAMED_TRACES``), a CSV ``PATH.csv[:COLUMN]`` (timestamps, or numbers in seconds; by
    default the first column whose name contains 'time') or a JSON Lines ``PATH.jsonl`` with
    a ``timestamp`` field in ms (Mooncake's format). ``trace:SOURCE`` replays its gaps
    rescaled to the run's target QPS (burstiness kept); ``@RATE`` fixes the mean rate to RATE
    QPS; ``@native`` replays the recorded timing (its own mean rate).

    Raises
    ------
    ValueError
        Any other form, naming the flag and the accepted forms.
    """
    forms = ("poisson, deterministic, gamma:CV, mmpp:BURST_RATIO[:BASE_DWELL[:BURST_DWELL]],"
             " diurnal:peak_to_mean=R,period_s=P, trace:NAME|PATH.csv[:COLUMN]|PATH.jsonl[@RATE|@native]"
             f" (NAME: {', '.join(NAMED_TRACES)})")
    t = text.strip()
    head, _, rest = t.partition(":")
    head = head.lower()
    try:
        if head == "poisson" and not rest:
            return PoissonArrivals()
        if head == "deterministic" and not rest:
            return DeterministicArrivals()
        if head == "gamma" and rest:
            return GammaArrivals(cv=float(rest))
        if head == "mmpp" and rest:
            vals = [float(v) for v in rest.split(":")]
            if len(vals) > 3:
                raise SimbenchInputError("too many fields")
            return MMPPArrivals(*vals)
        if head == "diurnal" and rest:
            kv = {}
            for part in rest.split(","):
                k, eq, v = part.partition("=")
                if not eq or k.strip() not in ("peak_to_mean", "period_s"):
                    raise SimbenchInputError(f"{part!r}: expected peak_to_mean=R or period_s=P")
                kv[k.strip()] = float(v)
            return DiurnalArrivals(**kv)
        if head == "trace" and rest:
            return _trace_arrivals(rest)
    except ValueError as exc:
        raise SimbenchInputError(f"--arrival {text!r}: {exc}; expected one of {forms}") from None
    raise SimbenchInputError(f"--arrival: expected one of {forms}, got {text!r}")


def _trace_arrivals(spec: str) -> TraceArrivals:
    source, at, rate_text = spec.rpartition("@") if "@" in spec else (spec, "", "")
    times_s, label = _trace_times_s(source)
    gaps = np.diff(np.sort(times_s))
    if gaps.size < 2 or gaps.sum() <= 0:
        raise SimbenchInputError(f"{label}: fewer than 3 distinct arrival times")
    native = float(gaps.size / gaps.sum())
    rate = None
    if at:
        if rate_text.strip().lower() == "native":
            rate = native
        else:
            try:
                rate = float(rate_text)
            except ValueError:
                raise SimbenchInputError(f"@{rate_text}: expected a rate in QPS or 'native'") from None
            if not (rate > 0 and math.isfinite(rate)):
                raise SimbenchInputError(f"@{rate_text}: expected a rate > 0 QPS")
    return TraceArrivals(gaps=gaps, source=label, rate_qps=rate, native_rate_qps=native)


def _trace_times_s(source: str) -> tuple[np.ndarray, str]:
    """Arrival times in seconds of a named trace or a user file, and a label for messages."""
    import pandas as pd

    if source in NAMED_TRACES:
        from importlib import resources

        rel, column = NAMED_TRACES[source]
        path = resources.files("simbench.traces").joinpath("arrivals", *rel.split("/"))
        with resources.as_file(path) as real:
            times, _ = _csv_times_s(str(real), column)
        if source == "mooncake":
            times = _spread_buckets(times, 3.0)
        return times, f"trace:{source}"
    path, _, column = source.partition(":") if not source.endswith(".jsonl") else (source, "", "")
    if path.endswith(".jsonl"):
        try:
            df = pd.read_json(path, lines=True)
        except (OSError, ValueError) as exc:
            raise SimbenchInputError(f"{path}: cannot read arrival trace: {exc}") from None
        if "timestamp" not in df.columns:
            raise SimbenchInputError(f"{path}: no 'timestamp' field (ms) in the JSON lines")
        ts = pd.to_numeric(df["timestamp"], errors="coerce")
        if ts.isna().any():
            raise SimbenchInputError(f"{path}: {int(ts.isna().sum())} 'timestamp' values are not numbers")
        return ts.to_numpy(dtype=np.float64) / 1e3, path
    times, column = _csv_times_s(path, column or None)
    return times, f"{path}:{column}"


def _csv_times_s(path: str, column: str | None) -> tuple[np.ndarray, str]:
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SimbenchInputError(f"{path}: cannot read arrival trace: {exc}") from None
    if column:
        if column not in df.columns:
            raise SimbenchInputError(f"{path}: no column {column!r}; columns: {', '.join(map(str, df.columns))}")
    else:
        cands = [c for c in df.columns if "time" in str(c).lower()]
        if not cands:
            raise SimbenchInputError(f"{path}: no timestamp column (name containing 'time'); name one with trace:PATH:COLUMN")
        column = cands[0]
    col = df[column]
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(dtype=np.float64)
        if str(column).endswith("_ms"):
            values = values / 1e3
        bad = int(np.isnan(values).sum())
    else:
        ts = pd.to_datetime(col, errors="coerce")
        bad = int(ts.isna().sum())
        values = (ts - ts.min()).dt.total_seconds().to_numpy(dtype=np.float64) if not bad else np.zeros(0)
    if bad:
        raise SimbenchInputError(f"{path}: column {column!r}: {bad} values are neither numbers nor timestamps")
    return values, str(column)


def _spread_buckets(times_s: np.ndarray, width_s: float) -> np.ndarray:
    """Spread requests sharing a quantised timestamp evenly over the bucket: the ``k``
    requests at ``T`` go to ``T + (i + 0.5) width / k`` (Mooncake's 3 s buckets)."""
    t = np.sort(times_s)
    uniq, start, counts = np.unique(t, return_index=True, return_counts=True)
    out = np.empty_like(t)
    for u, s0, k in zip(uniq, start, counts):
        out[s0:s0 + k] = u + (np.arange(k) + 0.5) * width_s / k
    return out
