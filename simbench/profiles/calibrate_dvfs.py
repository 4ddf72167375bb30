"""The device-model part of the shipped profiles: clocks, power law, thermal, compute shares.

Called by ``simbench.profiles.calibrate.build_profile`` so ``simbench profile calibrate``
keeps the shipped profiles reproducible. What is sourced, DERIVED or ASSUMED (``docs/dvfs.md``
has the method and the figures):

* clocks — ``max_clock_mhz`` = ``reference_clock_mhz`` = the boost clock (``specs``): the
  MaxP results the latency tables come from ran at default (boost) clocks, no clock lock.
  ``min_clock_mhz`` = 210 MHz, the idle SM clock nvidia-smi shows on an idle A100
  (``dvfs`` "A100 idle vs max clocks"), used for every GPU. ``clock_step_mhz`` = 15: ASSUMED
  (the clock grid nvidia-smi lists on NVIDIA datacenter GPUs; no entry in the file).
* power — ``busy_power_w`` = the board power limit the MLPerf harness uses (a GPU saturated
  by a MaxP Offline run runs at its limit: ASSUMED); ``idle_power_w`` = 59.69 W for the A100
  (the same observation), DERIVED for the others as the same fraction of their limit.
* ``voltage_slope`` — fitted (least squares) to the BERT-99 MaxQ/MaxP entries of
  ``power_cap_comparisons`` (A100-PCIe, H100-PCIe, v3.0). BERT at its Offline batch is
  compute-bound on every shipped GPU by the roofline below (``c = 1``), so there the
  throughput ratio *is* the clock ratio and each entry gives one point ``(f/f_max, P/P_max)``
  of the power law. The ResNet-50 entries are held out to validate the model.
* ``compute_share`` — DERIVED from the roofline: ``c(b) = min(1, b * ops / peak_int8 / latency(b))``,
  the time the batch's operations take at the datasheet's dense INT8 peak (the part that
  scales with the SM clock) over the measured latency. ops per sample: ResNet-50 2 x 3.8e9
  (He et al., CVPR 2016, Table 1: 3.8e9 multiply-adds for the 50-layer net); BERT-Large
  2 x 3.4e8 parameters x 384 tokens (Devlin et al., NAACL 2019: 340M parameters; MLPerf's
  max sequence length 384) — DERIVED, attention's seq^2 term ignored.
* thermal — no published R, C or slowdown threshold for these boards is in the calibration
  file. ``slowdown_c`` = 83 C (a secondary source's typical A100/H100 HW-slowdown threshold);
  ``R`` ASSUMED so that a board at its power limit in a 25 C inlet settles at 75 C,
  ``C`` ASSUMED for a 60 s time constant, hysteresis 5 C, ambient 25 C: all ASSUMED and marked so.
"""

from __future__ import annotations

import math

__all__ = ["add_device_model", "fit_voltage_slope", "OPS_PER_SAMPLE"]

FILE = "published_calibration.json"
IDLE_A100_W = 59.69
IDLE_A100_LIMIT_W = 400.0
MIN_CLOCK_MHZ = 210.0
STEP_MHZ = 15.0
SLOWDOWN_C = 83.0
AMBIENT_C = 25.0
STEADY_AT_LIMIT_C = 75.0
TIME_CONSTANT_S = 60.0
HYSTERESIS_C = 5.0
FIT_ENTRIES = (("bert-99", 300), ("bert-99", 350))  # (benchmark, gpu_board_power_default_W) in v3.0

OPS_PER_SAMPLE = {
    "resnet50": (2 * 3.8e9, "He et al., 'Deep Residual Learning for Image Recognition', CVPR 2016, Table 1: 3.8e9 multiply-adds (x 2 operations)"),
    "bert-99": (2 * 3.4e8 * 384, "DERIVED: 2 x 3.4e8 parameters (Devlin et al., NAACL 2019, BERT-Large) x 384 tokens (MLPerf bert max_seq_length); attention's seq^2 term ignored"),
}

