"""The device part of a ``HardwareProfile``: clocks, power law, thermal constants, streams.

Schema (YAML key ``dvfs`` at the top level of a profile; every number carries ``source``)::

    dvfs:
      reference_clock_mhz: {value: 1410, source: ...}   # the latency tables were measured here
      min_clock_mhz:       {value: 210,  source: ...}
      max_clock_mhz:       {value: 1410, source: ...}   # 'performance' (max boost)
      clock_step_mhz:      {value: 15,   source: ...}   # the clock grid a governor moves on
      idle_power_w:        {value: 59.7, source: ...}   # P_static: an idle or busy device draws it
      busy_power_w:        {value: 400,  source: ...}   # busy at max_clock (P_static + P_dyn(f_max))
      voltage_slope:       {value: 0.5,  source: ...}   # s in V(f)/V(f_max) = 1 - s (1 - f/f_max)
      thermal:             # optional; the RC model C dT/dt = P - (T - T_ambient)/R
        resistance_c_per_w:  {value: 0.1,  source: ...}
        capacitance_j_per_c: {value: 300,  source: ...}
        slowdown_c:          {value: 87,   source: ...}   # HW slowdown engages at or above
        hysteresis_c:        {value: 5,    source: ...}   # ... and releases at or below slowdown - hysteresis
        ambient_c:           {value: 25,   source: ...}   # default --ambient-c

and per model ``compute_share`` (the share of each batch's time that scales with the clock).

The laws (``docs/dvfs.md`` has the method and the sources):

* latency: ``latency_ns(b, f) = latency_ns(b, f_ref) * (1 + c(b) * (f_ref / f - 1))``;
* power: ``P(f, busy) = P_static + busy * k * f * V(f)^2`` with the voltage law
  ``V(f) = V_max * (1 - s * (1 - f / f_max))`` (linear in f, ``V(f_max) = V_max``);
  ``k * f_max * V_max^2 = busy_power_w - idle_power_w``, so
  ``P_dyn(f) = (busy_power_w - idle_power_w) * (f / f_max) * (1 - s (1 - f / f_max))^2``.
  An idle device draws ``idle_power_w`` whatever its clock (a real GPU drops to its idle clock).
* thermal: over one governor period of length ``dt`` with mean power ``P``,
  ``T <- T_ss + (T - T_ss) * exp(-dt / (R C))``, ``T_ss = T_ambient + P R`` (the exact solution of
  ``C dT/dt = P - (T - T_ambient) / R`` for constant ``P``).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simbench.errors import SimbenchInputError

__all__ = [
    "SourcedValue",
    "ThermalModel",
    "DvfsModel",
    "ComputeSharePoint",
    "ComputeShare",
    "StreamSharing",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SourcedValue(_Strict):
    """A number with its unit and where it came from (as ``Sourced``; kept local to avoid a cycle)."""

    value: float
    unit: str = ""
    source: str = Field(min_length=1)
    note: str | None = None


class ThermalModel(_Strict):
    """First-order RC thermal model of one device and its HW-slowdown thresholds."""

    resistance_c_per_w: SourcedValue
    capacitance_j_per_c: SourcedValue
    slowdown_c: SourcedValue
    hysteresis_c: SourcedValue
    ambient_c: SourcedValue

    @model_validator(mode="after")
    def _positive(self) -> "ThermalModel":
        for name in ("resistance_c_per_w", "capacitance_j_per_c"):
            v = getattr(self, name).value
            if not 0 < v < 1e9:
                raise SimbenchInputError(f"{name}: expected > 0, got {v:g}")
        if not 0 <= self.hysteresis_c.value < 200:
            raise SimbenchInputError(f"hysteresis_c: expected 0..200 degC, got {self.hysteresis_c.value:g}")
        if not -50 <= self.ambient_c.value < self.slowdown_c.value <= 200:
            raise SimbenchInputError(
                f"ambient_c < slowdown_c <= 200 expected, got ambient {self.ambient_c.value:g},"
                f" slowdown {self.slowdown_c.value:g}"
            )
        return self

    @property
    def time_constant_s(self) -> float:
        """``R * C`` in seconds."""
        return self.resistance_c_per_w.value * self.capacitance_j_per_c.value


class DvfsModel(_Strict):
    """Clock grid, power law and (optionally) thermal constants of one device."""

    reference_clock_mhz: SourcedValue
    min_clock_mhz: SourcedValue
    max_clock_mhz: SourcedValue
    clock_step_mhz: SourcedValue
    idle_power_w: SourcedValue
    busy_power_w: SourcedValue
    voltage_slope: SourcedValue
    thermal: ThermalModel | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "DvfsModel":
        lo, hi, step = self.min_clock_mhz.value, self.max_clock_mhz.value, self.clock_step_mhz.value
        ref = self.reference_clock_mhz.value
        if not (0 < lo <= hi <= 100_000):
            raise SimbenchInputError(f"clocks: expected 0 < min_clock_mhz <= max_clock_mhz, got {lo:g}, {hi:g}")
        if not step > 0:
            raise SimbenchInputError(f"clock_step_mhz: expected > 0, got {step:g}")
        n = (hi - lo) / step
        if abs(n - round(n)) > 1e-9 or n > 100_000:
            raise SimbenchInputError(f"clock grid: (max_clock_mhz - min_clock_mhz) / clock_step_mhz must be a whole number, got {n:g}")
        if not lo <= ref <= hi:
            raise SimbenchInputError(f"reference_clock_mhz {ref:g}: expected within [{lo:g}, {hi:g}]")
        idle, busy = self.idle_power_w.value, self.busy_power_w.value
        if not 0 <= idle < busy <= 100_000:
            raise SimbenchInputError(f"power: expected 0 <= idle_power_w < busy_power_w, got {idle:g}, {busy:g}")
        if not 0 <= self.voltage_slope.value < 1:
            raise SimbenchInputError(f"voltage_slope: expected 0 <= s < 1, got {self.voltage_slope.value:g}")
        return self

    # -- the laws -------------------------------------------------------------------------

    def clock_grid_mhz(self) -> np.ndarray:
        """The clocks a governor can set, ascending (float64, MHz): min, min+step, ..., max."""
        lo, hi, step = self.min_clock_mhz.value, self.max_clock_mhz.value, self.clock_step_mhz.value
        n = int(round((hi - lo) / step))
        return np.array([lo + i * step for i in range(n)] + [hi], dtype=np.float64)

    def voltage_ratio(self, clock_mhz: float | np.ndarray) -> float | np.ndarray:
        """``V(f) / V(f_max) = 1 - s (1 - f / f_max)``."""
        return 1.0 - self.voltage_slope.value * (1.0 - np.asarray(clock_mhz, dtype=float) / self.max_clock_mhz.value)

    def power_w(self, clock_mhz: float | np.ndarray, busy: bool | np.ndarray) -> float | np.ndarray:
        """Device power (W): ``idle_power_w + busy * P_dyn(f)`` (see the module docstring).

        Parameters
        ----------
        clock_mhz : float or array, MHz (> 0)
        busy : bool or array
            Whether at least one batch is executing.
        """
        f = np.asarray(clock_mhz, dtype=float)
        dyn = (self.busy_power_w.value - self.idle_power_w.value) * (f / self.max_clock_mhz.value) * self.voltage_ratio(f) ** 2
        out = self.idle_power_w.value + np.where(np.asarray(busy), dyn, 0.0)
        return float(out) if out.ndim == 0 else out

    def clock_for_power_mhz(self, power_w: float) -> float:
        """The (continuous) clock at which a busy device draws ``power_w``; clamped to the grid's ends."""
        lo, hi = self.min_clock_mhz.value, self.max_clock_mhz.value
        if power_w >= self.power_w(hi, True):
            return hi
        if power_w <= self.power_w(lo, True):
            return lo
        a, b = lo, hi
        for _ in range(100):
            m = (a + b) / 2
            if self.power_w(m, True) > power_w:
                b = m
            else:
                a = m
        return a


