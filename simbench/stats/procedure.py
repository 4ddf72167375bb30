"""End-to-end validation of the correction a user applies: one run, τ from it, the corrected count, a fresh run.

:func:`simbench.stats.required_queries` turns one run into a query count. Whether that count
delivers the paper's claim (LoadGen's p-th percentile within ``m`` of ``p`` with confidence
``c``) depends on the whole procedure, τ's estimation error included. This module measures it
by Monte Carlo, replication by replication:

1. a *pilot* run of ``n0`` queries (default the paper's rounded count) from the law;
2. τ and its interval from the pilot alone, by each estimator (threshold: the pilot's own
   LoadGen percentile, as a user has it), and the warnings :func:`required_queries` gives;
3. the corrected count ``N = ceil(N_iid * tau_high)`` (``N_iid`` Eq. 2's unrounded count);
4. a *fresh*, independent run of ``N`` queries, and whether the claim holds in it.

The **direct** coverage is the share of fresh runs where it holds (with its binomial Monte
Carlo standard error); fresh runs are drawn until ``budget_queries`` is spent, so rows with
large τ have fewer of them. The **conditional** coverage averages, over all pilots, the
probability that a fresh run of that pilot's ``N`` holds, computed from the law's true τ at the
two thresholds by the normal approximation of the counts (exact event algebra, continuity
corrected): the same quantity with a much smaller Monte Carlo error, valid when ``N / τ`` is
large (checked against the direct value and against the exact i.i.d. Beta coverage in the tests).

Entry point: :func:`validate_procedure` -> :class:`ProcedureValidationResult`.
"""

from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from simbench.errors import SimbenchInputError
from simbench.stats import _kernels
from simbench.stats.autocorrelation import _method_estimate, indicator_autocorrelation
from simbench.stats.early_stopping import LOADGEN_CONFIDENCE
from simbench.stats.montecarlo import QueueLaw, ReplicatedLaw, sample_latencies
from simbench.stats.sample_size import sample_size

__all__ = ["ProcedureEstimate", "ProcedureValidationResult", "fresh_run_coverage", "reference_tau",
           "validate_procedure"]

_PILOT_STREAM, _FRESH_STREAM, _REFERENCE_STREAM = 1, 2, 3


@dataclass(frozen=True)
class ProcedureEstimate:
    """The procedure with one τ estimator, measured.

    Attributes
    ----------
    method : str
        τ estimator (:func:`simbench.stats.indicator_autocorrelation`).
    pilots : int
        Pilot runs (replications of steps 1-3).
    tau_median, tau_high_median : float
        Median over pilots of τ and of its upper bound.
    tau_high_below_true : float
        Share of pilots whose upper bound is below the true τ.
    flagged : float
        Share of pilots with at least one warning (too short, disagreement, warm-up ...).
    corrected_median, corrected_p10, corrected_p90 : int
        Median and 10th/90th percentiles of the corrected count ``N``.
    direct_coverage, direct_standard_error : float or None
        Share of fresh runs of ``N`` where the claim held, and its Monte Carlo s.e.
    direct_replications : int
        Fresh runs simulated (a prefix of the pilots, by budget).
    conditional_coverage, conditional_standard_error : float or None
        Mean over pilots of P[claim holds | N] (true τ, normal approximation) and its s.e.
    """

    method: str
    pilots: int
    tau_median: float
    tau_high_median: float
    tau_high_below_true: float
    flagged: float
    corrected_median: int
    corrected_p10: int
    corrected_p90: int
    direct_coverage: float | None
    direct_standard_error: float | None
    direct_replications: int
    conditional_coverage: float | None
    conditional_standard_error: float | None


@dataclass(frozen=True)
class ProcedureValidationResult:
    """End-to-end coverage of one run -> τ -> corrected count -> fresh run.

    Attributes
    ----------
    law : str
        ``repr`` of the latency law.
    percentile, confidence, margin : float
        The claim.
    pilot_queries : int
        ``n0``.
    iid_queries : int
        ``N_iid`` (Eq. 2, unrounded).
    iid_coverage : float
        Exact i.i.d. coverage at ``N_iid`` (what a perfect τ would give: 98.9955 % for p99).
    true_tau : tuple of float
        τ of the indicators at ``ξ_{p-m}``, ``ξ_p``, ``ξ_{p+m}`` (reference runs), or NaN.
    true_tau_standard_error : tuple of float
        Their standard errors (batch means over independent reference runs).
    estimates : tuple of ProcedureEstimate
        One per estimator.
    tau_confidence : float
        Level of τ's interval (its upper end sizes ``N``).
    seed : int
    elapsed_s : float
    """

    law: str
    percentile: float
    confidence: float
    margin: float
    pilot_queries: int
    iid_queries: int
    iid_coverage: float
    true_tau: tuple[float, ...]
    true_tau_standard_error: tuple[float, ...]
    estimates: tuple[ProcedureEstimate, ...]
    tau_confidence: float
    seed: int
    elapsed_s: float

    def estimate(self, method: str) -> ProcedureEstimate:
        """The :class:`ProcedureEstimate` of ``method``."""
        for estimate in self.estimates:
            if estimate.method == method:
                return estimate
        raise KeyError(method)


