"""The ``HardwareProfile`` schema: one validated model for every shipped or user device.

A profile is a YAML file. Every number in it carries its provenance (``source``), and
validation happens once, at load; errors name the file and the field path.

Layout (see ``docs/profiles.md`` for the full reference)::

    schema_version: 1
    name: a100
    device: A100-SXM4-80GB
    specs:                      # datasheet facts, each {value, unit, source}
      memory_bandwidth_gbps: {value: 2039, unit: GB/s, source: "..."}
    models:
      resnet50:
        latency:                # latency(batch) of one device, ns
          kind: table
          points:
            - {batch: 1, latency_ns: 453428, source: "..."}
        noise:                  # multiplicative service-time noise
          kind: quantiles
          points: [[0.0, 0.983], [0.5, 1.0], [1.0, 1.05]]
          source: "..."
        scenarios:              # the submitter's harness settings per scenario
          Server:
            batching: {kind: dynamic, max_batch: 128, timeout_us: 4000}
            settings: {server_target_qps: 30000}
            source: "..."
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simbench.batching import BatchingPolicy, DynamicBatching, NoBatching
from simbench.profiles.device import ComputeShare, DvfsModel, StreamSharing

__all__ = [
    "Sourced",
    "LatencyPoint",
    "TableLatencyModel",
    "NoNoise",
    "LognormalNoise",
    "QuantileNoise",
    "ExponentialNoise",
    "NoBatching",
    "DynamicBatching",
    "ScenarioHarness",
    "CalibrationTarget",
    "ModelProfile",
    "KernelMeasurement",
    "Roofline",
    "HardwareProfile",
    "SCENARIO_NAMES",
]

SCENARIO_NAMES = ("SingleStream", "MultiStream", "Server", "Offline")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Sourced(_Strict):
    """A number with its unit and the source it was taken from."""

    value: float
    unit: str = ""
    source: str = Field(min_length=1)
    note: str | None = None


class LatencyPoint(_Strict):
    """Median service time of one batch of ``batch`` samples on one device, in ns."""

    batch: int = Field(ge=1, le=10_000_000)
    latency_ns: float = Field(gt=0, le=1e15, description="at most 1e15 ns (11.6 days)")
    source: str = Field(min_length=1)
    note: str | None = None


class TableLatencyModel(_Strict):
    """``latency(batch)`` by piecewise-linear interpolation between measured batch sizes.

    Below the smallest tabulated batch the first point's latency applies; above the largest,
    the line through the last two points is extended (the per-sample slope of the largest
    batches), or the single point is scaled proportionally when only one point exists.
    """

    kind: Literal["table"] = "table"
    points: list[LatencyPoint] = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _increasing(cls, points: list[LatencyPoint]) -> list[LatencyPoint]:
        batches = [p.batch for p in points]
        if batches != sorted(set(batches)):
            raise ValueError(f"batch sizes must be strictly increasing, got {batches}")
        # A batch never takes less time than a smaller one; a falling table would also
        # extrapolate (line through the last two points) to non-positive service times.
        for a, b in zip(points, points[1:]):
            if b.latency_ns < a.latency_ns:
                msg = (
                    f"latency_ns must not fall as the batch grows: batch {a.batch} takes"
                    f" {a.latency_ns:g} ns but batch {b.batch} takes {b.latency_ns:g} ns"
                )
                if b is points[-1]:
                    zero = b.batch + b.latency_ns * (b.batch - a.batch) / (a.latency_ns - b.latency_ns)
                    msg += f"; beyond batch {b.batch} the table extrapolates to non-positive times from batch {int(zero) + 1}"
                raise ValueError(msg)
        return points

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(batch, latency_ns)`` as float64 arrays for the simulator kernels."""
        return (
            np.array([p.batch for p in self.points], dtype=np.float64),
            np.array([p.latency_ns for p in self.points], dtype=np.float64),
        )

    def latency_ns(self, batch: int | np.ndarray) -> float | np.ndarray:
        """Median latency of a batch, ns (see class docstring for the interpolation rule)."""
        from simbench.profiles.latency import interp_latency_ns

        xs, ys = self.arrays()
        if np.ndim(batch) == 0:
            return float(interp_latency_ns(xs, ys, int(batch)))
        return np.array([interp_latency_ns(xs, ys, int(b)) for b in np.asarray(batch)])


