"""``Summary``: what LoadGen's ``mlperf_log_summary.txt`` reports, computed from a Trace.

Computing (``summarize``) is pure; rendering lives in ``simbench.report``
(``report.text.render_text``, ``report.text.render_detail_log``,
``report.json.summary_to_dict``). A number printed for a simulated run means exactly what it
means for a real run: both go through this module.

Scenario rules live in one table, ``SCENARIO_RULES`` (in ``simbench.settings``, so the
simulator and the schedule read the same rows); every metric is defined as a formula
in ``docs/reference.md``. Source: LoadGen ``results.cc`` (``PerformanceSummary``), v6.0.17,
and real summaries written by the ``mlcommons-loadgen`` 6.0.17 package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simbench.settings import SCENARIO_RULES, EffectiveSettings, Scenario, ScenarioRule
from simbench.stats import (
    EarlyStoppingResult,
    LatencyStats,
    TokenEarlyStoppingResult,
    latency_early_stopping,
    loadgen_latency_stats,
    loadgen_percentiles,
    loadgen_token_counts,
    server_early_stopping,
    single_stream_early_stopping,
    time_per_output_token_ns,
    token_early_stopping,
)
from simbench.stats.run_statistics import RunStatistics, not_analysed, run_statistics
from simbench.trace import Trace

__all__ = [
    "Summary",
    "TokenSummary",
    "ScenarioRule",
    "SCENARIO_RULES",
    "summarize",
    "device_power_stats",
    "REPORTED_PERCENTILES",
]

REPORTED_PERCENTILES = (0.50, 0.90, 0.95, 0.97, 0.99, 0.999)


_MIN_QUERIES_RECOMMENDATION = " * The test exited early, before enough queries were issued."
_PERF_RECOMMENDATION = " * Reduce target QPS to improve latency."
# LoadGen's spelling ("constrain"), results.cc PerfConstraintsMet.
_TTFT_RECOMMENDATION = " * TTFT constrain not met: Reduce target QPS to improve latency."
_TPOT_RECOMMENDATION = " * TPOT constrain not met: Reduce target QPS to improve latency."


@dataclass(frozen=True)
class TokenSummary:
    """LoadGen's token-latency results of an LLM run (``use_token_latencies``).

    Attributes
    ----------
    token_count : int
        ``sum(loadgen_token_counts(n_tokens))`` over the run's samples.
    first_token, time_per_output_token : LatencyStats or None
        TTFT and TPOT statistics over samples (None for Offline, where LoadGen records no
        first token).
    early_stopping : TokenEarlyStoppingResult or None
        TPOT's then TTFT's early stopping (None for Offline).
    ttft_constraint_met, tpot_constraint_met : bool or None
        Server only: target-percentile TTFT <= ``server_ttft_latency`` and TPOT <=
        ``server_tpot_latency``; they replace the request-latency constraint.
    tokens_per_second : float or None
        Offline: ``token_count / max(latency)`` (s).
    completed_tokens_per_second : float or None
        Not Offline: ``token_count / complete_ns(last query)`` (s).
    tps_with_loadgen_overhead : float or None
        Not Offline: ``token_count / issued_ns(last query)`` (s)
        (``result_token_throughput_with_loadgen_overhead``).
    tps_without_loadgen_overhead : float or None
        SingleStream's summary line: ``token_count / (mean latency (s) * samples)``.
    token_throughput_loadgen : float or None
        LoadGen's detail key ``result_token_throughput``: ``token_count / (mean latency (ns)
        * samples)``, i.e. tokens per *nanosecond* of summed latency (LoadGen divides by ns,
        not s, there; kept as LoadGen logs it so the two can be compared).
    short_samples : int
        Samples whose reported ``n_tokens`` was < 2 (LoadGen logs an error and records 0).
    """

    token_count: int
    first_token: LatencyStats | None = None
    time_per_output_token: LatencyStats | None = None
    early_stopping: TokenEarlyStoppingResult | None = None
    ttft_constraint_met: bool | None = None
    tpot_constraint_met: bool | None = None
    tokens_per_second: float | None = None
    completed_tokens_per_second: float | None = None
    tps_with_loadgen_overhead: float | None = None
    tps_without_loadgen_overhead: float | None = None
    token_throughput_loadgen: float | None = None
    short_samples: int = 0

    @property
    def perf_recommendations(self) -> tuple[str, ...]:
        out = []
        if self.ttft_constraint_met is False:
            out.append(_TTFT_RECOMMENDATION)
        if self.tpot_constraint_met is False:
            out.append(_TPOT_RECOMMENDATION)
        return tuple(out)


@dataclass(frozen=True)
class Summary:
    """LoadGen's performance summary of one run.

    Attributes
    ----------
    scenario : Scenario
    sut_name : str
    effective : EffectiveSettings
    query_count, sample_count : int
        Queries issued and samples completed.
    result_valid : bool
        AND of the four checks below.
    perf_constraints_met : bool or None
        Server only: ``sorted(latency)[floor(n*p)] <= target_latency_ns``; for token runs
        (``tokens``) the TTFT and TPOT bounds instead.
    min_duration_met, min_queries_met, early_stopping_met : bool
    headline_value : float
        SingleStream/MultiStream: the target-percentile latency (ns); Server: completed
        samples/s; Offline: samples/s.
    latency_min_ns, latency_max_ns, latency_mean_ns : int
    latency_percentiles_ns : dict[float, int]
        At 50, 90, 95, 97, 99, 99.9 % (LoadGen's ``sorted[floor(n*p)]``).
    overlatency_count : int or None
        Server: queries above the latency bound.
    qps_with_loadgen_overhead, qps_without_loadgen_overhead : float or None
        SingleStream.
    scheduled_samples_per_second, completed_samples_per_second : float or None
        Server.
    samples_per_second : float or None
        Offline.
    inferred_tokens_per_second : float or None
        ``infer_token_latencies`` runs (LoadGen's "(inferred)" lines): Server
        ``token_latency_scaling_factor x (n - 1) / complete_ns(last query)``, Offline
        ``token_latency_scaling_factor x samples / max(latency)`` (s); None otherwise.
    early_stopping : tuple[EarlyStoppingResult, ...]
        SingleStream: (p90 result, p99 result); MultiStream: (p99,); Server: (one); Offline: ().
        Empty when ``tokens`` judges the run (LoadGen runs no request-latency early stopping
        then).
    tokens : TokenSummary or None
        LLM runs (``use_token_latencies`` and a trace with token columns): TTFT/TPOT
        statistics, their early stopping and the token throughputs; the run's validity then
        follows LoadGen's token-latency rules.
    errors, warnings : tuple[str, ...]
    """

    scenario: Scenario
    sut_name: str
    mode: str
    effective: EffectiveSettings
    query_count: int
    sample_count: int
    result_valid: bool
    perf_constraints_met: bool | None
    min_duration_met: bool
    min_queries_met: bool
    early_stopping_met: bool
    headline_value: float
    latency_min_ns: int
    latency_max_ns: int
    latency_mean_ns: int
    latency_percentiles_ns: dict[float, int]
    overlatency_count: int | None = None
    qps_with_loadgen_overhead: float | None = None
    qps_without_loadgen_overhead: float | None = None
    scheduled_samples_per_second: float | None = None
    completed_samples_per_second: float | None = None
    samples_per_second: float | None = None
    inferred_tokens_per_second: float | None = None
    early_stopping: tuple[EarlyStoppingResult, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    tokens: TokenSummary | None = None

    # ------------------------------------------------------------------ derived views
    @property
    def headline_name(self) -> str:
        rule = SCENARIO_RULES[self.scenario]
        return rule.headline.format(pct=f"{self.effective.target_latency_percentile * 100:.1f}")

    @property
    def recommendations(self) -> tuple[str, ...]:
        rule = SCENARIO_RULES[self.scenario]
        out = []
        if self.perf_constraints_met is False:
            out += self.tokens.perf_recommendations if self.tokens is not None else [_PERF_RECOMMENDATION]
        if not self.min_duration_met:
            out.append(rule.min_duration_recommendation)
        if not self.min_queries_met:
            out.append(_MIN_QUERIES_RECOMMENDATION)
        return tuple(out)

    @property
    def invalid_reasons(self) -> tuple[str, ...]:
        """Plain-language reasons the result is INVALID (empty when VALID)."""
        out = []
        tok = self.tokens
        if self.perf_constraints_met is False and tok is not None:
            pct = loadgen_label(self.effective.target_latency_percentile)
            if tok.ttft_constraint_met is False:
                out.append(
                    f"{pct} percentile TTFT {tok.first_token.target_ns} ns exceeds ttft_latency"
                    f" {self.effective.server_ttft_latency} ns"
                )
            if tok.tpot_constraint_met is False:
                out.append(
                    f"{pct} percentile TPOT {tok.time_per_output_token.target_ns} ns exceeds tpot_latency"
                    f" {self.effective.server_tpot_latency} ns"
                )
        elif self.perf_constraints_met is False:
            p = self.effective.target_latency_percentile
            pct = loadgen_label(p)
            at_p = self.extra.get("target_percentile_latency_ns")
            out.append(
                f"{pct} percentile latency {at_p} ns exceeds the bound"
                f" {self.effective.target_latency_ns} ns"
            )
        if not self.min_duration_met:
            out.append(f"min duration {self.effective.min_duration_ms} ms not met")
        if not self.min_queries_met:
            # Name whichever of the two checks failed (an Offline run has one query of many
            # samples: it fails on samples, and "1 < 1" would say nothing).
            if self.query_count < self.effective.min_query_count:
                out.append(
                    f"min query count not met ({self.query_count} < {self.effective.min_query_count})"
                )
            if self.sample_count < self.effective.min_sample_count:
                out.append(
                    f"min sample count not met ({self.sample_count} < {self.effective.min_sample_count})"
                )
        if not self.early_stopping_met and tok is not None and tok.early_stopping is not None:
            tes = tok.early_stopping
            kind, first = ("TPOT", tes.tpot[0]) if not tes.tpot[0].passed else ("TTFT", tes.ttft[0])
            more = f" (needs {first.queries_needed} more queries)" if first.queries_needed else ""
            out.append(f"{kind} early stopping not satisfied" + more)
        elif not self.early_stopping_met:
            es = self.early_stopping[0] if self.early_stopping else None
            more = f" (needs {es.queries_needed} more queries)" if es and es.queries_needed else ""
            out.append("early stopping not satisfied" + more)
        for e in self.errors:
            out.append(e)
        return tuple(out)


def loadgen_label(p: float) -> str:
    return f"{p * 100:.1f}th"


def summarize(
    trace: Trace,
    effective: EffectiveSettings,
    *,
    sut_name: str = "simbench",
    errors: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
    timeline=None,
) -> Summary:
    """Compute LoadGen's summary of a run from its Trace.

    Parameters
    ----------
    trace : Trace
        Query-major rows; at least one query.
    effective : EffectiveSettings
        The settings the run used (``resolve``).
    sut_name : str
    errors, warnings : tuple of str
        Run-time errors/warnings (e.g. "Ran out of generated queries ...", a failed SUT);
        any error makes the result INVALID, as it does for a submission.
    timeline : simbench.timeline.DeviceTimeline, optional
        The device timeline (simulated DVFS devices, or measured power of a real run); adds
        ``extra['device_power']`` (``device_power_stats``).

    Returns
    -------
    Summary

    An empty trace (a run whose SUT completed nothing) gives an INVALID summary with 0
    queries, zero latencies, no early-stopping result, and the run's ``errors`` plus
    "no samples completed".

    Notes
    -----
    With ``n`` queries, sample latency ``L_i = complete_ns_i - issue_ns_i`` and query
    latency ``Q_j = max_{i in j} complete_ns_i - issue_ns_j`` (LoadGen ``results.cc``):

    * percentiles: ``sorted(L)[floor(n*p)]`` (MultiStream: over ``Q``);
    * SingleStream QPS w/ loadgen overhead ``= (n-1) / issue_ns_last``; w/o ``= 1/mean(L)``;
    * Server completed samples/s ``= (n-1) / complete_ns(last query)``, scheduled samples/s
      ``= (n-1) / issue_ns_last``; overlatency ``t = #{L_i > target_latency_ns}``;
    * Offline samples/s ``= samples / max(L)``;
    * min duration: SingleStream/MultiStream ``issue_ns_last >= min_duration``; Server
      ``issue_ns_last`` (scheduled) ``>= min_duration``; Offline ``max(L) >= min_duration``;
    * min queries: ``n >= min_query_count`` and ``samples >= min_sample_count``.
    """
    if len(trace) == 0:
        return _empty_summary(effective, sut_name, errors, warnings)
    eff = effective
    scen = eff.scenario
    rule = SCENARIO_RULES[scen]
    bounds = trace.query_bounds()
    n_queries = int(bounds.shape[0])
    n_samples = len(trace)
    lat = trace.query_latencies_ns() if rule.per_query_latency else trace.sample_latencies_ns()
    # One selection pass for the reported percentiles and the target one.
    selected = loadgen_percentiles(lat, REPORTED_PERCENTILES + (eff.target_latency_percentile,))
    pcts, target_pct_latency = selected[:-1], int(selected[-1])
    lat_min = int(lat.min())
    lat_max = int(lat.max())
    lat_mean = int(np.sum(lat, dtype=np.float64) / lat.shape[0])  # LoadGen truncates to int64
    last_issue_ns = int(trace.issue_ns[bounds[-1]])
    min_duration_ns = eff.min_duration_ms * 1_000_000
    kwargs: dict[str, Any] = {}
    perf_ok: bool | None = None
    es_results: tuple[EarlyStoppingResult, ...] = ()
    es_ok = True
    match scen:
        case Scenario.SingleStream:
            headline = float(target_pct_latency)
            # LoadGen divides by the last query's *issued* time (harness lag included) and
            # uses the mean latency truncated to whole ns.
            last_issued_ns = last_issue_ns
            if trace.issued_ns is not None and "issued_ns" not in trace.masks:
                last_issued_ns = int(trace.issued_ns[bounds[-1]])
            kwargs["qps_with_loadgen_overhead"] = (
                (n_queries - 1) / (last_issued_ns / 1e9) if last_issued_ns > 0 else 0.0
            )
            kwargs["qps_without_loadgen_overhead"] = 1e9 / max(lat_mean, 1)
            # LoadGen returns before its 99th-percentile estimate when the target percentile's
            # check fails (results.cc, PerformanceSummary::EarlyStopping): no p99 lines then.
            es_results = single_stream_early_stopping(lat, eff.target_latency_percentile)
            es_ok = es_results[0].passed
            min_dur_ok = last_issue_ns >= min_duration_ns
        case Scenario.MultiStream:
            headline = float(target_pct_latency)
            es = latency_early_stopping(lat, eff.target_latency_percentile)
            es_results = (es,)
            es_ok = es.passed
            min_dur_ok = last_issue_ns >= min_duration_ns
        case Scenario.Server:
            last_complete = int(trace.complete_ns[bounds[-1]:].max())
            completed = (n_queries - 1) / (last_complete / 1e9) if last_complete > 0 else 0.0
            scheduled = (n_queries - 1) / (last_issue_ns / 1e9) if last_issue_ns > 0 else 0.0
            headline = completed
            kwargs["completed_samples_per_second"] = completed
            kwargs["scheduled_samples_per_second"] = scheduled
            over = int(np.count_nonzero(lat > eff.target_latency_ns))
            kwargs["overlatency_count"] = over
            perf_ok = bool(target_pct_latency <= eff.target_latency_ns)
            es = server_early_stopping(n_queries, over, eff.target_latency_percentile)
            es_results = (es,)
            es_ok = es.passed
            min_dur_ok = last_issue_ns >= min_duration_ns
        case Scenario.Offline:
            sps = n_samples / (lat_max / 1e9) if lat_max > 0 else math.inf
            headline = sps
            kwargs["samples_per_second"] = sps
            min_dur_ok = lat_max >= min_duration_ns
    min_q_ok = n_queries >= eff.min_query_count and n_samples >= eff.min_sample_count
    if eff.infer_token_latencies:
        # results.cc LogSummary/LogDetail: tokens inferred as scaling_factor x samples (no
        # token data needed); Server counts [begin, end) as for its sample rate.
        factor = eff.token_latency_scaling_factor
        if scen is Scenario.Server:
            kwargs["inferred_tokens_per_second"] = factor * (n_queries - 1) / (last_complete / 1e9) if last_complete > 0 else 0.0
        elif scen is Scenario.Offline:
            kwargs["inferred_tokens_per_second"] = factor * n_samples / (lat_max / 1e9) if lat_max > 0 else math.inf
    tokens, token_warnings = _token_summary(trace, eff, bounds, lat if rule.per_query_latency else None)
    if tokens is not None:
        # LoadGen >= 4.0 judges an LLM run by TTFT and TPOT instead of request latency
        # (results.cc: EarlyStopping on TPOT && TTFT; PerfConstraintsMet on both bounds).
        es_results = ()
        es_ok = tokens.early_stopping.passed if tokens.early_stopping is not None else True
        if scen is Scenario.Server:
            perf_ok = bool(tokens.ttft_constraint_met and tokens.tpot_constraint_met)
    warnings = tuple(warnings) + token_warnings
    valid = bool(min_dur_ok and min_q_ok and es_ok and perf_ok is not False and not errors)
    return Summary(
        scenario=scen,
        sut_name=sut_name,
        mode=eff.mode.name,
        effective=eff,
        query_count=n_queries,
        sample_count=n_samples,
        result_valid=valid,
        perf_constraints_met=perf_ok,
        min_duration_met=bool(min_dur_ok),
        min_queries_met=bool(min_q_ok),
        early_stopping_met=bool(es_ok),
        headline_value=headline,
        latency_min_ns=lat_min,
        latency_max_ns=lat_max,
        latency_mean_ns=lat_mean,
        latency_percentiles_ns={p: int(v) for p, v in zip(REPORTED_PERCENTILES, pcts)},
        early_stopping=es_results,
        tokens=tokens,
        errors=tuple(errors),
        warnings=tuple(warnings),
        extra={
            "target_percentile_latency_ns": int(target_pct_latency),
            "run_end_ns": int(trace.complete_ns.max()),
            **_statistics(scen, lat, eff.target_latency_percentile, target_pct_latency, n_queries, n_samples).as_fields(),
            **_issue_lag(trace),
            **({"device_power": device_power_stats(timeline, len(trace))} if timeline is not None and len(timeline) else {}),
        },
        **kwargs,
    )


def device_power_stats(timeline, sample_count: int) -> dict[str, Any]:
    """Average device power, energy per sample, peak temperature and time throttled.

    Parameters
    ----------
    timeline : simbench.timeline.DeviceTimeline
        Rows per device; ``power_w`` is the mean power since the device's previous row.
    sample_count : int
        Completed samples of the run.

    Returns
    -------
    dict
        ``energy_j`` = sum over devices and rows of ``power_w * dt`` (J);
        ``avg_device_power_w`` = ``energy_j / (devices * run time)``, run time = the last row's
        ``t_ns``; ``energy_per_sample_j`` = ``energy_j / sample_count``;
        ``peak_temperature_c`` = max of ``temperature_c`` (None when not modelled);
        ``time_throttled_s`` = time with a throttle reason in force, summed over devices;
        ``throttled_fraction`` = that over ``devices * run time``; ``how`` says so in words.
    """
    devices = int(np.unique(timeline.device_id).shape[0])
    end_ns = int(timeline.t_ns.max())
    energy = float(timeline.energy_j())
    temps = timeline.temperature_c[~np.isnan(timeline.temperature_c)]
    thr_ns = int(timeline.throttled_ns())
    span = devices * end_ns
    return {
        "devices": devices,
        "energy_j": energy,
        "avg_device_power_w": energy / (span / 1e9) if span else None,
        "energy_per_sample_j": energy / sample_count if sample_count else None,
        "peak_temperature_c": float(temps.max()) if temps.size else None,
        "time_throttled_s": thr_ns / 1e9,
        "throttled_fraction": thr_ns / span if span else None,
        "measured": bool(timeline.metadata.get("kind") == "measured"),
        "how": (
            "energy = sum of power_w x dt over the device timeline (simulated: power integrated exactly"
            " between device events; measured: the sampled power); average power = energy / (devices x"
            " run time); energy per sample = energy / completed samples; peak temperature = max of the RC"
            " model's temperature at governor ticks; time throttled = time with an NVML throttle reason"
            " (SwPowerCap 0x4, HwThermalSlowdown 0x40) in force, summed over devices"
        ),
    }


NO_SAMPLES_ERROR = "no samples completed: the trace is empty"


def _empty_summary(eff: EffectiveSettings, sut_name: str, errors, warnings) -> Summary:
    """The INVALID summary of a run that completed no sample (every check fails)."""
    errs = tuple(errors) + ((NO_SAMPLES_ERROR,) if NO_SAMPLES_ERROR not in errors else ())
    per_scenario: dict[str, Any] = {
        Scenario.SingleStream: {"qps_with_loadgen_overhead": 0.0, "qps_without_loadgen_overhead": 0.0},
        Scenario.MultiStream: {},
        Scenario.Server: {"completed_samples_per_second": 0.0, "scheduled_samples_per_second": 0.0, "overlatency_count": 0},
        Scenario.Offline: {"samples_per_second": 0.0},
    }[eff.scenario]
    return Summary(
        scenario=eff.scenario,
        sut_name=sut_name,
        mode=eff.mode.name,
        effective=eff,
        query_count=0,
        sample_count=0,
        result_valid=False,
        perf_constraints_met=None,
        min_duration_met=False,
        min_queries_met=False,
        early_stopping_met=False,
        headline_value=0.0,
        latency_min_ns=0,
        latency_max_ns=0,
        latency_mean_ns=0,
        latency_percentiles_ns={p: 0 for p in REPORTED_PERCENTILES},
        early_stopping=(),
        errors=errs,
        warnings=tuple(warnings),
        extra={"target_percentile_latency_ns": 0, "run_end_ns": 0,
               **not_analysed(eff.target_latency_percentile, 0, "no sample completed").as_fields()},
        **per_scenario,
    )


def _statistics(scenario: Scenario, lat: np.ndarray, p: float, threshold_ns: int, queries: int,
                samples: int) -> RunStatistics:
    """τ, the corrected count and the procedure's warnings at the target percentile
    (``simbench.stats.run_statistics``); Offline states why there is nothing to analyse."""
    if scenario is Scenario.Offline:
        return not_analysed(p, queries, f"Offline issues one query of {samples:,} samples at once: "
                            "no series of query latencies to analyse")
    return run_statistics(lat, p, threshold_ns=threshold_ns)


def _issue_lag(trace: Trace) -> dict[str, Any]:
    """Harness issue lag ``issued_ns - issue_ns`` per query (real runs only), at LoadGen's
    reported percentiles; empty when the trace has no ``issued_ns``."""
    if trace.issued_ns is None:
        return {}
    bounds = trace.query_bounds()
    lag = trace.issued_ns[bounds] - trace.issue_ns[bounds]
    if "issued_ns" in trace.masks:
        lag = lag[trace.masks["issued_ns"][bounds]]
    if lag.size == 0:
        return {}
    values = loadgen_percentiles(lag, REPORTED_PERCENTILES)
    return {
        "issue_lag_ns": {
            "max": int(lag.max()),
            "mean": int(np.sum(lag, dtype=np.float64) / lag.size),
            **{f"{p * 100:.2f}": int(v) for p, v in zip(REPORTED_PERCENTILES, values)},
        }
    }


def _token_data_problem(trace: Trace, needs_first_token: bool) -> str | None:
    """Why the trace cannot give LoadGen's token statistics (None when it can)."""
    need = ("n_tokens", "first_token_ns") if needs_first_token else ("n_tokens",)
    for name in need:
        col = getattr(trace, name)
        if col is None:
            return f"the trace has no {name!r} column"
        if name in trace.masks:
            missing = int(np.count_nonzero(~trace.masks[name]))
            return f"{name!r} is missing for {missing:,} of {len(trace):,} samples"
    return None


def _token_summary(
    trace: Trace, eff: EffectiveSettings, bounds: np.ndarray, query_latencies_ns: np.ndarray | None
) -> tuple[TokenSummary | None, tuple[str, ...]]:
    """LoadGen's token-latency results (``results.cc`` ``ProcessTokenLatencies``, the token
    lines of ``LogSummary``/``LogDetail``), or None with a warning saying why not."""
    has_columns = trace.n_tokens is not None or trace.first_token_ns is not None
    if not eff.use_token_latencies:
        if has_columns:
            return None, (
                "the trace carries token columns but use_token_latencies is off: they are ignored,"
                " as LoadGen ignores token latencies then",
            )
        return None, ()
    scen = eff.scenario
    problem = _token_data_problem(trace, scen is not Scenario.Offline)
    if problem is not None:
        return None, (
            f"use_token_latencies is on but {problem}: this summary judges request latency, not"
            " TTFT/TPOT as LoadGen does (LoadGen logs per-sample token counts only in"
            " mlperf_log_accuracy.json: run with accuracy_log_probability = 1)",
        )
    counts = loadgen_token_counts(trace.n_tokens)
    token_count = int(counts.sum())
    short = int(np.count_nonzero(trace.n_tokens < 2))
    warnings: tuple[str, ...] = ()
    if short:
        warnings = (
            f"{short:,} samples reported fewer than 2 tokens (LoadGen: 'Number of tokens need to be"
            " greater than 1'); LoadGen records 0 tokens for them and their TPOT is -(latency - TTFT)",
        )
    n = len(trace)
    sample_lat = trace.sample_latencies_ns()
    mean_ns = int(np.sum(sample_lat, dtype=np.int64)) // n
    last = int(bounds[-1])
    last_complete_s = int(trace.complete_ns[last:].max()) / 1e9
    max_latency_s = int(sample_lat.max()) / 1e9
    if scen is Scenario.Offline:
        tps = token_count / max_latency_s if max_latency_s > 0 else float("inf")
        return TokenSummary(token_count=token_count, tokens_per_second=tps, short_samples=short), warnings
    last_issued_ns = int(trace.issue_ns[last])
    if trace.issued_ns is not None and "issued_ns" not in trace.masks:
        last_issued_ns = int(trace.issued_ns[last])
    ttft = trace.first_token_latencies_ns()
    tpot = time_per_output_token_ns(ttft, sample_lat, trace.n_tokens)
    p = eff.target_latency_percentile
    ttft_stats = loadgen_latency_stats(ttft, p)
    tpot_stats = loadgen_latency_stats(tpot, p)
    es = token_early_stopping(
        scen, ttft, tpot, p, ttft_latency_ns=eff.server_ttft_latency, tpot_latency_ns=eff.server_tpot_latency,
        query_latencies_ns=query_latencies_ns,
    )
    server = scen is Scenario.Server
    summed_ns = mean_ns * n
    return TokenSummary(
        token_count=token_count,
        first_token=ttft_stats,
        time_per_output_token=tpot_stats,
        early_stopping=es,
        ttft_constraint_met=bool(ttft_stats.target_ns <= eff.server_ttft_latency) if server else None,
        tpot_constraint_met=bool(tpot_stats.target_ns <= eff.server_tpot_latency) if server else None,
        completed_tokens_per_second=token_count / last_complete_s if last_complete_s > 0 else 0.0,
        tps_with_loadgen_overhead=token_count / (last_issued_ns / 1e9) if last_issued_ns > 0 else 0.0,
        tps_without_loadgen_overhead=token_count / (mean_ns / 1e9 * n) if mean_ns > 0 else 0.0,
        token_throughput_loadgen=float(token_count) / float(summed_ns) if summed_ns > 0 else 0.0,
        short_samples=short,
    ), warnings
