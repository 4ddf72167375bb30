"""LLM token latencies as LoadGen >= 4.0 measures and judges them: TTFT, TPOT, early stopping.

Contents
--------
:func:`loadgen_token_counts`
    The per-sample token count LoadGen records from what the SUT reported.
:func:`time_per_output_token_ns`
    LoadGen's per-sample TPOT, ``(latency - TTFT) / (n_tokens - 1)`` in C integer arithmetic.
:func:`loadgen_latency_stats`
    Min, max, mean and percentiles of one latency array, as ``results.cc`` computes them.
:func:`token_early_stopping`
    LoadGen's early stopping run separately on TPOT and on TTFT, with its summary lines.
:class:`LatencyStats`, :class:`TokenEarlyStoppingResult`
    The records those return.

Definitions
-----------
With LoadGen's per-sample times measured from the query's scheduled time (``issue_ns``):

* TTFT (time to first token) = ``first_token_ns - issue_ns``, recorded when the SUT calls
  ``FirstTokenComplete`` (``loadgen.cc`` ``TokenComplete``; ``logging.cc``
  ``RecordTokenCompletion``);
* latency = ``complete_ns - issue_ns``, recorded at ``QuerySamplesComplete`` with the
  response's ``n_tokens``;
* TPOT (time per output token) = ``(latency - TTFT) / (n - 1)``, int64 division truncating
  toward zero, with ``n`` the recorded token count (``logging.cc``
  ``RecordSampleCompletion``): the time between the first and the last token spread over
  the ``n - 1`` tokens after the first.

LoadGen records ``n = 0`` (and logs an ``error_runtime``) when the SUT reports fewer than 2
tokens or a negative count; the division is then by -1, so such a sample's TPOT is
``-(latency - TTFT)``. simbench reproduces that and says so (``Summary.warnings``).

Source: MLCommons LoadGen v6.0.17, ``loadgen/logging.cc``, ``loadgen/loadgen.cc``,
``loadgen/results.cc`` (``ProcessTokenLatencies``, ``EarlyStopping``,
``PerfConstraintsMet``, ``LogSummary``), checked against the ``mlcommons-loadgen`` 6.0.17
package's own summaries in ``tests/bench/test_loadgen_tokens.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from simbench.errors import SimbenchInputError
from simbench.settings import Scenario
from simbench.stats.early_stopping import (
    EarlyStoppingResult,
    server_early_stopping,
    single_stream_early_stopping,
    latency_early_stopping,
)
from simbench.stats.percentile import _as_latency_array, _check_percentile, loadgen_percentiles

__all__ = [
    "LOADGEN_REPORTED_PERCENTILES",
    "LatencyStats",
    "TokenEarlyStoppingResult",
    "loadgen_latency_stats",
    "loadgen_token_counts",
    "time_per_output_token_ns",
    "token_early_stopping",
]

#: The percentiles LoadGen reports for every latency kind (``results.h``).
LOADGEN_REPORTED_PERCENTILES = (0.50, 0.90, 0.95, 0.97, 0.99, 0.999)

_REFERENCE = "MLCommons LoadGen v6.0.17 loadgen/logging.cc, loadgen/results.cc"


def _as_int_array(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise SimbenchInputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise SimbenchInputError(f"{name} must hold integers (ns or counts), got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def loadgen_token_counts(n_tokens: ArrayLike) -> np.ndarray:
    """Return the token count LoadGen records for each sample from what the SUT reported.

    Parameters
    ----------
    n_tokens : array_like of int, shape (n,)
        ``QuerySampleResponse.n_tokens`` as the SUT reported it, per sample.

    Returns
    -------
    numpy.ndarray
        int64, shape (n,): ``n_tokens`` where it is >= 2 or exactly 0, else 0. Their sum is
        LoadGen's ``token_count`` (the numerator of every tokens-per-second figure).

    Raises
    ------
    SimbenchInputError
        ``n_tokens`` not a 1-D integer array.

    Notes
    -----
    ``logging.cc`` ``RecordSampleCompletion`` logs an ``error_runtime`` for ``n_tokens == 0``
    (kept as 0), for ``n_tokens < 0`` and for ``n_tokens == 1`` (both replaced by 0).

    References
    ----------
    .. [1] MLCommons LoadGen ``loadgen/logging.cc``, ``AsyncLog::RecordSampleCompletion``.

    Examples
    --------
    >>> loadgen_token_counts([128, 1, 0, -3, 2]).tolist()
    [128, 0, 0, 0, 2]
    """
    n = _as_int_array(n_tokens, "n_tokens")
    return np.where(n >= 2, n, 0).astype(np.int64)


def time_per_output_token_ns(
    first_token_latency_ns: ArrayLike, latency_ns: ArrayLike, n_tokens: ArrayLike
) -> np.ndarray:
    """Return LoadGen's per-sample time per output token (TPOT), in ns.

    Parameters
    ----------
    first_token_latency_ns : array_like of int, shape (n,)
        TTFT per sample: first token time minus the query's scheduled time, ns.
    latency_ns : array_like of int, shape (n,)
        Sample latency: completion time minus the query's scheduled time, ns.
    n_tokens : array_like of int, shape (n,)
        Tokens the SUT reported per sample (``QuerySampleResponse.n_tokens``).

    Returns
    -------
    numpy.ndarray
        int64, shape (n,): ``trunc((latency - TTFT) / (m - 1))`` with ``m`` =
        ``loadgen_token_counts(n_tokens)`` (C ``int64_t`` division, truncating toward zero).

    Raises
    ------
    SimbenchInputError
        Arrays of different shapes or not 1-D integer arrays.

    Notes
    -----
    ``time_per_output_token_[i] = (latency - token_latencies_[i]) / (n_tokens - 1)`` in
    ``logging.cc``: the ``n - 1`` tokens after the first share the time between the first
    token and completion. A sample whose recorded count is 0 (the SUT reported < 2 tokens)
    is divided by -1, as LoadGen does.

    References
    ----------
    .. [1] MLCommons LoadGen ``loadgen/logging.cc``, ``AsyncLog::RecordSampleCompletion``.

    Examples
    --------
    >>> time_per_output_token_ns([2_000_000, 1_000], [3_000_001, 5_000], [11, 3]).tolist()
    [100000, 2000]
    >>> time_per_output_token_ns([1_000], [5_000], [1]).tolist()  # LoadGen: n -> 0, / -1
    [-4000]
    """
    ttft = _as_int_array(first_token_latency_ns, "first_token_latency_ns")
    lat = _as_int_array(latency_ns, "latency_ns")
    n = loadgen_token_counts(n_tokens)
    if not ttft.shape == lat.shape == n.shape:
        raise SimbenchInputError(
            f"first_token_latency_ns, latency_ns and n_tokens must have one shape, got"
            f" {ttft.shape}, {lat.shape} and {n.shape}"
        )
    diff = lat - ttft
    div = n - 1
    # C truncation toward zero (numpy's // floors): |a| // |b| with the sign of a * b.
    return (np.abs(diff) // np.abs(div)) * (np.sign(diff) * np.sign(div))


@dataclass(frozen=True)
class LatencyStats:
    """Min, max, mean and percentiles of one latency kind, LoadGen's way.

    Attributes
    ----------
    min_ns, max_ns, mean_ns : int
        ``mean_ns`` is LoadGen's ``accumulated / sample_count`` in C (an int64 sum divided
        by a ``size_t``: truncated, and computed unsigned).
    percentiles_ns : dict[float, int]
        ``sorted[floor(n * p)]`` at each reported percentile.
    target_ns : int
        The same at the run's target percentile.
    target_percentile : float
    """

    min_ns: int
    max_ns: int
    mean_ns: int
    percentiles_ns: dict[float, int]
    target_ns: int
    target_percentile: float


def _loadgen_mean(total: int, count: int) -> int:
    """``int64_t(uint64_t(total) / count)``: C's usual arithmetic conversions make LoadGen's
    ``QuerySampleLatency / size_t`` an unsigned division (only a negative sum, possible for
    the TPOT of a sample with < 2 tokens, tells the difference)."""
    q = (total % 2**64) // count
    return q - 2**64 if q >= 2**63 else q


def loadgen_latency_stats(
    latencies_ns: ArrayLike,
    target_percentile: float,
    percentiles: tuple[float, ...] = LOADGEN_REPORTED_PERCENTILES,
) -> LatencyStats:
    """Summarise one latency array as LoadGen's ``results.cc`` does.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,), n >= 1
        One value per sample, ns (TTFT, TPOT or sample latency).
    target_percentile : float
        The run's target percentile in [0, 1) (``effective_target_latency_percentile``).
    percentiles : tuple of float
        Reported percentiles [default LoadGen's 50, 90, 95, 97, 99, 99.9 %].

    Returns
    -------
    LatencyStats

    Raises
    ------
    SimbenchInputError
        An empty or non-integer array, or a percentile outside [0, 1).

    Notes
    -----
    ``PerformanceSummary::ProcessTokenLatencies``: mean = int64 sum / count (truncating),
    min/max = first/last of the sorted array, percentile ``p`` = ``sorted[floor(n * p)]``
    with ``n * p`` in double precision (``simbench.stats.loadgen_percentile``).

    References
    ----------
    .. [1] MLCommons LoadGen ``loadgen/results.cc``, ``ProcessTokenLatencies``.

    Examples
    --------
    >>> s = loadgen_latency_stats([5, 1, 4, 2, 3], 0.9)
    >>> s.min_ns, s.max_ns, s.mean_ns, s.target_ns, s.percentiles_ns[0.5]
    (1, 5, 3, 5, 3)
    """
    array = _as_latency_array(latencies_ns)
    if array.dtype.kind not in "iu":
        raise SimbenchInputError(f"latencies_ns must hold integer ns, got dtype {array.dtype}")
    p = _check_percentile(target_percentile, "target_percentile")
    values = loadgen_percentiles(array, tuple(percentiles) + (p,))
    total = int(np.sum(array, dtype=np.int64))
    return LatencyStats(
        min_ns=int(array.min()),
        max_ns=int(array.max()),
        mean_ns=_loadgen_mean(total, int(array.size)),
        percentiles_ns={q: int(v) for q, v in zip(percentiles, values[:-1])},
        target_ns=int(values[-1]),
        target_percentile=p,
    )


@dataclass(frozen=True)
class TokenEarlyStoppingResult:
    """LoadGen's two early-stopping checks of a token-latency run, TPOT first, then TTFT.

    Attributes
    ----------
    passed : bool
        LoadGen's ``early_stopping_met``: TPOT's check and TTFT's.
    tpot : tuple of EarlyStoppingResult
        The TPOT check (SingleStream: the target-percentile result, then the 99th-percentile
        estimate when the first passed).
    ttft : tuple of EarlyStoppingResult or None
        The TTFT check likewise; None when TPOT's failed, since LoadGen evaluates
        ``tpot && ttft`` and never runs the second.
    """

    passed: bool
    tpot: tuple[EarlyStoppingResult, ...]
    ttft: tuple[EarlyStoppingResult, ...] | None
    reference: str = _REFERENCE

    @property
    def ttft_lines(self) -> tuple[str, ...]:
        """The lines LoadGen prints under "TTFT Early Stopping Result:" (one empty line when
        the check never ran)."""
        if self.ttft is None:
            return ("",)
        return tuple(line for es in self.ttft for line in es.lines)

    @property
    def tpot_lines(self) -> tuple[str, ...]:
        """The lines LoadGen prints under "TPOT Early Stopping Result:"."""
        return tuple(line for es in self.tpot for line in es.lines)


def token_early_stopping(
    scenario: Scenario | str,
    first_token_latency_ns: ArrayLike,
    tpot_ns: ArrayLike,
    percentile: float,
    *,
    ttft_latency_ns: int,
    tpot_latency_ns: int,
    query_latencies_ns: ArrayLike | None = None,
) -> TokenEarlyStoppingResult | None:
    """Run LoadGen's early stopping on TPOT, then on TTFT, for one scenario.

    Parameters
    ----------
    scenario : Scenario or str
    first_token_latency_ns, tpot_ns : array_like of int, shape (n,)
        Per-sample TTFT and TPOT, ns (Server and SingleStream: one sample per query).
    percentile : float
        The run's target percentile (``effective_target_latency_percentile``), in (0, 1).
    ttft_latency_ns, tpot_latency_ns : int
        Server bounds (``server_ttft_latency``, ``server_tpot_latency``), ns; the
        over-latency counts are ``#{TTFT > bound}`` and ``#{TPOT > bound}``.
    query_latencies_ns : array_like of int, optional
        MultiStream: the per-query latencies (required there, see Notes).

    Returns
    -------
    TokenEarlyStoppingResult or None
        None for Offline, which has no early stopping.

    Raises
    ------
    SimbenchInputError
        Empty arrays, arrays of different lengths, a percentile outside (0, 1), or
        MultiStream without ``query_latencies_ns``.

    Notes
    -----
    ``results.cc`` calls ``EarlyStopping`` with the TPOT array and ``server_tpot_latency``,
    then (only if that passed) with the TTFT array and ``server_ttft_latency``:

    * Server: pass iff ``n >= h(t) + t`` with ``t`` the over-bound count
      (:func:`~simbench.stats.server_early_stopping`), at the run's target percentile;
    * SingleStream: the order-statistic estimate of the TPOT (TTFT) distribution at the
      target percentile and at 99 % (:func:`~simbench.stats.single_stream_early_stopping`);
      the bounds play no part;
    * MultiStream: LoadGen passes the *query-latency* array to both calls, so both report
      the request-latency estimate (:func:`~simbench.stats.latency_early_stopping`).

    References
    ----------
    .. [1] MLCommons LoadGen ``loadgen/results.cc``, ``PerformanceSummary::EarlyStopping``
       and ``LogSummary``.

    Examples
    --------
    >>> r = token_early_stopping("Server", [10] * 500, [3] * 499 + [9], 0.99,
    ...                          ttft_latency_ns=20, tpot_latency_ns=5)
    >>> r.passed, r.tpot_lines[0], r.ttft_lines
    (False, ' * Run unsuccessful.', ('',))
    """
    scen = scenario if isinstance(scenario, Scenario) else Scenario.parse(scenario)
    if scen is Scenario.Offline:
        return None
    ttft = _as_latency_array(first_token_latency_ns)
    tpot = _as_latency_array(tpot_ns)
    if ttft.shape != tpot.shape:
        raise SimbenchInputError(
            f"first_token_latency_ns and tpot_ns must have one length, got {ttft.size} and {tpot.size}"
        )

    def check(values: np.ndarray, bound_ns: int) -> tuple[EarlyStoppingResult, ...]:
        match scen:
            case Scenario.Server:
                over = int(np.count_nonzero(values > bound_ns))
                return (server_early_stopping(int(values.size), over, percentile),)
            case Scenario.SingleStream:
                return single_stream_early_stopping(values, percentile)
            case _:
                if query_latencies_ns is None:
                    raise SimbenchInputError("MultiStream token early stopping needs query_latencies_ns")
                return (latency_early_stopping(query_latencies_ns, percentile),)

    tpot_res = check(tpot, int(tpot_latency_ns))
    if not tpot_res[0].passed:
        return TokenEarlyStoppingResult(passed=False, tpot=tpot_res, ttft=None)
    ttft_res = check(ttft, int(ttft_latency_ns))
    return TokenEarlyStoppingResult(passed=ttft_res[0].passed, tpot=tpot_res, ttft=ttft_res)