def reference_tau(
    law: QueueLaw, probabilities, *, runs: int = 8, batches: int = 2000, batch_size: int | None = None, seed: int = 0,
    budget_queries: float = 4.0e8,
) -> tuple[np.ndarray, np.ndarray]:
    """True τ of ``[x <= ξ_q]`` for a stationary :class:`QueueLaw`, by batch means over independent runs.

    Parameters
    ----------
    law : QueueLaw
        Started in stationarity, so no warm-up is discarded.
    probabilities : sequence of float
        The ``q`` in (0, 1).
    runs : int, default 8
        Independent runs (numba ``prange``).
    batches : int, default 2000
        Batches per run.
    batch_size : int, optional
        Default ``max(1000, 50 x`` a first estimate of τ ``)``, so that the batch-means bias
        (about ``τ / (2 x 50)`` relative) stays near 1 %.
    seed : int, default 0
    budget_queries : float, default 4e8
        Cap on ``runs x batches x batch_size``: ``batches`` shrinks (to at least 20) to fit.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        τ per probability and its standard error (spread of the per-run estimates / sqrt(runs)).

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :math:`\\hat\\tau = b\\,\\mathrm{Var}(\\bar I_b) / (q(1-q))` with the exact ``q`` of the law
    (not the sample's), per run; the runs are independent, so their spread is the standard error.

    References
    ----------
    .. [1] G. S. Fishman, *Principles of Discrete Event Simulation*, 1978 (batch means).

    Examples
    --------
    >>> tau, se = reference_tau(QueueLaw(0.5), [0.9], runs=2, batches=200, batch_size=2000)
    >>> 4.0 < float(tau[0]) < 10.0
    True
    """
    q = np.asarray(probabilities, dtype=float)
    if q.size == 0 or not np.all((q > 0) & (q < 1)):
        raise SimbenchInputError(f"probabilities must be in (0, 1), got {probabilities!r}")
    if runs < 2 or batches < 20:
        raise SimbenchInputError("need runs >= 2 and batches >= 20")
    thresholds = np.array([law.quantile(v) for v in q]) / law.mean_service_ns
    if batch_size is None:
        pilot = sample_latencies(law, 1_000_000, seed=seed, replication=0)
        guess = indicator_autocorrelation(pilot, float(q.max()), threshold_ns=law.quantile(float(q.max())),
                                          method="geyer").autocorrelation_time
        batch_size = max(1000, int(50 * guess))
    batches = int(max(20, min(batches, budget_queries // (runs * batch_size))))
    states = _kernels.replication_states(np.random.SeedSequence([seed, _REFERENCE_STREAM]), runs)
    counts = _kernels.queue_batch_counts(*law._queue_arguments(), states, int(batches), int(batch_size), thresholds)
    means = counts / batch_size  # (runs, batches, K)
    per_run = batch_size * means.var(axis=1, ddof=1) / (q * (1.0 - q))
    return per_run.mean(axis=0), per_run.std(axis=0, ddof=1) / math.sqrt(runs)


def fresh_run_coverage(query_counts, percentile: float, margin: float, tau_low: float = 1.0,
                       tau_high: float = 1.0) -> np.ndarray:
    """P[the margin claim holds in a stationary run of ``N`` queries], normal approximation.

    Parameters
    ----------
    query_counts : array_like of int
        Run lengths ``N`` (>= 2).
    percentile, margin : float
        ``p`` and ``m``.
    tau_low, tau_high : float
        True τ of the indicators at ``ξ_{p-m}`` and ``ξ_{p+m}`` (1 for i.i.d. latencies).

    Returns
    -------
    numpy.ndarray
        :math:`1 - P[B_- > k] - P[B_+ \\le k]`, ``k = floor(N p)``, with
        :math:`B_\\pm \\approx \\mathcal N(N q_\\pm, N q_\\pm(1 - q_\\pm)\\tau_\\pm)`, continuity corrected.

    Raises
    ------
    ValueError
        If ``query_counts`` holds a value below 2.

    Notes
    -----
    LoadGen's estimate :math:`x_{(k+1)}` is within the margin iff :math:`B_- = \\#\\{x < \\xi_{p-m}\\} \\le k`
    and :math:`B_+ = \\#\\{x \\le \\xi_{p+m}\\} \\ge k + 1`; since :math:`B_- \\le B_+` the two failures
    are disjoint, so the probability is exactly one minus the two tails; only the tails use
    the normal law (CLT for a stationary, mixing indicator series).

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D; A. D. Sokal, 1997, §3 (variance n p (1-p) τ).

    Examples
    --------
    >>> float(np.round(100 * fresh_run_coverage([270_336], 0.99, 0.0005)[0], 2))   # exact Beta law: 99.10
    99.09
    """
    n = np.asarray(query_counts, dtype=float)
    if n.size and n.min() < 2:
        raise SimbenchInputError("query_counts must be >= 2")
    p, m = float(percentile), float(margin)
    k = np.floor(n * p)
    q_low, q_high = p - m, p + m
    s_low = np.sqrt(n * q_low * (1 - q_low) * tau_low)
    s_high = np.sqrt(n * q_high * (1 - q_high) * tau_high)
    above = scipy_stats.norm.sf((k + 0.5 - n * q_low) / s_low)
    below = scipy_stats.norm.cdf((k + 0.5 - n * q_high) / s_high)
    return 1.0 - above - below


def _pilot(law, n0: int, seed: int, replication: int, states: np.ndarray | None) -> np.ndarray:
    if isinstance(law, QueueLaw):
        unit = law._kernel_arguments()[4]
        return _kernels.queue_sample(*law._queue_arguments(), states[replication], n0) * unit
    return law.sample(n0, seed=seed * 16 + _PILOT_STREAM, replication=replication)


def _fresh_counts(law, query_counts: np.ndarray, seed: int, method_index: int, thresholds: np.ndarray) -> np.ndarray:
    if isinstance(law, QueueLaw):
        states = _kernels.replication_states(np.random.SeedSequence([seed, _FRESH_STREAM, method_index]),
                                             query_counts.size)
        unit = law._kernel_arguments()[4]
        return _kernels.queue_threshold_counts_each(*law._queue_arguments(), states, query_counts.astype(np.int64),
                                                    np.ascontiguousarray(thresholds / unit))
    return law.threshold_counts_each(query_counts, seed * 16 + _FRESH_STREAM + 4 * method_index, thresholds)


def validate_procedure(
    law: QueueLaw | ReplicatedLaw,
    *,
    percentile: float = 0.99,
    confidence: float = LOADGEN_CONFIDENCE,
    pilot_queries: int | None = None,
    replications: int = 400,
    methods: tuple[str, ...] = ("geyer", "acf", "obm"),
    tau_confidence: float = 0.9,
    budget_queries: float = 2.0e10,
    true_tau: tuple[float, float, float] | None = None,
    direct_methods: tuple[str, ...] | None = None,
    reference_budget: float = 4.0e8,
    seed: int = 0,
    progress=None,
) -> ProcedureValidationResult:
    """Monte Carlo coverage of the whole correction procedure a user runs.

    Parameters
    ----------
    law : QueueLaw or ReplicatedLaw
        Latency law (``simbench.plan.coverage.SimulatorLaw`` for the simulator; it must
        provide ``threshold_counts_each``).
    percentile : float, default 0.99
        ``p``.
    confidence : float, default 0.99
        ``c`` of the claim (margin ``(1 - p)/20``).
    pilot_queries : int, optional
        ``n0``; default the paper's rounded count (270,336 for p99, 24,576 for p90).
    replications : int, default 400
        Pilot runs ``R`` (>= 2).
    methods : tuple of str
        τ estimators to compare.
    tau_confidence : float, default 0.9
        Level of τ's two-sided interval (its upper end sizes the count).
    budget_queries : float, default 2e10
        Most fresh-run queries to simulate per estimator; fresh runs go to the first pilots
        until it is spent.
    true_tau : (float, float, float), optional
        True τ at ``ξ_{p-m}, ξ_p, ξ_{p+m}`` for the conditional coverage; default
        :func:`reference_tau` for a :class:`QueueLaw`, none (NaN) otherwise.
    direct_methods : tuple of str, optional
        Estimators whose fresh runs are simulated (default all of ``methods``); the others get
        the conditional coverage only.
    reference_budget : float, default 4e8
        Most queries :func:`reference_tau` may simulate (its batch count shrinks to fit).
    seed : int, default 0
    progress : callable, optional
        Called as ``progress(done, total)`` after each pilot.

    Returns
    -------
    ProcedureValidationResult

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    Streams: pilots use ``SeedSequence([seed, 1])``, fresh runs ``SeedSequence([seed, 2,
    method])`` and reference runs ``[seed, 3]``, so a pilot and its fresh run are independent
    and every estimator sees the same pilots. See the module docstring for the two coverage
    estimates.

    References
    ----------
    .. [1] V. J. Reddi et al., arXiv:1911.02549, §III-D.
    .. [2] A. D. Sokal, 1997, §3; C. J. Geyer, Statist. Sci. 7(4), 1992; M. S. Meketon &
       B. Schmeiser, 1984.

    Examples
    --------
    >>> result = validate_procedure(QueueLaw(0.5), percentile=0.9, replications=20, budget_queries=3e7,
    ...                             methods=("geyer",))
    >>> estimate = result.estimate("geyer")
    >>> estimate.direct_replications == 20 and 0.0 <= estimate.direct_coverage <= 1.0
    True
    """
    start = time.perf_counter()
    p = float(percentile)
    size = sample_size(p, confidence=confidence)
    m = size.margin
    n0 = size.rounded_queries if pilot_queries is None else operator.index(pilot_queries)
    reps = operator.index(replications)
    if n0 < 64 or reps < 2:
        raise SimbenchInputError("need pilot_queries >= 64 and replications >= 2")
    if isinstance(law, QueueLaw) and true_tau is None:
        tau_true, tau_se = reference_tau(law, [p - m, p, p + m], seed=seed, budget_queries=reference_budget)
    elif true_tau is not None:
        tau_true, tau_se = np.asarray(true_tau, dtype=float), np.zeros(3)
    else:
        tau_true, tau_se = np.full(3, np.nan), np.full(3, np.nan)
    taus = np.empty((len(methods), reps))
    highs = np.empty((len(methods), reps))
    flagged = np.zeros(reps, dtype=bool)
    states = (_kernels.replication_states(np.random.SeedSequence([seed, _PILOT_STREAM]), reps)
              if isinstance(law, QueueLaw) else None)
    for r in range(reps):
        x = _pilot(law, n0, seed, r, states)
        result = indicator_autocorrelation(x, p, method="geyer", tau_confidence=tau_confidence)
        flagged[r] = bool(result.warnings)
        for i, method in enumerate(methods):
            taus[i, r], _, highs[i, r] = _method_estimate(result, method)
        if progress is not None:
            progress(r + 1, reps)
    thresholds = np.array([law.quantile(p - m), law.quantile(p + m)])
    estimates = []
    for i, method in enumerate(methods):
        corrected = np.ceil(size.min_queries * highs[i]).astype(np.int64)
        spent = np.cumsum(corrected.astype(float))
        direct_n = int(np.searchsorted(spent, budget_queries, side="right"))
        if direct_methods is not None and method not in direct_methods:
            direct_n = 0
        direct = se = None
        if direct_n >= 1:
            counts = _fresh_counts(law, corrected[:direct_n], seed, i, thresholds)
            k = np.floor(corrected[:direct_n].astype(float) * p)
            hits = (counts[:, 0, 0] <= k) & (counts[:, 1, 1] >= k + 1)
            direct = float(hits.mean())
            se = math.sqrt(max(direct * (1 - direct), 1.0 / direct_n) / direct_n)
        conditional = conditional_se = None
        if np.isfinite(tau_true).all():
            values = fresh_run_coverage(corrected, p, m, tau_true[0], tau_true[2])
            conditional = float(values.mean())
            conditional_se = float(values.std(ddof=1) / math.sqrt(reps))
        estimates.append(ProcedureEstimate(
            method=method,
            pilots=reps,
            tau_median=float(np.median(taus[i])),
            tau_high_median=float(np.median(highs[i])),
            tau_high_below_true=float(np.mean(highs[i] < tau_true[1])) if np.isfinite(tau_true[1]) else float("nan"),
            flagged=float(flagged.mean()),
            corrected_median=int(np.median(corrected)),
            corrected_p10=int(np.percentile(corrected, 10)),
            corrected_p90=int(np.percentile(corrected, 90)),
            direct_coverage=direct,
            direct_standard_error=se,
            direct_replications=direct_n,
            conditional_coverage=conditional,
            conditional_standard_error=conditional_se,
        ))
    k_iid = math.floor(size.min_queries * p)
    beta = scipy_stats.beta(k_iid + 1, size.min_queries - k_iid)
    return ProcedureValidationResult(
        law=repr(law),
        percentile=p,
        confidence=float(confidence),
        margin=m,
        pilot_queries=n0,
        iid_queries=size.min_queries,
        iid_coverage=float(beta.cdf(p + m) - beta.cdf(p - m)),
        true_tau=tuple(float(v) for v in tau_true),
        true_tau_standard_error=tuple(float(v) for v in tau_se),
        estimates=tuple(estimates),
        tau_confidence=float(tau_confidence),
        seed=int(seed),
        elapsed_s=time.perf_counter() - start,
    )
