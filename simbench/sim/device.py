"""The device model of a simulated SUT, and its lowering into one typed structure for numba.

``DeviceModel`` is one device (every replica is an identical copy with its own state):

* ``latency_ns(batch, clock_mhz)`` — the profile's latency table (measured at
  ``reference_clock_mhz``) with the compute-bound share ``c(b)`` scaled by ``f_ref / f``;
* noise — the profile's multiplicative model, one draw per batch;
* ``power_w(clock_mhz, busy)`` — ``P_static + busy * k f V(f)^2`` (``simbench.profiles.device``);
* ``streams`` concurrent inference streams (``StreamSharing``);
* thermal constants and a governor (``simbench.sim.governors``).

A device without DVFS data (a profile with no ``dvfs`` section, or ``make_sut``'s test SUTs) is a
fixed-clock device: one clock, no power, no governor ticks — exactly the simulator before the
device model existed. ``lower()`` turns the model into ``EngineModel``, a NamedTuple of scalars
and arrays that the numba engine takes as one argument (and the SimPy engine reads too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from simbench.errors import SimbenchInputError
from simbench.profiles.device import ComputeShare, DvfsModel, StreamSharing, exp_decay
from simbench.profiles.latency import clock_scale, interp_latency_ns, interp_share, noise_kernel_args
from simbench.sim.governors import GOV_NONE, GOV_POWER_CAP, GovernorSpec

__all__ = ["DeviceModel", "EngineModel", "RunPlan"]


class RunPlan(NamedTuple):
    """What the scenario asks of the SUT (the LoadGen side), for both engines."""

    closed: bool
    samples_per_query: int
    arrivals_ns: np.ndarray  # int64, open loop: scheduled query times
    generated_queries: int
    min_query_count: int
    min_duration_ns: int
    max_duration_ns: int


class EngineModel(NamedTuple):
    """The device model and batcher, lowered: every field a scalar or a float64/int64 array."""

    batch_points: np.ndarray
    latency_points_ns: np.ndarray
    share_batches: np.ndarray
    share_values: np.ndarray
    max_batch: int
    timeout_ns: int
    replicas: int
    streams: int
    stream_gain: float
    noise_kind: int
    noise_sigma: float
    noise_probs: np.ndarray
    noise_mults: np.ndarray
    # clocks: index into the grid; ref_over_clock[i] = f_ref / f_i, busy_power_w[i] = P(f_i, busy)
    clocks_mhz: np.ndarray
    ref_over_clock: np.ndarray
    busy_power_w: np.ndarray
    idle_power_w: float
    start_idx: int
    max_idx: int
    slow_idx: int
    # governor
    gov_kind: int
    period_ns: int
    transition_ns: int
    window_n: int
    up: float
    down: float
    cap_w: float
    # thermal (has_thermal False: temperature stays at ambient, never throttles)
    has_thermal: bool
    ambient_c: float
    resistance_c_per_w: float
    decay: float
    slowdown_c: float
    release_c: float


@dataclass(frozen=True)
class DeviceModel:
    """One simulated device: latency(batch, clock), noise, power(clock, busy), streams, thermal,
    and the governor that sets its clock.

    Attributes
    ----------
    batch_points, latency_points_ns : numpy.ndarray
        Latency table at the reference clock (float64, ns).
    noise : NoiseModel
    compute_share : ComputeShare or None
        ``c(b)``; None means no clock dependence (only allowed without DVFS).
    dvfs : DvfsModel or None
    streams : StreamSharing or None
        None: one stream.
    governor : GovernorSpec or None
        None: fixed at the reference clock, no ticks.
    ambient_c : float or None
        Overrides the profile's default ambient temperature.
    """

    batch_points: np.ndarray
    latency_points_ns: np.ndarray
    noise: Any
    compute_share: ComputeShare | None = None
    dvfs: DvfsModel | None = None
    streams: StreamSharing | None = None
    governor: GovernorSpec | None = None
    ambient_c: float | None = None

    def __post_init__(self) -> None:
        g = self.governor
        if g is not None:
            if self.dvfs is None:
                raise SimbenchInputError(
                    f"--governor {g.spec}: this profile has no dvfs section (clocks, power, thermal);"
                    " governors need one (see docs/dvfs.md)"
                )
            if self.compute_share is None:
                raise SimbenchInputError(
                    f"--governor {g.spec}: the model has no compute_share (the clock-scaled share of its"
                    " latency); governors need one (see docs/dvfs.md)"
                )
            if g.kind == "fixed":
                grid = self.dvfs.clock_grid_mhz()
                if not np.any(np.isclose(grid, g.clock_mhz, rtol=0, atol=1e-9)):
                    raise SimbenchInputError(
                        f"--governor {g.spec}: {g.clock_mhz:g} MHz is not a clock state of this device;"
                        f" expected {grid[0]:g}..{grid[-1]:g} MHz in steps of {self.dvfs.clock_step_mhz.value:g}"
                    )
            if g.kind == "thermal" and self.dvfs.thermal is None:
                raise SimbenchInputError(f"--governor {g.spec}: this profile has no dvfs.thermal constants")
        if g is not None and "ambient_c" in g.params:
            if self.ambient_c is not None and self.ambient_c != g.params["ambient_c"]:
                raise SimbenchInputError(
                    f"--ambient-c {self.ambient_c:g} and --governor {g.spec}: two ambient temperatures; give one"
                )
            object.__setattr__(self, "ambient_c", float(g.params["ambient_c"]))
        if self.ambient_c is not None:
            if self.dvfs is None or self.dvfs.thermal is None:
                raise SimbenchInputError("--ambient-c: this profile has no dvfs.thermal constants to apply it to")
            if not -50 <= self.ambient_c < self.dvfs.thermal.slowdown_c.value:
                raise SimbenchInputError(
                    f"--ambient-c {self.ambient_c:g}: expected -50 <= C < the slowdown temperature"
                    f" ({self.dvfs.thermal.slowdown_c.value:g} C)"
                )

    # -- the model in Python -------------------------------------------------------------

    @property
    def reference_clock_mhz(self) -> float | None:
        return self.dvfs.reference_clock_mhz.value if self.dvfs is not None else None

    def latency_ns(self, batch: int, clock_mhz: float | None = None) -> float:
        """Median latency (ns) of a batch of ``batch`` at ``clock_mhz`` (default: the reference
        clock): ``latency(b, f_ref) * (1 + c(b) (f_ref / f - 1))``."""
        lat = interp_latency_ns(self.batch_points, self.latency_points_ns, batch)
        if clock_mhz is None or self.dvfs is None:
            return float(lat)
        if self.compute_share is None:
            raise SimbenchInputError("latency_ns at a clock needs the model's compute_share")
        xs, ys = self.compute_share.arrays()
        return float(lat * clock_scale(interp_share(xs, ys, batch), self.reference_clock_mhz / clock_mhz))

    def power_w(self, clock_mhz: float, busy: bool) -> float:
        """Device power (W) at a clock, busy or idle (``DvfsModel.power_w``)."""
        if self.dvfs is None:
            raise SimbenchInputError("power_w: this device has no dvfs section")
        return float(self.dvfs.power_w(clock_mhz, busy))

    @property
    def ambient(self) -> float | None:
        if self.dvfs is None or self.dvfs.thermal is None:
            return None
        return self.ambient_c if self.ambient_c is not None else self.dvfs.thermal.ambient_c.value

    def describe(self) -> dict[str, Any]:
        return {
            "reference_clock_mhz": self.reference_clock_mhz,
            "governor": self.governor.describe() if self.governor else None,
            "streams": self.streams.model_dump() if self.streams else None,
            "ambient_c": self.ambient,
            "compute_share": self.compute_share.model_dump() if self.compute_share else None,
            "dvfs": self.dvfs.model_dump() if self.dvfs else None,
        }

    # -- lowering ------------------------------------------------------------------------

    def lower(self, max_batch: int, timeout_ns: int, replicas: int) -> EngineModel:
        """The model as one ``EngineModel`` for the engines (see the class docstring)."""
        kind, sigma, probs, mults = noise_kernel_args(self.noise)
        if self.compute_share is not None:
            sb, sv = self.compute_share.arrays()
        else:
            sb, sv = np.ones(1), np.zeros(1)
        g = self.governor
        dv = self.dvfs
        if g is None or dv is None:
            ref = self.reference_clock_mhz
            clocks = np.array([ref if ref is not None else 0.0])
            roc = np.ones(1)
            busy = np.array([dv.power_w(ref, True) if dv is not None else 0.0])
            idle = dv.idle_power_w.value if dv is not None else 0.0
            start = max_idx = slow_idx = 0
            gov_kind, period_ns, transition_ns, window_n = GOV_NONE, 0, 0, 1
            up = down = cap = 0.0
        else:
            clocks = dv.clock_grid_mhz()
            ref = dv.reference_clock_mhz.value
            roc = np.array([ref / f for f in clocks], dtype=np.float64)
            busy = np.asarray(dv.power_w(clocks, True), dtype=np.float64)
            idle = dv.idle_power_w.value
            max_idx = len(clocks) - 1
            slow_idx = int(np.searchsorted(clocks, clocks[-1] / 2, side="right") - 1)
            slow_idx = max(slow_idx, 0)
            start = int(np.argmin(np.abs(clocks - g.clock_mhz))) if g.kind == "fixed" else max_idx
            gov_kind, period_ns, transition_ns = g.code, g.period_ns, g.transition_ns
            window_n = 1
            if g.code == GOV_POWER_CAP:
                window_n = max(1, int(round(g.params["window_ms"] / g.params["period_ms"])))
            up = float(g.params.get("up", 0.0))
            down = float(g.params.get("down", 0.0))
            cap = float(g.cap_w or 0.0)
        th = dv.thermal if dv is not None else None
        if th is not None and g is not None:
            has_th = True
            amb = float(self.ambient)
            r = th.resistance_c_per_w.value
            decay = exp_decay(period_ns, th.time_constant_s)
            slow_c = th.slowdown_c.value
            rel_c = th.slowdown_c.value - th.hysteresis_c.value
        else:
            has_th = False
            amb = float(self.ambient) if self.ambient is not None else 0.0
            r, decay, slow_c, rel_c = 0.0, 1.0, 0.0, 0.0
        return EngineModel(
            batch_points=np.ascontiguousarray(self.batch_points, dtype=np.float64),
            latency_points_ns=np.ascontiguousarray(self.latency_points_ns, dtype=np.float64),
            share_batches=np.ascontiguousarray(sb, dtype=np.float64),
            share_values=np.ascontiguousarray(sv, dtype=np.float64),
            max_batch=int(max_batch),
            timeout_ns=int(timeout_ns),
            replicas=int(replicas),
            streams=int(self.streams.count) if self.streams else 1,
            stream_gain=float(self.streams.gain) if self.streams else 0.0,
            noise_kind=int(kind),
            noise_sigma=float(sigma),
            noise_probs=probs,
            noise_mults=mults,
            clocks_mhz=np.ascontiguousarray(clocks, dtype=np.float64),
            ref_over_clock=np.ascontiguousarray(roc, dtype=np.float64),
            busy_power_w=np.ascontiguousarray(busy, dtype=np.float64),
            idle_power_w=float(idle),
            start_idx=int(start),
            max_idx=int(max_idx),
            slow_idx=int(slow_idx),
            gov_kind=int(gov_kind),
            period_ns=int(period_ns),
            transition_ns=int(transition_ns),
            window_n=int(window_n),
            up=up,
            down=down,
            cap_w=cap,
            has_thermal=has_th,
            ambient_c=amb,
            resistance_c_per_w=float(r),
            decay=float(decay),
            slowdown_c=float(slow_c),
            release_c=float(rel_c),
        )