_IDLE_SRC = (
    f"{FILE} dvfs[topic=A100 idle vs max clocks (observed)].facts (orig: nvidia-smi on an idle"
    " A100-SXM4-40GB: sm 210 MHz, 59.69 W; http://brick-house.org/f819e639-eb73-4ea3-abbf-0fecea1f1b4a?page=7, low authority)"
)


def _v(value: float, unit: str, source: str, note: str | None = None) -> dict:
    d = {"value": value, "unit": unit, "source": source}
    if note:
        d["note"] = note
    return d


def _power_ratio(x: float, s: float, idle_frac: float) -> float:
    """P(f)/P(f_max) of a busy device at clock ratio x = f/f_max (the profile's power law)."""
    return idle_frac + (1.0 - idle_frac) * x * (1.0 - s * (1.0 - x)) ** 2


def fit_voltage_slope(cal) -> tuple[float, list[dict]]:
    """Least-squares voltage slope ``s`` over the BERT-99 MaxQ/MaxP entries.

    Each entry gives a busy clock ratio ``x`` (= its throughput ratio, BERT being compute-bound)
    and a power ratio ``rho`` (= its power-limit ratio); ``s`` minimises
    ``sum (P(x)/P_max - rho)^2`` on [0, 0.95] (golden-section search; the objective is convex here).

    Returns
    -------
    (s, entries) : the slope and the entries used (with their citations).
    """
    idle_frac = IDLE_A100_W / IDLE_A100_LIMIT_W
    pts = []
    for i, e in enumerate(cal.data["power_cap_comparisons"]):
        if e["round"] == "v3.0" and (e["benchmark"], e["gpu_board_power_default_W"]) in FIT_ENTRIES:
            pts.append({
                "index": i, "selector": f"round=v3.0, benchmark={e['benchmark']}, gpu_board_power_default_W={e['gpu_board_power_default_W']}",
                "benchmark": e["benchmark"], "clock_ratio": e["throughput_ratio_maxq_over_maxp"],
                "power_ratio": e["power_limit_ratio"], "source": e["sources"][1] if len(e["sources"]) > 1 else e["sources"][0],
            })

    def obj(s: float) -> float:
        return sum((_power_ratio(p["clock_ratio"], s, idle_frac) - p["power_ratio"]) ** 2 for p in pts)

    a, b = 0.0, 0.95
    g = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        c, d = b - g * (b - a), a + g * (b - a)
        if obj(c) < obj(d):
            b = d
        else:
            a = c
    return round((a + b) / 2, 4), pts


def _int8_peak(cal, key: str):
    for f in ("int8_tensor_dense_tops", "int8_tensor_tops"):
        e = cal.spec(key).get(f)
        if e is not None and e.get("value") is not None:
            return cal.ref("specs", key, f, "value")
    return None


