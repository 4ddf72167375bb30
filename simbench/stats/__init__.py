"""Statistics for MLPerf-style latency runs.

Percentiles and early stopping (LoadGen's exact rules)

=================================  ==========================================================
``loadgen_percentile``             LoadGen's percentile rule ``sorted[floor(n*p)]``
``loadgen_percentiles``            several LoadGen percentiles in one selection pass
``loadgen_percentile_index``       the index ``floor(n*p)`` alone, in LoadGen's double arithmetic
``min_passing_queries``            LoadGen's early-stopping ``h(t)``
``max_overlatency_count``          the most over-latency queries ``n`` queries tolerate
``server_early_stopping``          Server early-stopping check -> ``EarlyStoppingResult``
``latency_early_stopping``         SingleStream/MultiStream estimate -> ``EarlyStoppingResult``
``single_stream_early_stopping``   SingleStream's block: target-percentile and 99 % estimates
``EarlyStoppingResult``            result record with LoadGen's summary lines
``LOADGEN_CONFIDENCE``             0.99, LoadGen's early-stopping confidence
``LOADGEN_TOLERANCE``              0.0, LoadGen's early-stopping tolerance
=================================  ==========================================================

Token latencies (LLM runs, LoadGen >= 4.0 ``use_token_latencies``)

=================================  ==========================================================
``loadgen_token_counts``           the per-sample token count LoadGen records
``time_per_output_token_ns``       LoadGen's TPOT ``(latency - TTFT) / (n_tokens - 1)``
``loadgen_latency_stats``          min/max/mean/percentiles as results.cc -> ``LatencyStats``
``token_early_stopping``           early stopping on TPOT then TTFT -> ``TokenEarlyStoppingResult``
``LatencyStats``                   record returned by ``loadgen_latency_stats``
``TokenEarlyStoppingResult``       record returned by ``token_early_stopping``
``LOADGEN_REPORTED_PERCENTILES``   (0.50, 0.90, 0.95, 0.97, 0.99, 0.999)
=================================  ==========================================================

Sample sizes and confidence intervals

=================================  ==========================================================
``sample_size``                    the MLPerf paper's Eq. 2 query count -> ``SampleSizeResult``
``paper_table``                    the paper's Table IV (90/95/97/99th percentiles)
``paper_margin``                   Eq. 1: ``(1 - p) / 20``
``margin_of_error``                the margin ``n`` queries guarantee
``round_up_to_multiple``           the paper's rounding to multiples of 2**13
``percentile_ci``                  order-statistic interval -> ``PercentileConfidenceInterval``
``percentile_ci_ranks``            the interval's ranks only
``order_statistic_coverage``       exact coverage of given ranks
``indicator_autocorrelation``      τ and effective sample size -> ``AutocorrelationResult``
``required_queries``               queries a correlated system needs -> ``RequiredQueriesResult``
``stationarity_diagnostics``       warm-up / drift checks -> ``StationarityResult``
``mser5_truncation``               MSER-5 warm-up truncation point
``run_statistics``                 τ, bound, corrected count, warnings for a Summary -> ``RunStatistics``
``StationarityResult``             record returned by ``stationarity_diagnostics``
``RunStatistics``                  record returned by ``run_statistics`` (the Summary's statistics_* fields)
``SampleSizeResult``               record returned by ``sample_size``
``PercentileConfidenceInterval``   record returned by ``percentile_ci``
``AutocorrelationResult``          record returned by ``indicator_autocorrelation``
``RequiredQueriesResult``          record returned by ``required_queries``
``PAPER_PERCENTILES``              (0.90, 0.95, 0.97, 0.99), the rows of Table IV
``QUERY_COUNT_MULTIPLE``           2**13, the paper's rounding unit
=================================  ==========================================================

Operating characteristics (i.i.d.)

=================================  ==========================================================
``server_pass_probability``        P[Server early stopping passes] at a true over-latency rate
``operating_characteristic``       that curve on a grid -> ``OperatingCharacteristic``
``margin_coverage``                exact coverage of the margin claim against n (the sawtooth)
``early_stopping_coverage``        exact coverage of the early-stopping estimate against n
``exact_sample_size``              the exact (Beta) count beside Eq. 2 -> ``ExactSampleSizeResult``
``OperatingCharacteristic``        record returned by ``operating_characteristic``
``ExactSampleSizeResult``          record returned by ``exact_sample_size``
=================================  ==========================================================

Monte Carlo validation (imported on first use; needs numba)

=================================  ==========================================================
``validate``                       coverage of the three claims -> ``ValidationResult``
``LogNormalLaw`` ``GammaLaw``      i.i.d. latency laws
``EmpiricalLaw``                   resampling observed latencies (a trace)
``QueueLaw``                       autocorrelated GI/M/1 sojourn times
``GIG1Law``                        GI/G/1 sojourn times (Gamma service; reference-run quantiles)
``ReplicatedLaw``                  protocol for laws that run their own replications
                                   (``simbench.plan.coverage.SimulatorLaw``: the simulator)
``validate_correlated``            shortfall under autocorrelation and its correction
``validate_procedure``             end-to-end coverage: one run -> τ -> corrected count -> fresh run
``ProcedureValidationResult``      record returned by ``validate_procedure``
``sample_latencies``               one replication's latencies, for inspection
``ValidationResult``               record returned by ``validate``
``CoverageEstimate``               one check's coverage and Monte Carlo standard error
``CorrelatedValidationResult``     record returned by ``validate_correlated``
=================================  ==========================================================
"""