class NoNoise(_Strict):
    """Deterministic service times (multiplier 1)."""

    kind: Literal["none"] = "none"

    @property
    def mean(self) -> float:
        return 1.0

    def multipliers(self, uniforms: np.ndarray) -> np.ndarray:
        return np.ones_like(uniforms)


class LognormalNoise(_Strict):
    """Lognormal multiplier with median 1: ``exp(sigma * Z)``, Z standard normal."""

    kind: Literal["lognormal"] = "lognormal"
    sigma: float = Field(ge=0, le=3)
    source: str = Field(min_length=1)

    @property
    def mean(self) -> float:
        return math.exp(self.sigma**2 / 2)

    def multipliers(self, uniforms: np.ndarray) -> np.ndarray:
        from scipy.special import ndtri

        return np.exp(self.sigma * ndtri(np.clip(uniforms, 1e-12, 1 - 1e-12)))


class QuantileNoise(_Strict):
    """Empirical multiplier law given by its quantile function at a few probabilities.

    ``points`` are ``[probability, multiplier]`` pairs; the first probability must be 0 and
    the last 1, both strictly increasing, multipliers non-decreasing and positive. A draw is
    the quantile function (linear between points) at a uniform variate, so the published
    percentiles that define the points are reproduced exactly.
    """

    kind: Literal["quantiles"] = "quantiles"
    points: list[tuple[float, float]] = Field(min_length=2)
    source: str = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _valid_quantiles(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        probs = [p for p, _ in points]
        mults = [m for _, m in points]
        if probs[0] != 0.0 or probs[-1] != 1.0:
            raise ValueError(f"probabilities must start at 0 and end at 1, got {probs}")
        if any(b <= a for a, b in zip(probs, probs[1:])):
            raise ValueError(f"probabilities must be strictly increasing, got {probs}")
        if any(not (0 < m <= 1e6) for m in mults) or any(b < a for a, b in zip(mults, mults[1:])):
            raise ValueError(f"multipliers must be in (0, 1e6] and non-decreasing, got {mults}")
        return points

    @property
    def mean(self) -> float:
        probs = np.array([p for p, _ in self.points])
        mults = np.array([m for _, m in self.points])
        return float(np.sum(np.diff(probs) * (mults[1:] + mults[:-1]) / 2))

    def multipliers(self, uniforms: np.ndarray) -> np.ndarray:
        probs = np.array([p for p, _ in self.points])
        mults = np.array([m for _, m in self.points])
        return np.interp(uniforms, probs, mults)


class ExponentialNoise(_Strict):
    """Exponential multiplier with mean 1 (memoryless service, for M/M/c validation)."""

    kind: Literal["exponential"] = "exponential"
    source: str = Field(default="queueing-theory test law", min_length=1)

    @property
    def mean(self) -> float:
        return 1.0

    def multipliers(self, uniforms: np.ndarray) -> np.ndarray:
        return -np.log1p(-np.asarray(uniforms))


NoiseModel = Annotated[
    Union[NoNoise, LognormalNoise, QuantileNoise, ExponentialNoise], Field(discriminator="kind")
]


class ScenarioHarness(_Strict):
    """How the submitter's harness ran one scenario: batching and TestSettings values.

    ``settings`` keys are ``TestSettings`` field names (e.g. ``offline_expected_qps``); they
    are applied like a ``user.conf`` below any conf file or command-line flag.
    """

    batching: BatchingPolicy = Field(default_factory=NoBatching)
    replicas: int = Field(default=1, ge=1, le=4096)
    streams: StreamSharing | None = None
    settings: dict[str, float] = Field(default_factory=dict)
    source: str = Field(min_length=1)

    @field_validator("settings")
    @classmethod
    def _known_settings(cls, settings: dict[str, float]) -> dict[str, float]:
        from simbench.settings import settings_field_names

        known = set(settings_field_names())
        for key in settings:
            if key not in known:
                raise ValueError(f"{key!r} is not a TestSettings field (e.g. offline_expected_qps)")
        return settings


class CalibrationTarget(_Strict):
    """A published figure the profile is calibrated to reproduce."""

    scenario: Literal["SingleStream", "MultiStream", "Server", "Offline"]
    metric: str = Field(min_length=1)
    value: float
    unit: str
    tolerance: float = Field(gt=0, le=1, description="relative tolerance, e.g. 0.05")
    source: str = Field(min_length=1)


class ModelProfile(_Strict):
    """One model on one device: latency(batch), its noise, and per-scenario harness settings."""

    description: str = ""
    precision: str = ""
    framework: str = ""
    latency: TableLatencyModel
    noise: NoiseModel = Field(default_factory=NoNoise)
    compute_share: ComputeShare | None = None
    scenarios: dict[str, ScenarioHarness] = Field(default_factory=dict)
    calibration: list[CalibrationTarget] = Field(default_factory=list)
    compute_bound_share: float | None = Field(
        default=None, ge=0, le=1,
        description="share of latency(batch) spent in compute-bound operators (roofline), the "
        "part that scales with clock; None when unknown",
    )
    source: str | None = Field(default=None, description="where the whole entry comes from (a fit, a roofline prediction)")

    @field_validator("scenarios")
    @classmethod
    def _known_scenarios(cls, scenarios: dict[str, ScenarioHarness]) -> dict[str, ScenarioHarness]:
        for name in scenarios:
            if name not in SCENARIO_NAMES:
                raise ValueError(f"unknown scenario {name!r}; expected one of {SCENARIO_NAMES}")
        return scenarios


class KernelMeasurement(_Strict):
    """One timed kernel size of ``simbench profile build`` (raw provenance of a roofline)."""

    kernel: str = Field(min_length=1)
    size: str = ""
    ops: float = Field(ge=0, description="arithmetic operations per call")
    bytes: float = Field(ge=0, description="bytes moved per call (textbook count)")
    median_ns: float = Field(gt=0)
    spread: float = Field(ge=0, description="(p75 - p25) / median of the repeats")
    times_ns: list[int] = Field(default_factory=list)


class Roofline(_Strict):
    """Achieved compute and memory rates of a device and its fixed per-kernel cost.

    A kernel of ``F`` operations moving ``Q`` bytes takes ``max(F / rate, Q / bandwidth)``
    plus ``dispatch_overhead_ns`` (Williams, Waterman & Patterson, CACM 2009). Measured by
    ``simbench profile build`` (``simbench.profiles.measure``), with the raw timings kept in
    ``measurements``.
    """

    fp32_flops_per_s: Sourced
    memory_bytes_per_s: Sourced
    dispatch_overhead_ns: Sourced
    int8_ops_per_s: Sourced | None = None
    conv_flops_per_s: Sourced | None = None
    measurements: list[KernelMeasurement] = Field(default_factory=list)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> "Roofline":
        for name in ("fp32_flops_per_s", "memory_bytes_per_s", "int8_ops_per_s", "conv_flops_per_s"):
            v = getattr(self, name)
            if v is not None and not v.value > 0:
                raise ValueError(f"{name}.value must be > 0, got {v.value}")
        if self.dispatch_overhead_ns.value < 0:
            raise ValueError(f"dispatch_overhead_ns.value must be >= 0, got {self.dispatch_overhead_ns.value}")
        return self


class HardwareProfile(_Strict):
    """A device: datasheet specs, optional clocks/power/price, and per-model latency models.

    Validated at construction; see ``simbench.profiles.load_profile`` for reading YAML with
    errors that name the file and the field.
    """

    schema_version: Literal[1] = 1
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    device: str = Field(min_length=1)
    description: str = ""
    specs: dict[str, Sourced] = Field(default_factory=dict)
    clock_states_mhz: list[Sourced] = Field(default_factory=list)
    power_limit_w: Sourced | None = None
    idle_power_w: Sourced | None = None
    price_per_hour_usd: Sourced | None = None
    roofline: Roofline | None = None
    dvfs: DvfsModel | None = None
    models: dict[str, ModelProfile] = Field(min_length=1)

    @model_validator(mode="after")
    def _model_names(self) -> "HardwareProfile":
        for name in self.models:
            if not name or any(c.isspace() for c in name):
                raise ValueError(f"model name {name!r} must be non-empty without spaces")
        return self

    @property
    def default_model(self) -> str:
        """The first model listed in the profile (the CLI's default ``--model``)."""
        return next(iter(self.models))