def add_device_model(cal, gpu, prof: dict) -> None:
    """Add ``dvfs`` and each model's ``compute_share`` to a profile dict being built."""
    key = gpu.spec_key
    boost = cal.ref("specs", key, "boost_clock_MHz", "value")
    limit = cal.ref("specs", key, "nvidia_smi_max_power_limit_W_in_MLPerf_harness", "value")
    s, pts = fit_voltage_slope(cal)
    idle = IDLE_A100_W if gpu.name == "a100" else round(IDLE_A100_W / IDLE_A100_LIMIT_W * limit.num, 2)
    idle_src = _IDLE_SRC if gpu.name == "a100" else (
        f"DERIVED: {IDLE_A100_W} W / {IDLE_A100_LIMIT_W:g} W (the A100 idle fraction) x this board's"
        f" limit {limit.num:g} W; A100 idle: {_IDLE_SRC}"
    )
    r = (STEADY_AT_LIMIT_C - AMBIENT_C) / limit.num
    cap = TIME_CONSTANT_S / r
    fit_src = (
        f"DERIVED: least-squares fit of P(f)/P(f_max) = i + (1 - i) x (1 - s (1 - x))^2 (i = {IDLE_A100_W}/{IDLE_A100_LIMIT_W:g})"
        " to the BERT-99 MaxQ/MaxP entries, x = throughput ratio (BERT is compute-bound at its Offline batch),"
        " P ratio = power_limit_ratio: "
        + "; ".join(
            f"{FILE} power_cap_comparisons[{p['selector']}] (x {p['clock_ratio']}, P {p['power_ratio']}) (orig: {p['source']})"
            for p in pts
        )
    )
    prof["dvfs"] = {
        "reference_clock_mhz": _v(boost.num, "MHz", boost.cite, "the latency tables' clock: MaxP runs at default (boost) clocks (ASSUMED: no clock lock in the MaxP harness)"),
        "min_clock_mhz": _v(MIN_CLOCK_MHZ, "MHz", _IDLE_SRC, "the idle SM clock of an A100, used for every GPU"),
        "max_clock_mhz": _v(boost.num, "MHz", boost.cite, "max boost clock ('performance')"),
        "clock_step_mhz": _v(STEP_MHZ, "MHz", "ASSUMED: the 15 MHz graphics-clock grid nvidia-smi lists for NVIDIA datacenter GPUs (no entry in the calibration file)"),
        "idle_power_w": _v(idle, "W", idle_src),
        "busy_power_w": _v(limit.num, "W", limit.cite, "ASSUMED: a GPU saturated by a MaxP Offline run draws its board power limit at the max clock"),
        "voltage_slope": _v(s, "", fit_src, "V(f)/V(f_max) = 1 - s (1 - f/f_max)"),
        "thermal": {
            "resistance_c_per_w": _v(round(r, 6), "C/W", f"ASSUMED: a board at its {limit.num:g} W limit in a {AMBIENT_C:g} C inlet settles at {STEADY_AT_LIMIT_C:g} C: R = ({STEADY_AT_LIMIT_C:g} - {AMBIENT_C:g}) / {limit.num:g}"),
            "capacitance_j_per_c": _v(round(cap, 3), "J/C", f"ASSUMED: a {TIME_CONSTANT_S:g} s thermal time constant (C = tau / R)"),
            "slowdown_c": _v(SLOWDOWN_C, "C", "ASSUMED from a secondary, low-authority source: https://factryze.ai/glossary/thermal-throttling ('typically 83C for the HW slowdown threshold' on A100 and H100)", "HW slowdown halves the clock: published_calibration.json dvfs, topic 'NVML clock-throttle (clock event) reasons' (NVML HwSlowdown 'reducing the core clocks by a factor of 2 or more')"),
            "hysteresis_c": _v(HYSTERESIS_C, "C", "ASSUMED (no published hysteresis)"),
            "ambient_c": _v(AMBIENT_C, "C", "ASSUMED: a typical data-hall inlet temperature; --ambient-c overrides"),
        },
    }
    peak = _int8_peak(cal, key)
    for name, model in prof["models"].items():
        ops = OPS_PER_SAMPLE.get(name)
        if ops is None or peak is None:
            continue
        per_sample, ops_src = ops
        pts_out = []
        for p in model["latency"]["points"]:
            b = int(p["batch"])
            t_c = b * per_sample / (peak.num * 1e12) * 1e9
            share = min(1.0, t_c / float(p["latency_ns"]))
            pts_out.append({
                "batch": b,
                "share": round(share, 4),
                "source": f"DERIVED: min(1, {b} x {per_sample:.4g} ops / {peak.num:g} TOPS / latency({b}) {float(p['latency_ns']):.0f} ns); ops: {ops_src}; peak: {peak.cite}",
            })
        model["compute_share"] = {"points": pts_out}
