"""DVFS governors: how a simulated device picks its clock, parsed from a spec string.

Spellings (``simbench simulate --governor SPEC``; ``--power-cap-w W`` is ``power_cap:W``)::

    fixed:MHZ                       the clock pinned at MHZ (nvidia-smi -lgc MHZ,MHZ)
    performance                     max boost clock, always
    ondemand[:up=0.8,down=0.3,period_ms=10,transition_us=0]
                                    every period: utilization > up -> max clock (Linux ondemand's
                                    rule); utilization < down -> one clock step down
    power_cap:W[,window_ms=1000,period_ms=20,transition_us=0]
                                    every period: the mean power over the last window above W ->
                                    one step down; else one step up if the last period's power
                                    plus the busy-power step x utilization stays <= W
                                    (NVIDIA's SW power cap, NVML reason SwPowerCap 0x4)
    thermal[:period_ms=100,transition_us=0,ambient_c=C]
                                    max boost clock until the RC temperature reaches the profile's
                                    slowdown_c, then half the max clock (NVML HwSlowdown "reducing
                                    the core clocks by a factor of 2 or more", 0x8/0x40) until it
                                    falls to slowdown_c - hysteresis_c

Any governor also takes ``ambient_c=C``: the ambient temperature of the thermal model (the
same as ``--ambient-c``; a spec string then carries the whole device setting, e.g. for
``simbench stats validate --governor`` or a plan's RunSpec).

Every governor acts at ticks ``k * period`` (k = 1, 2, ...) of its device; a clock change takes
effect ``transition_us`` after the tick that chose it (``transition_us < period``). The decision
rules are plain functions (``decide_clock``, ``thermal_step``) that both engines call, so the
SimPy reference model and the numba engine make identical decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simbench.errors import SimbenchInputError

__all__ = [
    "GovernorSpec",
    "parse_governor",
    "GOV_NONE",
    "GOV_FIXED",
    "GOV_PERFORMANCE",
    "GOV_ONDEMAND",
    "GOV_POWER_CAP",
    "GOV_THERMAL",
    "decide_clock",
    "thermal_step",
    "REASON_NONE",
    "REASON_SW_POWER_CAP",
    "REASON_HW_THERMAL_SLOWDOWN",
]

GOV_NONE = 0
GOV_FIXED = 1
GOV_PERFORMANCE = 2
GOV_ONDEMAND = 3
GOV_POWER_CAP = 4
GOV_THERMAL = 5

# NVML clock-event reason bit masks (nvmlClocksEventReasons; published_calibration.json dvfs[0]).
REASON_NONE = 0
REASON_SW_POWER_CAP = 0x4
REASON_HW_THERMAL_SLOWDOWN = 0x40

_KINDS = {"fixed": GOV_FIXED, "performance": GOV_PERFORMANCE, "ondemand": GOV_ONDEMAND, "power_cap": GOV_POWER_CAP, "thermal": GOV_THERMAL}

# Defaults (ASSUMED where no source gives them; docs/dvfs.md lists them with their reasons).
_DEFAULTS = {
    "ondemand": {"up": 0.8, "down": 0.3, "period_ms": 10.0, "transition_us": 0.0},
    "power_cap": {"window_ms": 1000.0, "period_ms": 20.0, "transition_us": 0.0},
    "thermal": {"period_ms": 100.0, "transition_us": 0.0},
    "performance": {"period_ms": 100.0},
    "fixed": {"period_ms": 100.0},
}
_BOUNDS = {
    "up": (0.0, 1.0),
    "down": (0.0, 1.0),
    "period_ms": (0.01, 60_000.0),
    "transition_us": (0.0, 60_000_000.0),
    "window_ms": (0.01, 3_600_000.0),
    "ambient_c": (-50.0, 150.0),
}

_FORMS = (
    "fixed:MHZ, performance, ondemand[:up=0.8,down=0.3,period_ms=10,transition_us=0],"
    " power_cap:W[,window_ms=1000,period_ms=20,transition_us=0], thermal[:period_ms=100]"
)


@dataclass(frozen=True)
class GovernorSpec:
    """A parsed governor: its kind and parameters (picklable; ``spec`` round-trips).

    Attributes
    ----------
    kind : {'fixed', 'performance', 'ondemand', 'power_cap', 'thermal'}
    clock_mhz : float or None
        ``fixed`` only.
    cap_w : float or None
        ``power_cap`` only.
    params : dict
        ``period_ms``, ``transition_us`` and the kind's own (``up``, ``down``, ``window_ms``).
    """

    kind: str
    clock_mhz: float | None = None
    cap_w: float | None = None
    params: dict = field(default_factory=dict)

    @property
    def code(self) -> int:
        return _KINDS[self.kind]

    @property
    def period_ns(self) -> int:
        return int(round(self.params["period_ms"] * 1e6))

    @property
    def transition_ns(self) -> int:
        return int(round(self.params.get("transition_us", 0.0) * 1e3))

    @property
    def spec(self) -> str:
        """The canonical spelling (``parse_governor(g.spec) == g``)."""
        head = self.kind
        if self.kind == "fixed":
            head += f":{self.clock_mhz:g}"
        elif self.kind == "power_cap":
            head += f":{self.cap_w:g}"
        extra = ",".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        if not extra:
            return head
        return head + ("," if ":" in head else ":") + extra

    def describe(self) -> dict:
        return {"spec": self.spec, "kind": self.kind, "clock_mhz": self.clock_mhz, "cap_w": self.cap_w, **self.params}


def _number(flag: str, text: str, name: str, raw: str) -> float:
    try:
        v = float(raw)
    except ValueError:
        raise SimbenchInputError(f"{flag} {text!r}: {name} must be a number, got {raw!r}") from None
    if not math.isfinite(v):
        raise SimbenchInputError(f"{flag} {text!r}: {name} must be finite, got {raw!r}")
    return v


def parse_governor(text: str, flag: str = "--governor") -> GovernorSpec:
    """Parse a governor spec string (see the module docstring for the forms).

    Raises
    ------
    ValueError
        Unknown kind, missing/extra/unknown parameters, values out of range; the message names
        ``flag``, the spec and the accepted forms.
    """
    t = str(text).strip()
    if not t:
        raise SimbenchInputError(f"{flag}: expected one of {_FORMS}, got an empty string")
    kind, _, rest = t.partition(":")
    kind = kind.strip().lower().replace("-", "_")
    if kind not in _KINDS:
        raise SimbenchInputError(f"{flag} {text!r}: unknown governor {kind!r}; expected one of {_FORMS}")
    parts = [p.strip() for p in rest.split(",")] if rest.strip() else []
    positional = None
    if kind in ("fixed", "power_cap"):
        if not parts or "=" in parts[0]:
            what = "MHZ (the clock)" if kind == "fixed" else "W (the cap in watts)"
            raise SimbenchInputError(f"{flag} {text!r}: {kind} needs {what}, e.g. {kind}:{'1200' if kind == 'fixed' else '260'}")
        positional = _number(flag, text, "MHZ" if kind == "fixed" else "W", parts.pop(0))
        if positional <= 0:
            raise SimbenchInputError(f"{flag} {text!r}: {'MHZ' if kind == 'fixed' else 'W'} must be > 0")
    params = dict(_DEFAULTS[kind])
    for p in parts:
        key, eq, raw = p.partition("=")
        key = key.strip()
        if not eq:
            raise SimbenchInputError(f"{flag} {text!r}: expected key=value, got {p!r}")
        if key not in params and key != "ambient_c":
            raise SimbenchInputError(
                f"{flag} {text!r}: {kind} has no parameter {key!r}; it takes "
                + ", ".join(sorted(params) + ["ambient_c"])
            )
        v = _number(flag, text, key, raw.strip())
        lo, hi = _BOUNDS[key]
        if not lo <= v <= hi:
            raise SimbenchInputError(f"{flag} {text!r}: {key} must be in [{lo:g}, {hi:g}], got {v:g}")
        params[key] = v
    if kind == "ondemand" and not params["down"] < params["up"]:
        raise SimbenchInputError(f"{flag} {text!r}: down ({params['down']:g}) must be below up ({params['up']:g})")
    if params.get("transition_us", 0.0) * 1e3 >= params["period_ms"] * 1e6:
        raise SimbenchInputError(
            f"{flag} {text!r}: transition_us ({params['transition_us']:g}) must be shorter than period_ms"
            f" ({params['period_ms']:g} ms)"
        )
    if kind == "power_cap" and params["window_ms"] < params["period_ms"]:
        raise SimbenchInputError(f"{flag} {text!r}: window_ms must be >= period_ms")
    return GovernorSpec(
        kind=kind,
        clock_mhz=positional if kind == "fixed" else None,
        cap_w=positional if kind == "power_cap" else None,
        params=params,
    )


# ---- decision rules, shared by both engines (plain Python; numba compiles the same source) ----


def thermal_step(temp_c, mean_power_w, ambient_c, resistance_c_per_w, decay):
    """Temperature after one period of constant mean power (exact RC solution):
    ``T_ss + (T - T_ss) * decay`` with ``T_ss = T_ambient + P R`` and ``decay = exp(-dt / (R C))``."""
    t_ss = ambient_c + mean_power_w * resistance_c_per_w
    return t_ss + (temp_c - t_ss) * decay


def decide_clock(kind, idx, max_idx, slow_idx, util, up, down, window_mean_w, last_w, cap_w, step_up_w, temp_c, throttled, slowdown_c, release_c):
    """The clock index a governor chooses at a tick, and whether thermal slowdown is engaged.

    Parameters
    ----------
    kind : int (GOV_*)
    idx, max_idx, slow_idx : int
        Current clock index, the max-boost index, the HW-slowdown index (max / 2, on the grid).
    util : float
        Busy fraction of the device over the last period (0..1).
    up, down : float
        ondemand thresholds.
    window_mean_w, last_w, cap_w : float
        power_cap: mean power over the window, over the last period, and the cap.
    step_up_w : float
        Busy-power difference between the next clock up and the current one (W).
    temp_c, throttled, slowdown_c, release_c
        thermal: temperature now, slowdown engaged, engage and release thresholds.

    Returns
    -------
    (new_idx, throttled) : (int, bool)
    """
    if kind == 3:  # ondemand
        if util > up:
            return max_idx, False
        if util < down and idx > 0:
            return idx - 1, False
        return idx, False
    if kind == 4:  # power_cap
        if window_mean_w > cap_w:
            if idx > 0:
                return idx - 1, False
            return idx, False
        if idx < max_idx and last_w + step_up_w * util <= cap_w:
            return idx + 1, False
        return idx, False
    if kind == 5:  # thermal
        if throttled:
            if temp_c <= release_c:
                return max_idx, False
            return slow_idx, True
        if temp_c >= slowdown_c:
            return slow_idx, True
        return max_idx, False
    return idx, False
