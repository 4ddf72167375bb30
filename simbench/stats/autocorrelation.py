"""Autocorrelated latencies: effective sample size and the queries a run really needs.

The paper's query counts and LoadGen's early stopping treat each query's
"over or under the p-th percentile" outcome as an independent coin flip.
Queueing makes neighbouring latencies alike, so the count of slow queries
varies more than a binomial count: by the *integrated autocorrelation time*

.. math:: \\tau = 1 + 2 \\sum_{k \\ge 1} \\rho_k

of the indicator series :math:`I_i = [x_i \\le \\xi_p]`. A run of ``n``
correlated queries carries the information of :math:`n / \\tau` independent
ones.

Contents
--------
:func:`indicator_autocorrelation`
    τ, its interval and the effective sample size of a latency series (Sokal's windowed
    autocorrelation sum, Geyer's initial monotone sequence, overlapping or plain batch
    means) -> :class:`AutocorrelationResult`.
:func:`stationarity_diagnostics`
    Warm-up and drift checks (split-half, head-vs-rest, trend, MSER-5) ->
    :class:`StationarityResult`; :func:`mser5_truncation` alone.
:func:`required_queries`
    Queries the system behind a trace needs for the paper's margin claim and
    for early stopping, sized from τ's upper bound, with warnings ->
    :class:`RequiredQueriesResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from simbench.errors import SimbenchInputError
from simbench.stats.early_stopping import LOADGEN_CONFIDENCE, min_passing_queries
from simbench.stats.percentile import _as_latency_array, loadgen_percentile
from simbench.stats.sample_size import margin_of_error, sample_size

__all__ = [
    "AutocorrelationResult",
    "RequiredQueriesResult",
    "StationarityResult",
    "indicator_autocorrelation",
    "mser5_truncation",
    "required_queries",
    "stationarity_diagnostics",
]

TauMethod = Literal["obm", "geyer", "acf", "batch_means", "max"]
TAU_METHODS = ("obm", "geyer", "acf", "batch_means", "max")

_REFERENCES = (
    "Batch means: G. S. Fishman, Principles of Discrete Event Simulation, Wiley, 1978; overlapping batch means: "
    "M. S. Meketon & B. Schmeiser, Proc. Winter Simulation Conf. 1984; J. M. Flegal & G. L. Jones, Ann. Statist. "
    "38(2), 2010. Windowed autocorrelation sum: A. D. Sokal, 'Monte Carlo methods in statistical mechanics', 1997, "
    "section 3 (variance of tau: eq. 3.19, after Madras & Sokal 1988); initial monotone sequence: C. J. Geyer, "
    "'Practical Markov chain Monte Carlo', Statist. Sci. 7(4), 1992; statsmodels.tsa.stattools.acf"
)

SHORT_EFFECTIVE_SAMPLES = 100
"""Below this many effective samples ``n / tau_high`` a run is too short to tell its own tau."""
SHORT_EXCEEDANCE_CLUSTERS = 10
"""Below this many independent tail events ``n min(p, 1 - p) / tau_high`` tau is not measurable at ``p``."""
DISAGREEMENT_RATIO = 2.0
"""Estimators further apart than this factor (when the largest exceeds 3) are reported."""


@dataclass(frozen=True)
class AutocorrelationResult:
    """How correlated a latency series is, seen through one percentile.

    Attributes
    ----------
    percentile : float
        ``p`` (fraction) defining the indicator ``x_i <= threshold``.
    threshold_ns : float
        The threshold: the series' own LoadGen p-th percentile unless given.
    sample_count : int
        Series length ``n``.
    autocorrelation_time : float
        τ >= 1 by ``method`` (values below 1 are clipped: negative correlation is not
        credited).
    effective_sample_count : float
        ``n / τ``.
    batch_means_time : float
        τ by non-overlapping batch means (``batch_count`` batches).
    batch_size : int
        Batch length used for ``batch_means_time``.
    acf_time : float
        τ by the windowed sum of the indicator's autocorrelations (Sokal's window).
    acf_window : int
        The window ``M`` (lags summed), chosen by Sokal's rule ``M >= 5 τ(M)``.
    latency_lag1_autocorrelation : float
        Lag-1 autocorrelation of the latencies themselves, for reference.
    method : str
        Which estimate ``autocorrelation_time`` reports.
    reference : str
    geyer_time : float
        τ by Geyer's initial monotone sequence.
    geyer_lags : int
        Lags that sequence summed.
    obm_time : float
        τ by overlapping batch means with batch size ``obm_batch_size``.
    obm_batch_size : int
        ``floor(sqrt(n))`` unless given.
    tau_low, tau_high : float
        Two-sided ``tau_confidence`` interval for τ of ``method`` (``tau_high`` is the
        one-sided ``(1 + tau_confidence)/2`` upper bound that sizes the corrected counts).
    tau_confidence : float
        Level of that interval.
    warnings : tuple of str
        "Too short to tell", estimator disagreement, batch too short: never silent.
    split_log_sd : tuple of float
        Standard deviation of log τ over 8 consecutive segments for acf, Geyer, OBM (the
        empirical part of the interval).
    """

    percentile: float
    threshold_ns: float
    sample_count: int
    autocorrelation_time: float
    effective_sample_count: float
    batch_means_time: float
    batch_size: int
    acf_time: float
    acf_window: int
    latency_lag1_autocorrelation: float
    method: str
    reference: str = _REFERENCES
    geyer_time: float = 1.0
    geyer_lags: int = 0
    obm_time: float = 1.0
    obm_batch_size: int = 1
    tau_low: float = 1.0
    tau_high: float = 1.0
    tau_confidence: float = 0.9
    warnings: tuple[str, ...] = ()
    split_log_sd: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def too_short(self) -> bool:
        """Whether the run is too short to tell its own τ (see ``warnings``)."""
        return any(w.startswith("too short") for w in self.warnings)


def _batch_means_time(indicator: np.ndarray, batch_count: int) -> tuple[float, int]:
    n = indicator.size
    batch_size = max(1, n // batch_count)
    batches = n // batch_size
    means = indicator[: batches * batch_size].reshape(batches, batch_size).mean(axis=1)
    variance = indicator.var()
    if batches < 2 or variance == 0.0:
        return 1.0, batch_size
    return float(batch_size * means.var(ddof=1) / variance), batch_size


def _obm_time(indicator: np.ndarray, batch_size: int) -> float:
    """Overlapping batch means: sigma^2 = n b / ((n - b)(n - b + 1)) sum_j (Ybar_j(b) - Ybar)^2."""
    n = indicator.size
    b = int(min(max(1, batch_size), n - 1))
    variance = indicator.var()
    if variance == 0.0:
        return 1.0
    sums = np.concatenate(([0.0], np.cumsum(indicator - indicator.mean())))
    window_means = (sums[b:] - sums[:-b]) / b
    # np.square().sum(), not a BLAS dot: OpenBLAS threads spin on a loaded machine (10x slower here).
    sigma2 = n * b / ((n - b) * (n - b + 1)) * float(np.square(window_means).sum())
    return sigma2 / variance


def _autocorrelations(indicator: np.ndarray, max_lags: int) -> np.ndarray:
    """Sample autocorrelations rho_0..rho_L (biased autocovariance / c_0), by FFT.

    The same estimator as ``statsmodels.tsa.stattools.acf(x, fft=True)`` (tested against it), with
    ``scipy.fft`` and one padded transform, so that Monte Carlo runs can call it thousands of times.
    """
    from scipy import fft

    n = indicator.size
    lags = min(n - 1, max_lags)
    centred = indicator - indicator.mean()
    size = fft.next_fast_len(2 * n - 1, real=True)
    spectrum = fft.rfft(centred, size)
    acov = fft.irfft(spectrum * np.conj(spectrum), size)[: lags + 1]
    return acov / acov[0]


def _sokal_time(rho: np.ndarray, window_factor: float) -> tuple[float, int]:
    running = 2.0 * np.cumsum(rho) - 1.0  # tau(M) = 1 + 2 sum_{k=1..M} rho_k
    window = np.arange(running.size)
    ok = window >= window_factor * running
    m = int(np.argmax(ok)) if ok.any() else running.size - 1
    return float(running[m]), m


def _geyer_time(rho: np.ndarray) -> tuple[float, int]:
    """Geyer's initial monotone sequence: Gamma_k = rho_2k + rho_2k+1, summed while positive, made monotone."""
    pairs = rho[: 2 * (rho.size // 2)].reshape(-1, 2).sum(axis=1)
    negative = np.flatnonzero(pairs <= 0.0)
    count = int(negative[0]) if negative.size else pairs.size
    if count == 0:
        return 1.0, 0
    monotone = np.minimum.accumulate(pairs[:count])
    return float(-1.0 + 2.0 * monotone.sum()), 2 * count


SPLIT_SEGMENTS = 8
"""Consecutive segments whose τ estimates give the empirical spread behind τ's interval."""


def _split_log_sd(indicator: np.ndarray, window_factor: float, max_lags: int) -> dict[str, float]:
    """Standard deviation of log τ over ``SPLIT_SEGMENTS`` consecutive segments, per estimator."""
    logs: dict[str, list[float]] = {"acf": [], "geyer": [], "obm": []}
    for segment in np.array_split(indicator, SPLIT_SEGMENTS):
        if segment.size < 16 or segment.var() == 0.0:
            values = (1.0, 1.0, 1.0)
        else:
            rho = _autocorrelations(segment, max_lags)
            values = (_sokal_time(rho, window_factor)[0], _geyer_time(rho)[0],
                      _obm_time(segment, max(1, math.isqrt(segment.size))))
        for name, value in zip(("acf", "geyer", "obm"), values):
            logs[name].append(math.log(max(1.0, value)))
    return {name: float(np.std(values, ddof=1)) for name, values in logs.items()}


def _interval(method: str, tau: float, n: int, lags: int, obm_batch: int, batch_size: int, batch_count: int,
              confidence: float, split_sd: float = 0.0) -> tuple[float, float]:
    """Two-sided interval for tau at ``confidence``.

    acf / Geyer / OBM: on the log scale, the larger of two spreads: the asymptotic one
    (acf, Geyer: relative variance 2 (2M + 1) / n, Sokal 1997 eq. 3.19; OBM: 2 / nu with
    nu = 1.5 (n / b - 1), Meketon & Schmeiser 1984) and the empirical one, the standard
    deviation of log tau over 8 consecutive segments divided by sqrt(8) (the "split runs"
    idea; it captures what the asymptotic formulas miss for rare tail indicators), with a
    Student t quantile on 7 degrees of freedom. Non-overlapping batch means:
    sigma^2 ~ chi^2_nu / nu with nu = batches - 1.
    """
    from scipy import stats as scipy_stats

    alpha = 1.0 - confidence
    if method == "batch_means":
        nu = float(max(1, batch_count - 1))
        return (tau * nu / float(scipy_stats.chi2.ppf(1.0 - alpha / 2.0, nu)),
                tau * nu / float(scipy_stats.chi2.ppf(alpha / 2.0, nu)))
    if method == "obm":
        asymptotic = math.sqrt(2.0 / max(1.0, 1.5 * (n / obm_batch - 1.0)))
    else:
        asymptotic = math.sqrt(2.0 * (2 * max(lags, 1) + 1) / n)
    z = float(scipy_stats.norm.ppf(1.0 - alpha / 2.0))
    t = float(scipy_stats.t.ppf(1.0 - alpha / 2.0, SPLIT_SEGMENTS - 1))
    empirical = split_sd / math.sqrt(SPLIT_SEGMENTS)
    spread = max(z * asymptotic, t * empirical)
    return tau * math.exp(-spread), tau * math.exp(spread)


def _tau_warnings(n: int, p: float, high: float, acf_time: float, geyer_time: float,
                  obm_time: float) -> tuple[str, ...]:
    """"Too short to tell" and estimator-disagreement warnings (one wording for every caller)."""
    warnings = []
    if n / high < SHORT_EFFECTIVE_SAMPLES:
        warnings.append(f"too short to tell: n/tau = {n / high:,.0f} effective samples (< {SHORT_EFFECTIVE_SAMPLES}) "
                        f"at the upper bound tau = {high:,.1f}; tau and every count from it are unreliable")
    clusters = n * min(p, 1.0 - p) / high
    if clusters < SHORT_EXCEEDANCE_CLUSTERS:
        warnings.append(f"too short to tell: about {clusters:,.1f} independent tail events n(1-p)/tau "
                        f"(< {SHORT_EXCEEDANCE_CLUSTERS}) at p{p * 100:g}; run longer before trusting tau")
    trio = [max(1.0, value) for value in (acf_time, geyer_time, obm_time)]
    if max(trio) > 3.0 and max(trio) / min(trio) > DISAGREEMENT_RATIO:
        warnings.append(f"tau estimators disagree: acf {acf_time:,.1f}, Geyer {geyer_time:,.1f}, OBM {obm_time:,.1f} "
                        "(factor > 2): non-stationary series (warm-up, drift) or a run too short for its tau")
    return tuple(warnings)


def indicator_autocorrelation(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    threshold_ns: float | None = None,
    method: TauMethod = "acf",
    batch_count: int = 32,
    window_factor: float = 5.0,
    max_lags: int = 200_000,
    obm_batch_size: int | None = None,
    tau_confidence: float = 0.9,
) -> AutocorrelationResult:
    """Estimate the autocorrelation time of ``[latency <= p-th percentile]``, with an interval.

    Parameters
    ----------
    latencies_ns : array_like, shape (n,)
        Query latencies in ns **in issue order** (order matters here).
    percentile : float
        ``p`` in (0, 1).
    threshold_ns : float, optional
        Threshold for the indicator; default the series' own LoadGen p-th
        percentile (the plug-in estimate of the true one).
    method : {"acf", "geyer", "obm", "batch_means", "max"}, default "acf"
        Which estimate to report as ``autocorrelation_time`` (and bound by
        ``tau_low``/``tau_high``): Sokal's windowed sum, Geyer's initial monotone
        sequence, overlapping batch means with batch ``floor(sqrt(n))``, non-overlapping
        batch means, or the largest of acf, Geyer and OBM.
    batch_count : int, default 32
        Number of non-overlapping batches for batch means (>= 2).
    window_factor : float, default 5.0
        Sokal's constant ``C`` in the window rule ``M >= C τ(M)``.
    max_lags : int, default 200000
        Largest lag the autocorrelation sums may use.
    obm_batch_size : int, optional
        Batch size of overlapping batch means; default ``floor(sqrt(n))``.
    tau_confidence : float, default 0.9
        Level of the two-sided interval ``[tau_low, tau_high]``.

    Returns
    -------
    AutocorrelationResult
        With ``warnings`` when the run is too short to tell (fewer than 100 effective
        samples ``n / tau_high``, or fewer than 10 tail events ``n min(p, 1-p) / tau_high``),
        when the estimators disagree by more than a factor 2, or when the OBM batch is
        shorter than 10 τ.

    Raises
    ------
    ValueError
        If the series has fewer than 4 values or an argument is out of range.

    Notes
    -----
    For a stationary indicator series with variance :math:`p(1-p)`,
    :math:`\\mathrm{Var}(\\sum_i I_i) \\approx n p (1-p) \\tau`, which is why
    ``n / τ`` is the effective sample size for percentile statements.

    * Batch means: with batch length ``b``, :math:`\\hat\\tau = b \\, s^2_{\\bar I} / s^2_I`;
      overlapping batch means averages over all ``n - b + 1`` windows (Meketon & Schmeiser:
      1.5 times the degrees of freedom).
    * Autocorrelation sum: :math:`\\hat\\tau(M) = 1 + 2\\sum_{k=1}^{M} \\hat\\rho_k` from
      ``statsmodels.tsa.stattools.acf`` (FFT), with the smallest ``M`` such that
      :math:`M \\ge C \\hat\\tau(M)`.
    * Geyer: :math:`\\Gamma_k = \\hat\\rho_{2k} + \\hat\\rho_{2k+1}`, summed up to the first
      non-positive pair and forced non-increasing; :math:`\\hat\\tau = -1 + 2\\sum_k \\Gamma_k`.
      (arviz computes the same sequence inside ``ess``; it is not a dependency here.)

    All are biased low when τ is a sizeable fraction of the window or batch; the interval
    covers the noise, not that bias, which is why short runs are flagged instead.

    References
    ----------
    .. [1] G. S. Fishman, *Principles of Discrete Event Simulation*, Wiley, 1978.
    .. [2] M. S. Meketon & B. Schmeiser, "Overlapping batch means: something for nothing?",
       Proc. Winter Simulation Conference, 1984.
    .. [3] J. M. Flegal & G. L. Jones, "Batch means and spectral variance estimators in
       Markov chain Monte Carlo", Ann. Statist. 38(2), 2010.
    .. [4] A. D. Sokal, "Monte Carlo methods in statistical mechanics: foundations and new
       algorithms", 1997, §3 (automatic windowing; eq. 3.19).
    .. [5] C. J. Geyer, "Practical Markov chain Monte Carlo", Statist. Sci. 7(4), 1992.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = indicator_autocorrelation(rng.exponential(size=20_000), 0.9)
    >>> 0.8 < result.autocorrelation_time < 1.3, result.tau_low <= result.autocorrelation_time < result.tau_high
    (True, True)
    """
    array = _as_latency_array(latencies_ns).astype(float, copy=False)
    if array.size < 4:
        raise SimbenchInputError(f"latencies_ns needs at least 4 values, got {array.size}")
    p = float(percentile)
    if not 0.0 < p < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1), got {percentile!r}")
    if batch_count < 2:
        raise SimbenchInputError(f"batch_count must be >= 2, got {batch_count!r}")
    if method not in TAU_METHODS:
        raise SimbenchInputError(f"method must be one of {', '.join(TAU_METHODS)}, got {method!r}")
    if not 0.0 < tau_confidence < 1.0:
        raise SimbenchInputError(f"tau_confidence must be in (0, 1), got {tau_confidence!r}")
    n = int(array.size)
    threshold = float(loadgen_percentile(array, p)) if threshold_ns is None else float(threshold_ns)
    indicator = (array <= threshold).astype(float)
    bm_time, batch_size = _batch_means_time(indicator, batch_count)
    obm_b = int(math.isqrt(n)) if obm_batch_size is None else int(obm_batch_size)
    if not 1 <= obm_b < n:
        raise SimbenchInputError(f"obm_batch_size must be in [1, n), got {obm_batch_size!r}")
    if indicator.var() == 0.0:
        acf_time, window, geyer_time, geyer_lags, obm_time = 1.0, 0, 1.0, 0, 1.0
        split = {"acf": 0.0, "geyer": 0.0, "obm": 0.0}
    else:
        rho = _autocorrelations(indicator, max_lags)
        acf_time, window = _sokal_time(rho, window_factor)
        geyer_time, geyer_lags = _geyer_time(rho)
        obm_time = _obm_time(indicator, obm_b)
        split = _split_log_sd(indicator, window_factor, max_lags)
    estimates = {"acf": acf_time, "geyer": geyer_time, "obm": obm_time, "batch_means": bm_time}
    if method == "max":
        chosen_method = max(("acf", "geyer", "obm"), key=lambda name: estimates[name])
    else:
        chosen_method = method
    tau = max(1.0, estimates[chosen_method])
    lags = {"acf": window, "geyer": geyer_lags}.get(chosen_method, 0)
    low, high = _interval(chosen_method, tau, n, lags, obm_b, batch_size, batch_count, tau_confidence,
                          split.get(chosen_method, 0.0))
    low, high = max(1.0, low), max(1.0, high)
    warnings = list(_tau_warnings(n, p, high, acf_time, geyer_time, obm_time))
    if chosen_method == "obm" and obm_b < 10 * tau:
        warnings.append(f"OBM batch {obm_b:,} is shorter than 10 tau ({10 * tau:,.0f}): tau is biased low")
    centred = array - array.mean()
    denominator = float(centred @ centred)
    lag1 = float(centred[:-1] @ centred[1:] / denominator) if denominator > 0 else 0.0
    return AutocorrelationResult(
        percentile=p,
        threshold_ns=threshold,
        sample_count=n,
        autocorrelation_time=tau,
        effective_sample_count=n / tau,
        batch_means_time=bm_time,
        batch_size=batch_size,
        acf_time=acf_time,
        acf_window=window,
        latency_lag1_autocorrelation=lag1,
        method=method,
        geyer_time=geyer_time,
        geyer_lags=geyer_lags,
        obm_time=obm_time,
        obm_batch_size=obm_b,
        tau_low=low,
        tau_high=high,
        tau_confidence=float(tau_confidence),
        warnings=tuple(warnings),
        split_log_sd=(split["acf"], split["geyer"], split["obm"]),
    )


@dataclass(frozen=True)
class StationarityResult:
    """Warm-up and drift diagnostics of one latency series, at one percentile.

    Attributes
    ----------
    sample_count : int
        ``n``.
    percentile : float
        ``p``.
    first_half_percentile_ns, second_half_percentile_ns : float
        LoadGen's p-th percentile of each half.
    split_half_z : float
        ``(f1 - f2) / sqrt(4 q (1-q) tau / n)``: the difference of the two halves' shares of
        queries above the whole run's p-th percentile, in standard errors (τ-corrected).
    head_z : float
        The same for the first 10 % against the rest (a warm-up shows here first).
    trend_tau, trend_p_value : float
        Kendall's τ of 32 consecutive batch means of the latencies against time, and its
        two-sided p-value (``scipy.stats.kendalltau``): a monotone drift.
    warmup_queries : int
        MSER-5's truncation point (queries to drop from the start), capped at ``n / 2``.
    warnings : tuple of str
        One line per failed diagnostic (|z| > 3, trend p < 0.001, MSER-5 cut above 1 %).
    """

    sample_count: int
    percentile: float
    first_half_percentile_ns: float
    second_half_percentile_ns: float
    split_half_z: float
    head_z: float
    trend_tau: float
    trend_p_value: float
    warmup_queries: int
    warnings: tuple[str, ...]

    @property
    def stationary(self) -> bool:
        """No diagnostic failed."""
        return not self.warnings


def mser5_truncation(latencies_ns: ArrayLike) -> int:
    """MSER-5 warm-up truncation: how many queries to drop from the start of a run.

    Parameters
    ----------
    latencies_ns : array_like, shape (n,)
        Latencies in issue order (n >= 20).

    Returns
    -------
    int
        ``5 d*``, with ``d*`` the number of leading 5-query batch means whose removal
        minimises the marginal standard error of the remaining batch means, searched over
        the first half of the run.

    Raises
    ------
    ValueError
        If fewer than 20 latencies are given.

    Notes
    -----
    :math:`\\mathrm{MSER}(d) = \\frac{1}{(k-d)^2}\\sum_{j>d} (\\bar Y_j - \\bar Y_{d})^2` over the
    ``k`` batch means of 5; ``d* = argmin`` for ``d <= k/2``.

    References
    ----------
    .. [1] K. P. White Jr., "An effective truncation heuristic for bias reduction in
       simulation output", Simulation 69(6), 1997.
    .. [2] K. P. White Jr., M. J. Cobb & S. C. Spratt, "A comparison of five steady-state
       truncation heuristics", Proc. Winter Simulation Conf., 2000.

    Examples
    --------
    >>> x = np.r_[np.full(100, 5.0), np.ones(1900)] + np.random.default_rng(0).normal(0, 0.1, 2000)
    >>> 95 <= mser5_truncation(x) <= 110
    True
    """
    x = _as_latency_array(latencies_ns).astype(float, copy=False)
    if x.size < 20:
        raise SimbenchInputError(f"latencies_ns needs at least 20 values, got {x.size}")
    k = x.size // 5
    means = x[: 5 * k].reshape(k, 5).mean(axis=1)
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_sq = np.cumsum((means**2)[::-1])[::-1]
    counts = np.arange(k, 0, -1, dtype=float)
    half = k // 2 + 1
    centred = tail_sq[:half] - tail_sum[:half] ** 2 / counts[:half]
    mser = centred / counts[:half] ** 2
    return int(5 * np.argmin(mser))


def kendall_trend(means: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall trend of batch means against time: (Kendall's τ, two-sided p-value).

    ``scipy.stats.kendalltau``; constant means (no trend to test) give (0, 1) instead of
    scipy's NaN and its ConstantInputWarning.
    """
    from scipy import stats as scipy_stats

    means = np.asarray(means, dtype=float)
    if means.size < 3 or np.all(means == means[0]):
        return 0.0, 1.0
    result = scipy_stats.kendalltau(np.arange(means.size), means)
    return float(result.statistic), float(result.pvalue)


def stationarity_warnings(percentile: float, split_half_z: float, head_z: float, trend_tau: float,
                          trend_p_value: float, warmup_queries: int) -> tuple[str, ...]:
    """The warnings of :func:`stationarity_diagnostics` from its statistics (one wording everywhere).

    Parameters
    ----------
    percentile : float
        ``p`` in (0, 1).
    split_half_z, head_z : float
        τ-corrected z-scores of the halves' and of the first 10 %'s share above the p-th percentile.
    trend_tau, trend_p_value : float
        Kendall's τ of the batch means against time and its two-sided p-value.
    warmup_queries : int
        The suggested warm-up cut (MSER-5).

    Returns
    -------
    tuple of str
        One line per failed check: ``|head_z| > 3`` (warm-up), ``|split_half_z| > 3``
        (non-stationary), ``trend_p_value < 0.001`` (trend).
    """
    p = float(percentile)
    warnings = []
    if abs(head_z) > 3.0:
        warnings.append(f"warm-up: the first 10 % of queries exceed the p{p * 100:g} {abs(head_z):.1f} standard errors "
                        f"{'more' if head_z > 0 else 'less'} often than the rest; MSER-5 suggests dropping the first "
                        f"{warmup_queries:,} queries (--warmup-s, or --trim auto)")
    if abs(split_half_z) > 3.0:
        warnings.append(f"non-stationary: the two halves' shares above the p{p * 100:g} differ by "
                        f"{abs(split_half_z):.1f} standard errors")
    if trend_p_value < 1e-3:
        warnings.append(f"trend: batch means of the latency drift {'up' if trend_tau > 0 else 'down'} over the "
                        f"run (Kendall tau {trend_tau:.2f}, p = {trend_p_value:.1e})")
    return tuple(warnings)


def stationarity_diagnostics(
    latencies_ns: ArrayLike, percentile: float, *, autocorrelation_time: float | None = None
) -> StationarityResult:
    """Check a latency series for warm-up and drift: split-half, head-vs-rest, trend, MSER-5.

    Parameters
    ----------
    latencies_ns : array_like, shape (n,)
        Latencies in issue order (n >= 64).
    percentile : float
        ``p`` in (0, 1).
    autocorrelation_time : float, optional
        τ of the p-indicator for the z-scores; default the Geyer estimate
        (:func:`indicator_autocorrelation`).

    Returns
    -------
    StationarityResult

    Raises
    ------
    ValueError
        If the series is too short or ``percentile`` is out of range.

    Notes
    -----
    With ``q = 1 - p`` and ``f_A`` the share of part ``A`` above the whole run's p-th
    percentile, a stationary series has :math:`\\mathrm{Var}(f_A) \\approx q(1-q)\\tau/n_A`, so
    :math:`z = (f_A - f_B)/\\sqrt{q(1-q)\\tau(1/n_A + 1/n_B)}` is about standard normal. The
    trend test is Mann-Kendall (Kendall's τ against time) on 32 batch means, which are nearly
    independent when batches are much longer than τ. MSER-5 (:func:`mser5_truncation`)
    proposes the warm-up to cut.

    References
    ----------
    .. [1] H. B. Mann, "Nonparametric tests against trend", Econometrica 13, 1945;
       M. G. Kendall, *Rank Correlation Methods*, 1975 (``scipy.stats.kendalltau``).
    .. [2] K. P. White Jr., Simulation 69(6), 1997 (MSER).
    .. [3] P. Heidelberger & P. D. Welch, "Simulation run length control in the presence of
       an initial transient", Oper. Res. 31(6), 1983 (the split-run idea).

    Examples
    --------
    >>> x = np.random.default_rng(0).exponential(size=100_000)
    >>> stationarity_diagnostics(x, 0.99).stationary
    True
    >>> x[:2_000] *= 2.0        # the first 2 % twice as slow
    >>> stationarity_diagnostics(x, 0.99).stationary
    False
    """
    x = _as_latency_array(latencies_ns).astype(float, copy=False)
    n = int(x.size)
    if n < 64:
        raise SimbenchInputError(f"latencies_ns needs at least 64 values, got {n}")
    p = float(percentile)
    if not 0.0 < p < 1.0:
        raise SimbenchInputError(f"percentile must be in (0, 1), got {percentile!r}")
    tau = (indicator_autocorrelation(x, p, method="geyer").autocorrelation_time
           if autocorrelation_time is None else max(1.0, float(autocorrelation_time)))
    threshold = float(loadgen_percentile(x, p))
    over = x > threshold
    q = max(float(over.mean()), 1.0 / n)
    unit = q * (1.0 - q) * tau

    def z(a: np.ndarray, b: np.ndarray) -> float:
        return float((a.mean() - b.mean()) / math.sqrt(unit * (1.0 / a.size + 1.0 / b.size)))

    half, head = n // 2, max(1, n // 10)
    split = z(over[:half], over[half:])
    head_z = z(over[:head], over[head:])
    batches = 32
    size = n // batches
    means = x[: batches * size].reshape(batches, size).mean(axis=1)
    trend_tau, trend_p = kendall_trend(means)
    cut = mser5_truncation(x)
    warnings = stationarity_warnings(p, split, head_z, trend_tau, trend_p, cut)
    return StationarityResult(
        sample_count=n,
        percentile=p,
        first_half_percentile_ns=float(loadgen_percentile(x[:half], p)),
        second_half_percentile_ns=float(loadgen_percentile(x[half:], p)),
        split_half_z=split,
        head_z=head_z,
        trend_tau=trend_tau,
        trend_p_value=trend_p,
        warmup_queries=cut,
        warnings=warnings,
    )


@dataclass(frozen=True)
class RequiredQueriesResult:
    """How many queries the system behind a trace needs, given its autocorrelation.

    Attributes
    ----------
    query_count : int
        Queries used (after any warm-up trimming).
    percentile, confidence, margin : float
        The claim: the reported percentile is within ``margin`` of ``p`` (on
        the probability scale) with probability ``confidence``.
    autocorrelation : AutocorrelationResult
        The τ estimate used, with its interval.
    iid_queries : int
        Eq. 2's count for independent latencies (``ceil``, unrounded).
    required_queries : int
        ``ceil(iid_queries * tau_high)``: the count that restores the claim, sized from the
        upper confidence bound of τ.
    required_queries_point : int
        ``ceil(iid_queries * τ)`` from the point estimate, for comparison.
    achieved_margin : float
        The margin this trace achieves: Eq. 2 solved with ``n / tau_high`` queries.
    early_stopping_iid_min_queries : int
        LoadGen's minimum ``h(1) + 1`` for this percentile (662 for 0.99).
    early_stopping_required_queries : int
        ``ceil((h(1) + 1) * tau_high)``: the minimum scaled to correlated latencies.
    sufficient : bool
        ``query_count >= required_queries`` and the run is long enough to tell.
    trimmed_queries : int
        Queries dropped from the start as warm-up before any of the above.
    stationarity : StationarityResult or None
        Warm-up and drift diagnostics of the (trimmed) series.
    warnings : tuple of str
        Everything that makes the count doubtful: τ's and the stationarity diagnostics'.
    """

    query_count: int
    percentile: float
    confidence: float
    margin: float
    autocorrelation: AutocorrelationResult
    iid_queries: int
    required_queries: int
    achieved_margin: float
    early_stopping_iid_min_queries: int
    early_stopping_required_queries: int
    sufficient: bool
    required_queries_point: int = 0
    trimmed_queries: int = 0
    stationarity: StationarityResult | None = None
    warnings: tuple[str, ...] = ()


DEFAULT_TAU_METHOD = "geyer"
"""The estimator ``required_queries`` uses by default, picked by measured end-to-end coverage
(docs/statistics.md, "How many queries do I need?")."""


def required_queries(
    latencies_ns: ArrayLike,
    percentile: float,
    *,
    confidence: float = LOADGEN_CONFIDENCE,
    margin: float | None = None,
    method: TauMethod = DEFAULT_TAU_METHOD,
    batch_count: int = 32,
    tau_confidence: float = 0.9,
    warmup_queries: int | Literal["auto"] = 0,
    diagnostics: bool = True,
) -> RequiredQueriesResult:
    """Answer "how many queries does *this* system need?" from its latency series.

    Parameters
    ----------
    latencies_ns : array_like, shape (n,)
        Query latencies in ns in issue order (from a real or simulated trace).
    percentile : float
        Tail percentile ``p`` in (0, 1), e.g. 0.99.
    confidence : float, default 0.99
        Confidence level in (0, 1).
    margin : float, optional
        Margin on the probability scale; default the paper's ``(1 - p)/20``.
    method : {"geyer", "acf", "obm", "batch_means", "max"}, default "geyer"
        τ estimator (see :func:`indicator_autocorrelation`).
    batch_count : int, default 32
        Batches for the batch-means estimate.
    tau_confidence : float, default 0.9
        Level of τ's two-sided interval; the counts use its upper end.
    warmup_queries : int or "auto", default 0
        Queries to drop from the start first; ``"auto"`` uses MSER-5
        (:func:`mser5_truncation`).
    diagnostics : bool, default True
        Run :func:`stationarity_diagnostics` and add its warnings.

    Returns
    -------
    RequiredQueriesResult

    Raises
    ------
    ValueError
        If an argument is out of range or trimming leaves fewer than 64 queries.

    Notes
    -----
    The paper's Eq. 2 gives :math:`N = z^2 p(1-p)/m^2` for independent queries. With
    autocorrelation time τ the count of fast queries has variance :math:`n p(1-p)\\tau`, so
    the same margin needs :math:`N\\tau` queries; LoadGen's early-stopping minimum
    :math:`h(1)+1` scales the same way. τ is estimated from the trace itself, so the counts
    use the upper end of its interval, and a run too short to tell (``warnings``) is never
    ``sufficient``. The procedure's end-to-end coverage (one run, τ from it, the corrected
    count, a fresh run of that length) is measured in docs/statistics.md.

    References
    ----------
    .. [1] V. J. Reddi et al., "MLPerf Inference Benchmark", arXiv:1911.02549,
       §III-D (Eq. 2).
    .. [2] A. D. Sokal, 1997, §3; C. J. Geyer, Statist. Sci. 7(4), 1992; J. M. Flegal &
       G. L. Jones, 2010 (τ and the effective sample size).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> result = required_queries(rng.exponential(size=300_000), 0.99)
    >>> result.iid_queries, result.sufficient, result.warnings
    (262742, True, ())
    """
    array = _as_latency_array(latencies_ns)
    if warmup_queries == "auto":
        cut = mser5_truncation(array)
    else:
        cut = int(warmup_queries)
        if not 0 <= cut < array.size:
            raise SimbenchInputError(f"warmup_queries must be in [0, {array.size}), got {warmup_queries!r}")
    kept = array[cut:]
    if kept.size < 64:
        raise SimbenchInputError(f"only {kept.size} queries left after dropping {cut} as warm-up; need at least 64")
    tau_result = indicator_autocorrelation(kept, percentile, method=method, batch_count=batch_count,
                                           tau_confidence=tau_confidence)
    stationarity = stationarity_diagnostics(kept, percentile, autocorrelation_time=tau_result.autocorrelation_time) \
        if diagnostics else None
    size = sample_size(percentile, confidence=confidence, margin=margin)
    tau_high = tau_result.tau_high
    n = tau_result.sample_count
    es_min = min_passing_queries(1, percentile, confidence=confidence) + 1
    required = math.ceil(size.min_queries * tau_high)
    effective = max(1, math.floor(n / tau_high))
    warnings = tau_result.warnings + (stationarity.warnings if stationarity else ())
    return RequiredQueriesResult(
        query_count=n,
        percentile=size.percentile,
        confidence=size.confidence,
        margin=size.margin,
        autocorrelation=tau_result,
        iid_queries=size.min_queries,
        required_queries=required,
        achieved_margin=margin_of_error(effective, percentile, confidence=confidence),
        early_stopping_iid_min_queries=es_min,
        early_stopping_required_queries=math.ceil(es_min * tau_high),
        sufficient=n >= required and not tau_result.too_short,
        required_queries_point=math.ceil(size.min_queries * tau_result.autocorrelation_time),
        trimmed_queries=cut,
        stationarity=stationarity,
        warnings=warnings,
    )


def _method_estimate(result: AutocorrelationResult, method: str) -> tuple[float, float, float]:
    """(tau, tau_low, tau_high) of ``method`` from one :func:`indicator_autocorrelation` result,
    so the procedure's Monte Carlo compares estimators on one acf computation."""
    if method == "max":
        method = max(("acf", "geyer", "obm"), key=lambda name: _method_estimate(result, name)[0])
    tau = max(1.0, {"acf": result.acf_time, "geyer": result.geyer_time, "obm": result.obm_time,
                    "batch_means": result.batch_means_time}[method])
    lags = {"acf": result.acf_window, "geyer": result.geyer_lags}.get(method, 0)
    batch_count = max(2, result.sample_count // max(1, result.batch_size))
    split = dict(zip(("acf", "geyer", "obm"), result.split_log_sd)).get(method, 0.0)
    low, high = _interval(method, tau, result.sample_count, lags, result.obm_batch_size, result.batch_size,
                          batch_count, result.tau_confidence, split)
    return tau, max(1.0, low), max(1.0, high)
