"""Scenarios, ``TestSettings`` (requested) and ``EffectiveSettings`` (resolved), conf files.

This module mirrors MLPerf LoadGen's ``test_settings.h`` / ``test_settings_internal.cc``:

* ``TestSettings`` holds what the user asked for, with LoadGen's field names, units and
  defaults (``min_duration_ms = 10000``, ``min_query_count = 100``, ...).
* ``resolve(settings, ...)`` is the one place where scenario rules turn requested settings
  into ``EffectiveSettings`` (LoadGen's ``TestSettingsInternal``, logged as ``effective_*``).
* ``read_conf`` / ``apply_conf`` read ``mlperf.conf`` / ``user.conf`` syntax with LoadGen's
  lookup order; ``official_settings`` loads the shipped per-model ``mlperf.conf``.

References
----------
mlcommons/inference ``loadgen/test_settings.h``, ``test_settings_internal.cc`` (v6.0.17),
summarised in ``shared/reference/loadgen.md`` §1-2.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from simbench.errors import ConfError, SimbenchInputError

__all__ = [
    "Scenario",
    "ScenarioRule",
    "SCENARIO_RULES",
    "TestMode",
    "TestSettings",
    "EffectiveSettings",
    "ConfEntry",
    "read_conf",
    "parse_conf",
    "apply_conf",
    "official_settings",
    "conf_model_name",
    "resolve",
    "describe_origin",
    "OFFICIAL_CONF_NAME",
    "INT64_MAX",
]

OFFICIAL_CONF_NAME = "mlperf.conf"

INT64_MAX = 2**63 - 1
"""Largest value of a LoadGen ``int64`` time (ns) or count; every ``_ns`` time, every
``_ms`` time once converted to ns, and every count must fit it."""
UINT64_MAX = 2**64 - 1
# Seeds are LoadGen ``uint64_t``; every other integer field is used as an int64.
_UINT64_FIELDS = frozenset(
    {
        "qsl_rng_seed",
        "sample_index_rng_seed",
        "schedule_rng_seed",
        "accuracy_log_rng_seed",
        "test05_qsl_rng_seed",
        "test05_sample_index_rng_seed",
        "test05_schedule_rng_seed",
    }
)


class Scenario(str, enum.Enum):
    """LoadGen's four scenarios. Each value's rule is what LoadGen implements.

    * ``SingleStream``: one sample per query; the next query is issued when the previous one
      completes. Metric: 90th-percentile latency (early-stopping estimate).
    * ``MultiStream``: ``samples_per_query`` (8) contiguous samples per query, issued on
      completion of the previous query. Metric: 99th-percentile per-query latency.
    * ``Server``: one sample per query, Poisson arrivals at ``server_target_qps``; latency is
      measured from the *scheduled* time. Metric: QPS, valid only if the 99th percentile is
      within ``server_target_latency_ns`` and early stopping passes.
    * ``Offline``: one query holding every sample, issued at the start. Metric: samples/s.
    """

    SingleStream = "SingleStream"
    MultiStream = "MultiStream"
    Server = "Server"
    Offline = "Offline"

    @classmethod
    def parse(cls, text: str) -> "Scenario":
        """Case-insensitive lookup (``'server'``, ``'single-stream'`` ...); ValueError if unknown."""
        key = re.sub(r"[^a-z]", "", str(text).lower())
        for s in cls:
            if s.value.lower() == key:
                return s
        raise SimbenchInputError(
            f"scenario: unknown value {text!r}; expected one of "
            + ", ".join(s.value for s in cls)
        )


@dataclass(frozen=True)
class ScenarioRule:
    """What one scenario reports and checks (one row of LoadGen's scattered switches)."""

    headline: str  # how the headline metric is named in the summary
    per_query_latency: bool  # MultiStream: latency statistics are per query
    early_stopping: str  # 'latency' (SS/MS estimate), 'server' (over-bound count), 'none'
    perf_constraint: bool  # Server: the p-th percentile must be within the bound
    min_duration_recommendation: str
    min_duration_basis: str  # what min duration is measured on (docs)
    issue: str = "scheduled"  # 'closed_loop' (next query on completion), 'scheduled' (Server times), 'single_query' (Offline)

    @property
    def closed_loop(self) -> bool:
        """True when LoadGen issues the next query on completion of the previous one."""
        return self.issue == "closed_loop"


SCENARIO_RULES: dict[Scenario, ScenarioRule] = {
    Scenario.SingleStream: ScenarioRule(
        headline="{pct}th percentile latency (ns)",
        per_query_latency=False,
        early_stopping="latency",
        perf_constraint=False,
        min_duration_recommendation=" * Decrease the expected latency so the loadgen pre-generates more queries.",
        min_duration_basis="issue time of the last query",
        issue="closed_loop",
    ),
    Scenario.MultiStream: ScenarioRule(
        headline="{pct}th percentile latency (ns)",
        per_query_latency=True,
        early_stopping="latency",
        perf_constraint=False,
        min_duration_recommendation=" * MultiStream should always meet the minimum duration. Please file a bug.",
        min_duration_basis="issue time of the last query",
        issue="closed_loop",
    ),
    Scenario.Server: ScenarioRule(
        headline="Completed samples per second",
        per_query_latency=False,
        early_stopping="server",
        perf_constraint=True,
        min_duration_recommendation=" * Increase the target QPS so the loadgen pre-generates more queries.",
        min_duration_basis="scheduled time of the last query",
    ),
    Scenario.Offline: ScenarioRule(
        headline="Samples per second",
        per_query_latency=False,
        early_stopping="none",
        perf_constraint=False,
        min_duration_recommendation=" * Increase expected QPS so the loadgen pre-generates a larger (coalesced) query.",
        min_duration_basis="latest sample completion",
        issue="single_query",
    ),
}


class TestMode(int, enum.Enum):
    """LoadGen's test modes (``mode`` key of mlperf.conf).

    * ``SubmissionRun`` (0): accuracy run, then performance run.
    * ``AccuracyOnly`` (1): every sample once, responses logged.
    * ``PerformanceOnly`` (2, default): timed run on the performance sample set.
    * ``FindPeakPerformance`` (3): Server only; search the highest ``server_target_qps`` whose
      run meets the latency constraint (not early stopping).
    """

    __test__ = False  # not a pytest class

    SubmissionRun = 0
    AccuracyOnly = 1
    PerformanceOnly = 2
    FindPeakPerformance = 3


def _check_int_range(name: str, value: int) -> None:
    """ValueError naming ``name`` when an integer setting does not fit LoadGen's C++ type.

    ``_ms`` fields are used as ns (``value * 1e6``, ``std::chrono::milliseconds`` cast to
    nanoseconds in LoadGen), so they must fit int64 *after* the conversion; seeds are uint64;
    every other integer (``_ns`` times, counts) is int64.
    """
    if name in _UINT64_FIELDS:
        if value > UINT64_MAX:
            raise SimbenchInputError(f"{name}: expected a 64-bit unsigned seed (at most {UINT64_MAX}), got {value}")
        return
    if name.endswith("_ms"):
        limit = INT64_MAX // 1_000_000
        if value > limit:
            raise SimbenchInputError(
                f"{name}: {value} ms does not fit int64 once converted to ns (at most {limit:,} ms,"
                f" {limit / 86_400_000 / 365.25:,.0f} years)"
            )
        return
    if value > INT64_MAX:
        unit = " ns" if name.endswith("_ns") or name in ("server_ttft_latency", "server_tpot_latency") else ""
        raise SimbenchInputError(f"{name}: {value}{unit} does not fit int64 (at most {INT64_MAX:,}{unit})")


@dataclass(frozen=True)
class TestSettings:
    """Requested settings, LoadGen's ``TestSettings`` field for field (names, units, defaults).

    Construct directly, or start from ``official_settings(model, scenario)`` and override
    with ``dataclasses.replace``. Validated at construction.

    Raises
    ------
    ValueError
        A field outside its valid range; the message names the field.
    """

    __test__ = False  # not a pytest class

    scenario: Scenario = Scenario.SingleStream
    mode: TestMode = TestMode.PerformanceOnly
    single_stream_expected_latency_ns: int = 1_000_000
    single_stream_target_latency_percentile: float = 0.90
    multi_stream_expected_latency_ns: int = 8_000_000
    multi_stream_target_latency_percentile: float = 0.99
    multi_stream_samples_per_query: int = 8
    server_target_qps: float = 1.0
    server_target_latency_ns: int = 100_000_000
    server_target_latency_percentile: float = 0.99
    server_coalesce_queries: bool = False
    server_find_peak_qps_decimals_of_precision: int = 1
    server_find_peak_qps_boundary_step_size: float = 1.0
    server_max_async_queries: int = 0
    server_num_issue_query_threads: int = 0
    offline_expected_qps: float = 1.0
    sample_concatenate_permutation: bool = False
    min_duration_ms: int = 10_000
    max_duration_ms: int = 0
    min_query_count: int = 100
    max_query_count: int = 0
    qsl_rng_seed: int = 0
    sample_index_rng_seed: int = 0
    schedule_rng_seed: int = 0
    accuracy_log_rng_seed: int = 0
    accuracy_log_probability: float = 0.0
    accuracy_log_sampling_target: int = 0
    print_timestamps: bool = False
    performance_issue_unique: bool = False
    performance_issue_same: bool = False
    performance_issue_same_index: int = 0
    performance_sample_count_override: int = 0
    accuracy_sample_count_override: int = 0
    use_token_latencies: bool = False
    server_ttft_latency: int = 100_000_000
    server_tpot_latency: int = 100_000_000
    infer_token_latencies: bool = False
    token_latency_scaling_factor: int = 0
    test05: bool = False
    test05_qsl_rng_seed: int = 0
    test05_sample_index_rng_seed: int = 0
    test05_schedule_rng_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.scenario, Scenario):
            object.__setattr__(self, "scenario", Scenario.parse(self.scenario))
        if not isinstance(self.mode, TestMode):
            try:
                object.__setattr__(self, "mode", TestMode(int(self.mode)))
            except ValueError:
                raise SimbenchInputError(f"mode: expected 0..3, got {self.mode!r}") from None
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("int", int) and not isinstance(v, bool):
                if not isinstance(v, int) or v < 0:
                    raise SimbenchInputError(f"{f.name}: expected an integer >= 0, got {v!r}")
                _check_int_range(f.name, v)
            if f.type in ("float", float):
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                    raise SimbenchInputError(f"{f.name}: expected a finite number, got {v!r}")
        for name in (
            "single_stream_target_latency_percentile",
            "multi_stream_target_latency_percentile",
            "server_target_latency_percentile",
        ):
            p = getattr(self, name)
            if not 0.0 < p < 1.0:
                raise SimbenchInputError(f"{name}: expected a fraction in (0, 1), got {p!r}")
        for name in ("single_stream_expected_latency_ns", "multi_stream_expected_latency_ns"):
            if getattr(self, name) <= 0:
                raise SimbenchInputError(f"{name}: expected > 0 ns, got {getattr(self, name)!r}")
        for name in ("server_target_qps", "offline_expected_qps"):
            if getattr(self, name) <= 0:
                raise SimbenchInputError(f"{name}: expected > 0 queries/s, got {getattr(self, name)!r}")
        if self.multi_stream_samples_per_query < 1:
            raise SimbenchInputError("multi_stream_samples_per_query: expected >= 1")
        if not 0.0 <= self.accuracy_log_probability <= 1.0:
            raise SimbenchInputError("accuracy_log_probability: expected a fraction in [0, 1]")
        if self.server_find_peak_qps_boundary_step_size <= 0:
            raise SimbenchInputError("server_find_peak_qps_boundary_step_size: expected > 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (enums as their names), for trace metadata and logs."""
        d = dataclasses.asdict(self)
        d["scenario"] = self.scenario.value
        d["mode"] = self.mode.name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TestSettings":
        """Inverse of ``to_dict``; unknown keys raise ValueError naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise SimbenchInputError(f"unknown TestSettings fields: {sorted(unknown)}")
        d = dict(d)
        if "mode" in d and isinstance(d["mode"], str):
            d["mode"] = TestMode[d["mode"]]
        return cls(**d)


@dataclass(frozen=True)
class EffectiveSettings:
    """What LoadGen actually runs with (``TestSettingsInternal``; the ``effective_*`` log keys).

    Produced only by ``resolve``. Times in ns or ms as named; ``target_qps`` in queries/s.
    """

    scenario: Scenario
    mode: TestMode
    samples_per_query: int
    target_qps: float
    target_latency_ns: int
    target_latency_percentile: float
    max_async_queries: int
    target_duration_ms: int
    min_duration_ms: int
    max_duration_ms: int
    min_query_count: int
    max_query_count: int
    min_sample_count: int
    qsl_rng_seed: int
    sample_index_rng_seed: int
    schedule_rng_seed: int
    accuracy_log_rng_seed: int
    accuracy_log_probability: float
    accuracy_log_sampling_target: int
    print_timestamps: bool
    performance_issue_unique: bool
    performance_issue_same: bool
    performance_issue_same_index: int
    performance_sample_count: int
    accuracy_sample_count: int
    sample_concatenate_permutation: bool
    server_coalesce_queries: bool = False
    server_find_peak_qps_decimals_of_precision: int = 1
    server_find_peak_qps_boundary_step_size: float = 1.0
    # LLM token latencies (LoadGen >= 4.0; TestSettingsInternal copies them from the request
    # unchanged and logs them as requested_* keys). ``server_ttft_latency`` and
    # ``server_tpot_latency`` are ns bounds on the target-percentile TTFT and TPOT; LoadGen
    # reads them from the ``Server`` conf keys whatever the scenario. Defaults keep traces
    # written before these fields existed readable.
    use_token_latencies: bool = False
    server_ttft_latency: int = 100_000_000
    server_tpot_latency: int = 100_000_000
    infer_token_latencies: bool = False
    token_latency_scaling_factor: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scenario"] = self.scenario.value
        d["mode"] = self.mode.name
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "EffectiveSettings":
        """Inverse of ``to_dict``, validated (it reads metadata written by any tool).

        Raises
        ------
        ValueError
            Not a mapping; missing or unknown keys (all named); a value of the wrong type
            or range (named with the key).
        """
        if not isinstance(d, dict):
            raise SimbenchInputError(f"expected a JSON object, got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        required = {n for n, f in fields.items() if f.default is dataclasses.MISSING}
        missing = sorted(required - set(d))
        unknown = sorted(set(d) - set(fields))
        if missing or unknown:
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(missing))
            if unknown:
                parts.append("unknown keys " + ", ".join(map(str, unknown)))
            raise SimbenchInputError("; ".join(parts))
        out: dict[str, Any] = {}
        for name, value in d.items():
            ftype = fields[name].type
            if name == "scenario":
                if isinstance(value, Scenario):
                    out[name] = value
                    continue
                out[name] = Scenario.parse(value) if isinstance(value, str) else None
                if out[name] is None:
                    raise SimbenchInputError(f"key scenario: expected a scenario name, got {value!r}")
            elif name == "mode":
                try:
                    out[name] = TestMode[value] if isinstance(value, str) else TestMode(value)
                except (KeyError, ValueError, TypeError):
                    raise SimbenchInputError(f"key mode: expected a TestMode name or 0..3, got {value!r}") from None
            elif ftype in ("bool", bool):
                if not isinstance(value, bool):
                    raise SimbenchInputError(f"key {name}: expected true/false, got {value!r}")
                out[name] = value
            elif ftype in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise SimbenchInputError(f"key {name}: expected an integer >= 0, got {value!r}")
                try:
                    _check_int_range(name, value)
                except ValueError as exc:
                    raise SimbenchInputError(f"key {exc}") from None
                out[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise SimbenchInputError(f"key {name}: expected a finite number, got {value!r}")
                out[name] = float(value)
        if out["samples_per_query"] < 1:
            raise SimbenchInputError(f"key samples_per_query: expected >= 1, got {out['samples_per_query']}")
        if not 0.0 < out["target_latency_percentile"] < 1.0:
            raise SimbenchInputError(f"key target_latency_percentile: expected a fraction in (0, 1), got {out['target_latency_percentile']}")
        return cls(**out)


def resolve(
    settings: TestSettings,
    qsl_total_count: int,
    qsl_performance_count: int,
) -> EffectiveSettings:
    """Turn requested ``TestSettings`` into ``EffectiveSettings`` by LoadGen's scenario rules.

    Parameters
    ----------
    settings : TestSettings
        The requested settings.
    qsl_total_count : int
        Samples in the whole data set (>= 1); the default ``accuracy_sample_count``.
    qsl_performance_count : int
        Samples the QSL can hold for the performance run (>= 1); used unless
        ``performance_sample_count_override`` is non-zero.

    Returns
    -------
    EffectiveSettings

    Raises
    ------
    ValueError
        If a QSL count is < 1, naming it.

    Notes
    -----
    From ``test_settings_internal.cc``:

    ============  ======================  =================  ========================
    scenario      target_qps              max_async_queries  target_latency_ns
    ============  ======================  =================  ========================
    SingleStream  1e9 / expected_latency  1                  0
    MultiStream   1e9 / expected_latency  1                  0
    Server        server_target_qps       server_max_async   server_target_latency_ns
    Offline       offline_expected_qps    1                  0
    ============  ======================  =================  ========================

    ``target_duration = min_duration`` except Offline (0). Offline's one query holds
    ``max(min_query_count, floor(1.1 * min_duration_s * offline_expected_qps))`` samples
    (``performance_sample_count`` under ``performance_issue_unique``), after which
    ``min_query_count = 1``. ``min_sample_count = min_query_count * samples_per_query``.
    Equal-issue SingleStream (``sample_concatenate_permutation``) raises ``min_query_count`` to
    at least ``floor(2 * min_duration_s * target_qps)`` and then by
    ``qsl_performance_count - min_query_count % qsl_performance_count``.
    """
    if qsl_total_count < 1:
        raise SimbenchInputError(f"qsl_total_count: expected >= 1, got {qsl_total_count}")
    if qsl_performance_count < 1:
        raise SimbenchInputError(f"qsl_performance_count: expected >= 1, got {qsl_performance_count}")
    s = settings
    perf_count = s.performance_sample_count_override or min(qsl_performance_count, qsl_total_count)
    acc_count = s.accuracy_sample_count_override or qsl_total_count
    min_query_count = s.min_query_count
    target_duration_ms = s.min_duration_ms
    target_latency_ns = 0
    max_async = 1
    match s.scenario:
        case Scenario.SingleStream:
            spq = 1
            target_qps = 1e9 / s.single_stream_expected_latency_ns
            pct = s.single_stream_target_latency_percentile
        case Scenario.MultiStream:
            spq = s.multi_stream_samples_per_query
            target_qps = 1e9 / s.multi_stream_expected_latency_ns
            pct = s.multi_stream_target_latency_percentile
        case Scenario.Server:
            spq = 1
            target_qps = s.server_target_qps
            target_latency_ns = s.server_target_latency_ns
            pct = s.server_target_latency_percentile
            max_async = s.server_max_async_queries
        case Scenario.Offline:
            target_qps = s.offline_expected_qps
            pct = 0.99  # unused in Offline; LoadGen sets 0.99 so the log has no garbage value
            if s.performance_issue_unique:
                spq = perf_count
            else:
                spq = max(min_query_count, int(1.1 * (s.min_duration_ms / 1000.0) * target_qps))
            if s.sample_concatenate_permutation and spq % perf_count:
                spq += perf_count - spq % perf_count
            min_query_count = 1
            target_duration_ms = 0
    if s.sample_concatenate_permutation and s.scenario is Scenario.SingleStream:
        # LoadGen's equal-issue SingleStream (3D-UNet): at least 2 x min_duration x target_qps
        # queries, then padded past the next multiple of the QSL's performance sample count
        # (a full count is added when already a multiple), as test_settings_internal.cc does.
        min_query_count = max(min_query_count, int(2.0 * (s.min_duration_ms / 1000.0) * target_qps))
        min_query_count += qsl_performance_count - min_query_count % qsl_performance_count
    return EffectiveSettings(
        scenario=s.scenario,
        mode=s.mode,
        samples_per_query=spq,
        target_qps=target_qps,
        target_latency_ns=target_latency_ns,
        target_latency_percentile=pct,
        max_async_queries=max_async,
        target_duration_ms=target_duration_ms,
        min_duration_ms=s.min_duration_ms,
        max_duration_ms=s.max_duration_ms,
        min_query_count=min_query_count,
        max_query_count=s.max_query_count,
        min_sample_count=min_query_count * spq,
        qsl_rng_seed=s.qsl_rng_seed,
        sample_index_rng_seed=s.sample_index_rng_seed,
        schedule_rng_seed=s.schedule_rng_seed,
        accuracy_log_rng_seed=s.accuracy_log_rng_seed,
        accuracy_log_probability=s.accuracy_log_probability,
        accuracy_log_sampling_target=s.accuracy_log_sampling_target,
        print_timestamps=s.print_timestamps,
        performance_issue_unique=s.performance_issue_unique,
        performance_issue_same=s.performance_issue_same,
        performance_issue_same_index=s.performance_issue_same_index,
        performance_sample_count=perf_count,
        accuracy_sample_count=acc_count,
        sample_concatenate_permutation=s.sample_concatenate_permutation,
        server_coalesce_queries=s.server_coalesce_queries,
        server_find_peak_qps_decimals_of_precision=s.server_find_peak_qps_decimals_of_precision,
        server_find_peak_qps_boundary_step_size=s.server_find_peak_qps_boundary_step_size,
        use_token_latencies=s.use_token_latencies,
        server_ttft_latency=s.server_ttft_latency,
        server_tpot_latency=s.server_tpot_latency,
        infer_token_latencies=s.infer_token_latencies,
        token_latency_scaling_factor=s.token_latency_scaling_factor,
    )


# ---------------------------------------------------------------------------------------
# mlperf.conf / user.conf
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfEntry:
    """One ``model.scenario.key = value`` line of a conf file."""

    model: str
    scenario: str
    key: str
    value: str
    origin: str
    line_no: int


# How each conf key maps onto TestSettings, per scenario ("*" = every scenario).
# kind: "u" = unsigned integer (C strtoull: a fraction is truncated), "d" = double,
# "b" = boolean (integer != 0), "ms2ns" = integer ms -> ns, "dms2ns" = double ms -> ns,
# "pct" = percent -> fraction. Source: TestSettings::FromConfig, test_settings_internal.cc.
_CONF_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "mode": {"*": ("mode", "u")},
    "target_qps": {
        "Server": ("server_target_qps", "d"),
        "Offline": ("offline_expected_qps", "d"),
    },
    "target_latency": {
        "SingleStream": ("single_stream_expected_latency_ns", "dms2ns"),
        "MultiStream": ("multi_stream_expected_latency_ns", "dms2ns"),
        "Server": ("server_target_latency_ns", "ms2ns"),
    },
    "target_latency_percentile": {
        "SingleStream": ("single_stream_target_latency_percentile", "pct"),
        "MultiStream": ("multi_stream_target_latency_percentile", "pct"),
        "Server": ("server_target_latency_percentile", "pct"),
    },
    "samples_per_query": {"MultiStream": ("multi_stream_samples_per_query", "u")},
    "coalesce_queries": {"Server": ("server_coalesce_queries", "b")},
    "max_async_queries": {"Server": ("server_max_async_queries", "u")},
    "min_duration": {"*": ("min_duration_ms", "u")},
    "max_duration": {"*": ("max_duration_ms", "u")},
    "min_query_count": {"*": ("min_query_count", "u")},
    "max_query_count": {"*": ("max_query_count", "u")},
    "performance_sample_count_override": {"*": ("performance_sample_count_override", "u")},
    "accuracy_sample_count_override": {"*": ("accuracy_sample_count_override", "u")},
    "sample_concatenate_permutation": {"*": ("sample_concatenate_permutation", "b")},
    "performance_issue_unique": {"*": ("performance_issue_unique", "b")},
    "performance_issue_same": {"*": ("performance_issue_same", "b")},
    "performance_issue_same_index": {"*": ("performance_issue_same_index", "u")},
    "print_timestamps": {"*": ("print_timestamps", "b")},
    "use_token_latencies": {"*": ("use_token_latencies", "b")},
    "ttft_latency": {"Server": ("server_ttft_latency", "ms2ns")},
    "tpot_latency": {"Server": ("server_tpot_latency", "ms2ns")},
    "infer_token_latencies": {"*": ("infer_token_latencies", "b")},
    "token_latency_scaling_factor": {"*": ("token_latency_scaling_factor", "u")},
    "accuracy_log_rng_seed": {"*": ("accuracy_log_rng_seed", "u")},
    "accuracy_log_sampling_target": {"*": ("accuracy_log_sampling_target", "u")},
}
# Read only from the official mlperf.conf (LoadGen conf_type 0).
_OFFICIAL_ONLY_KEYS: dict[str, dict[str, tuple[str, str]]] = {
    "qsl_rng_seed": {"*": ("qsl_rng_seed", "u")},
    "sample_index_rng_seed": {"*": ("sample_index_rng_seed", "u")},
    "schedule_rng_seed": {"*": ("schedule_rng_seed", "u")},
    "accuracy_log_probability": {"*": ("accuracy_log_probability", "pct")},
    "test05": {"*": ("test05", "b")},
    "test05_qsl_rng_seed": {"*": ("test05_qsl_rng_seed", "u")},
    "test05_sample_index_rng_seed": {"*": ("test05_sample_index_rng_seed", "u")},
    "test05_schedule_rng_seed": {"*": ("test05_schedule_rng_seed", "u")},
}
# Present in LoadGen's mlperf.conf but read by no code (kept so the official file parses).
_IGNORED_KEYS = {"target_duration"}
_SCENARIO_TOKENS = {"*", "SingleStream", "MultiStream", "Server", "Offline"}
_NUMBER_RE = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+|\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$")


def parse_conf(text: str, origin: str = "<conf>") -> list[ConfEntry]:
    """Parse conf text (``model.scenario.key = value`` lines, ``#`` comments).

    Raises
    ------
    ConfError
        A line that is not ``model.scenario.key = value``, an unknown scenario or key, or a
        value that is not a number; the message names ``origin``, the line number and key.
    """
    entries: list[ConfEntry] = []
    known = set(_CONF_KEYS) | set(_OFFICIAL_ONLY_KEYS) | _IGNORED_KEYS
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{origin}:{line_no}"
        if line.count("=") != 1:
            raise ConfError(f"{where}: expected 'model.scenario.key = value', got {raw.strip()!r}")
        lhs, rhs = (part.strip() for part in line.split("="))
        parts = lhs.split(".")
        if len(parts) < 3 or any(not p for p in parts):
            raise ConfError(
                f"{where}: key {lhs!r}: expected 'model.scenario.key' (use '*' for any model or"
                " scenario)"
            )
        key = parts[-1]
        scenario = parts[-2]
        model = ".".join(parts[:-2])
        if scenario not in _SCENARIO_TOKENS:
            raise ConfError(
                f"{where}: key {lhs!r}: unknown scenario {scenario!r}; expected one of "
                + ", ".join(sorted(_SCENARIO_TOKENS))
            )
        if key not in known:
            raise ConfError(
                f"{where}: key {lhs!r}: unknown setting {key!r}; known settings: "
                + ", ".join(sorted(known))
            )
        if not rhs or len(rhs.split()) != 1 or not _NUMBER_RE.match(rhs):
            raise ConfError(f"{where}: key {lhs!r}: expected a number, got {rhs!r}")
        entries.append(ConfEntry(model, scenario, key, rhs, origin, line_no))
    return entries


def read_conf(path: str | Path) -> list[ConfEntry]:
    """Read and parse a conf file; ConfError if it is missing or malformed."""
    p = Path(path)
    try:
        # utf-8-sig: a byte-order mark (Windows Notepad writes one) is not part of line 1.
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfError(f"{p}: cannot read conf file: {exc.strerror or exc}") from None
    return parse_conf(text, str(p))


def _convert(entry: ConfEntry, field_name: str, kind: str) -> Any:
    raw = entry.value
    where = describe_origin(entry)
    exact: int | None = None
    try:
        exact = int(raw, 0)
    except ValueError:
        try:
            exact = int(raw, 10)
        except ValueError:
            exact = None
    try:
        num = float(exact) if exact is not None else float(raw)
    except OverflowError:  # an integer beyond float range (more than ~308 digits)
        num = math.inf
    if not math.isfinite(num) and (exact is None or kind not in ("u", "b", "ms2ns")):
        what = "a non-negative integer" if kind in ("u", "b", "ms2ns") else "a finite number"
        raise ConfError(f"{where}: expected {what}, got {raw!r} (it overflows a 64-bit float)")
    if kind in ("u", "b", "ms2ns") and num < 0:
        raise ConfError(f"{where}: expected a non-negative integer, got {raw!r}")
    if kind == "u":
        # strtoull truncates a fractional part; integers are kept exact (64-bit seeds).
        return exact if exact is not None else int(num)
    if kind == "b":
        return (exact if exact is not None else int(num)) != 0
    if kind == "ms2ns":
        return (exact if exact is not None else int(num)) * 1_000_000
    if kind == "dms2ns":
        if num <= 0:
            raise ConfError(f"{where}: expected a latency > 0 ms, got {raw!r}")
        return int(num * 1_000_000)
    if kind == "pct":
        return num * 0.01
    return num


def describe_origin(entry: ConfEntry) -> str:
    """``file:line: key model.scenario.key`` for an error message about a conf entry."""
    if entry.origin.startswith("--"):
        return entry.origin  # a command-line flag, applied through the conf mapping
    return f"{entry.origin}:{entry.line_no}: key {entry.model}.{entry.scenario}.{entry.key}"


def base_model_name(model: str) -> str:
    """A model name without its accuracy-target suffix (``bert-99`` -> ``bert``)."""
    return re.sub(r"-99(\.9)?$", "", model)


def conf_sets(conf: str | Path | None, model: str, key: str, scenario: str) -> bool:
    """Whether a user conf file sets ``key`` for this model and scenario (or their ``*``)."""
    if not conf:
        return False
    entries = read_conf(conf)
    name = conf_model_name(model, entries)
    return any(e.key == key and e.scenario in (scenario, "*") and e.model in (name, "*") for e in entries)


def conf_model_name(model: str, entries: list[ConfEntry]) -> str:
    """The conf file's name for ``model``: itself, or without an accuracy suffix.

    MLPerf harnesses pass e.g. ``bert`` for both ``bert-99`` and ``bert-99.9``; the same
    holds for ``3d-unet-99`` and ``dlrm-v2-99``.
    """
    names = {e.model for e in entries}
    if model in names:
        return model
    base = base_model_name(model)
    return base if base in names else model


def apply_conf(
    settings: TestSettings,
    entries: list[ConfEntry],
    model: str,
    scenario: Scenario | str,
    *,
    official: bool = False,
    origins: dict[str, ConfEntry] | None = None,
) -> TestSettings:
    """Apply conf entries for one model and scenario on top of ``settings``.

    Lookup order per key, as LoadGen's ``FromConfig``: ``model.scenario.key``,
    ``*.scenario.key``, ``model.*.key``, ``*.*.key``; the first found wins. Seeds,
    ``accuracy_log_probability`` and the test05 keys are taken only when ``official`` is
    true (LoadGen reads them only from the built-in mlperf.conf).

    ``origins``, when given, is filled with ``TestSettings`` field name -> the conf entry
    that set it (so later checks can name the file, line and key at fault).

    Returns
    -------
    TestSettings
        A new settings object with ``scenario`` set and the matching keys applied.

    Raises
    ------
    ConfError
        A value that does not fit its field (names file, line and key).
    """
    scen = scenario if isinstance(scenario, Scenario) else Scenario.parse(scenario)
    model = conf_model_name(model, entries)
    table: dict[tuple[str, str, str], ConfEntry] = {}
    for e in entries:
        table[(e.model, e.scenario, e.key)] = e  # a later line overrides an earlier one
    keymaps = dict(_CONF_KEYS)
    if official:
        keymaps.update(_OFFICIAL_ONLY_KEYS)
    updates: dict[str, Any] = {}
    origins_found: dict[str, ConfEntry] = {}
    for key, per_scenario in keymaps.items():
        target = per_scenario.get(scen.value) or per_scenario.get("*")
        if target is None:
            continue
        for m, sc in ((model, scen.value), ("*", scen.value), (model, "*"), ("*", "*")):
            e = table.get((m, sc, key))
            if e is not None:
                field_name, kind = target
                updates[field_name] = _convert(e, field_name, kind)
                origins_found[field_name] = e
                break
    updates["scenario"] = scen
    if "mode" in updates:
        try:
            updates["mode"] = TestMode(updates["mode"])
        except ValueError:
            e = origins_found["mode"]
            raise ConfError(f"{describe_origin(e)}: expected 0..3, got {e.value!r}") from None
    try:
        result = dataclasses.replace(settings, **updates)
    except ValueError as exc:
        field_name = str(exc).split(":", 1)[0]
        e = origins_found.get(field_name)
        if e is None:
            raise
        raise ConfError(f"{describe_origin(e)}: {exc}") from None
    if origins is not None:
        origins.update(origins_found)
    return result


def official_conf_entries() -> list[ConfEntry]:
    """The shipped ``mlperf.conf`` (LoadGen v6.x per-model values), parsed."""
    text = resources.files("simbench.data").joinpath(OFFICIAL_CONF_NAME).read_text()
    return parse_conf(text, f"simbench/data/{OFFICIAL_CONF_NAME}")


def official_settings(
    model: str,
    scenario: Scenario | str,
    *,
    user_conf: str | Path | None = None,
) -> TestSettings:
    """LoadGen defaults + the shipped official ``mlperf.conf`` (+ a ``user.conf``) for a model.

    Mirrors ``TestSettings.FromConfig(user_conf, model, scenario)`` in LoadGen >= 5.0, which
    loads the built-in mlperf.conf first and the user file over it.

    Examples
    --------
    >>> s = official_settings("resnet50", "Server")
    >>> s.server_target_latency_ns, s.min_duration_ms, s.server_target_latency_percentile
    (15000000, 600000, 0.99)
    """
    settings = apply_conf(TestSettings(), official_conf_entries(), model, scenario, official=True)
    if user_conf is not None:
        settings = apply_conf(settings, read_conf(user_conf), model, scenario)
    return settings


def settings_field_names() -> list[str]:
    """All ``TestSettings`` field names (for validating ``--set``-style overrides)."""
    return [f.name for f in dataclasses.fields(TestSettings)]