from simbench.stats.autocorrelation import (
    AutocorrelationResult,
    RequiredQueriesResult,
    StationarityResult,
    indicator_autocorrelation,
    mser5_truncation,
    required_queries,
    stationarity_diagnostics,
)
from simbench.stats.confidence import (
    PercentileConfidenceInterval,
    order_statistic_coverage,
    percentile_ci,
    percentile_ci_ranks,
)
from simbench.stats.early_stopping import (
    LOADGEN_CONFIDENCE,
    LOADGEN_TOLERANCE,
    EarlyStoppingResult,
    latency_early_stopping,
    max_overlatency_count,
    min_passing_queries,
    server_early_stopping,
    single_stream_early_stopping,
)
from simbench.stats.operating import (
    ExactSampleSizeResult,
    OperatingCharacteristic,
    early_stopping_coverage,
    exact_sample_size,
    margin_coverage,
    operating_characteristic,
    server_pass_probability,
)
from simbench.stats.percentile import (
    loadgen_percentile,
    loadgen_percentile_index,
    loadgen_percentiles,
)
from simbench.stats.run_statistics import RunStatistics, run_statistics
from simbench.stats.tokens import (
    LOADGEN_REPORTED_PERCENTILES,
    LatencyStats,
    TokenEarlyStoppingResult,
    loadgen_latency_stats,
    loadgen_token_counts,
    time_per_output_token_ns,
    token_early_stopping,
)
from simbench.stats.sample_size import (
    PAPER_PERCENTILES,
    QUERY_COUNT_MULTIPLE,
    SampleSizeResult,
    margin_of_error,
    paper_margin,
    paper_table,
    round_up_to_multiple,
    sample_size,
)

_MONTECARLO = (
    "CorrelatedValidationResult",
    "CoverageEstimate",
    "EmpiricalLaw",
    "GammaLaw",
    "GIG1Law",
    "LogNormalLaw",
    "QueueLaw",
    "ReplicatedLaw",
    "ValidationResult",
    "sample_latencies",
    "validate",
    "validate_correlated",
)
_PROCEDURE = ("ProcedureValidationResult", "validate_procedure")


def __getattr__(name: str):
    # numba costs ~0.5 s to import; only the Monte Carlo names need it.
    if name in _MONTECARLO:
        from simbench.stats import montecarlo

        return getattr(montecarlo, name)
    if name in _PROCEDURE:
        from simbench.stats import procedure

        return getattr(procedure, name)
    raise AttributeError(f"module 'simbench.stats' has no attribute {name!r}")


__all__ = [
    "LOADGEN_CONFIDENCE",
    "LOADGEN_REPORTED_PERCENTILES",
    "LatencyStats",
    "TokenEarlyStoppingResult",
    "loadgen_latency_stats",
    "loadgen_token_counts",
    "single_stream_early_stopping",
    "time_per_output_token_ns",
    "token_early_stopping",
    "LOADGEN_TOLERANCE",
    "PAPER_PERCENTILES",
    "QUERY_COUNT_MULTIPLE",
    "AutocorrelationResult",
    "CorrelatedValidationResult",
    "CoverageEstimate",
    "EarlyStoppingResult",
    "EmpiricalLaw",
    "ExactSampleSizeResult",
    "GammaLaw",
    "GIG1Law",
    "LogNormalLaw",
    "OperatingCharacteristic",
    "PercentileConfidenceInterval",
    "ProcedureValidationResult",
    "QueueLaw",
    "RequiredQueriesResult",
    "RunStatistics",
    "SampleSizeResult",
    "StationarityResult",
    "ReplicatedLaw",
    "ValidationResult",
    "early_stopping_coverage",
    "exact_sample_size",
    "indicator_autocorrelation",
    "latency_early_stopping",
    "loadgen_percentile",
    "loadgen_percentile_index",
    "loadgen_percentiles",
    "margin_coverage",
    "margin_of_error",
    "max_overlatency_count",
    "min_passing_queries",
    "mser5_truncation",
    "operating_characteristic",
    "order_statistic_coverage",
    "paper_margin",
    "paper_table",
    "percentile_ci",
    "percentile_ci_ranks",
    "required_queries",
    "round_up_to_multiple",
    "run_statistics",
    "sample_latencies",
    "sample_size",
    "server_early_stopping",
    "server_pass_probability",
    "stationarity_diagnostics",
    "validate",
    "validate_correlated",
    "validate_procedure",
]