class ComputeSharePoint(_Strict):
    """Share of a batch's time (at the reference clock) that scales with the SM clock."""

    batch: int = Field(ge=1, le=10_000_000)
    share: float = Field(ge=0, le=1)
    source: str = Field(min_length=1)
    note: str | None = None


class ComputeShare(_Strict):
    """``c(b)`` by linear interpolation between batch sizes, constant beyond the ends."""

    points: list[ComputeSharePoint] = Field(min_length=1)

    @field_validator("points")
    @classmethod
    def _increasing(cls, points: list[ComputeSharePoint]) -> list[ComputeSharePoint]:
        batches = [p.batch for p in points]
        if batches != sorted(set(batches)):
            raise SimbenchInputError(f"batch sizes must be strictly increasing, got {batches}")
        return points

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(batch, share)`` float64 arrays for the engines."""
        return (
            np.array([p.batch for p in self.points], dtype=np.float64),
            np.array([p.share for p in self.points], dtype=np.float64),
        )


class StreamSharing(_Strict):
    """Concurrent inference streams on one device (``gpu_inference_streams``) and their gain.

    Up to ``count`` batches run at once on a device; a batch that starts with ``k`` batches in
    flight (itself included) takes ``k / (1 + gain (k - 1))`` times its single-stream time
    (``simbench.profiles.latency.stream_factor``).
    """

    count: int = Field(ge=1, le=64)
    gain: float = Field(default=0.0, ge=0, le=1)
    source: str = Field(min_length=1)


def exp_decay(period_ns: int, time_constant_s: float) -> float:
    """``exp(-period / (R C))``: the thermal relaxation factor of one governor period."""
    return math.exp(-(period_ns / 1e9) / time_constant_s)
