"""The device model's acceptance figures (issue 9), measured with the simulator.

    python benchmarks/dvfs_acceptance.py [--out benchmarks/dvfs_acceptance.json] [--quick]

1. Power cap: a100 ResNet-50 Offline (600 s), uncapped vs ``power_cap`` at 0.65 x the
   profile's power limit (260 W): throughput ratio against the published MaxQ/MaxP Offline
   ratio of ``power_cap_comparisons`` (v3.0 resnet50, A100-PCIe-80GBx8: 195 W of 300 W,
   0.803). The same for h100 against the H100-PCIe entry (215 W of 350 W = 0.614, 0.773).
2. Thermal: a100 ResNet-50 Offline with ``--governor thermal --ambient-c 45`` for 10 s,
   600 s and 1,200 s.
3. MaxQ power and energy: the capped a100 Offline run's average device power and energy per
   sample beside the published MaxQ system power (``mlperf_power_measurements``,
   A100-PCIe-80GBx8_TRT_MaxQ resnet50 Offline: whole-system AC power of 8 GPUs plus host).
4. The min-duration effect: a100 ResNet-50 Server for 10 s, 60 s and 600 s under
   ``thermal`` (45 C, 30,000 QPS) and ``power_cap:260`` (25,000 QPS): p99 latency, validity, and the Offline
   throughput a 10/60/600 s run reports.

Offline throughput is computed as LoadGen does (samples / the last completion), from the
numba engine's count-only mode; Server runs keep the trace and go through ``summarize``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from simbench.profiles import load_profile
from simbench.profiles.calibrate import default_calibration_path
from simbench.schedule import schedule
from simbench.settings import Scenario, official_settings, resolve
from simbench.sim import run_engine, simulate, sut_from_profile
from simbench.summary import summarize


def offline(profile: str, seconds: float, governor=None, ambient=None) -> dict:
    prof = load_profile(profile)
    mp = prof.models["resnet50"]
    qps = mp.scenarios["Offline"].settings["offline_expected_qps"]
    s = dataclasses.replace(official_settings("resnet50", "Offline"), offline_expected_qps=qps, min_duration_ms=int(seconds * 1000))
    sut = sut_from_profile(prof, "resnet50", Scenario.Offline, governor=governor, ambient_c=ambient)
    eff = resolve(s, 50_000, 1024)
    t0 = time.perf_counter()
    out = run_engine(eff, schedule(eff), sut, 0, record=False)
    wall = time.perf_counter() - t0
    samples = eff.samples_per_query
    end_s = out.end_ns / 1e9
    energy = float(out.energy_wns.sum()) / 1e9
    temps = out.tl_temperature_c
    return {
        "profile": profile, "governor": governor, "ambient_c": ambient, "min_duration_s": seconds,
        "samples": int(samples), "run_s": end_s, "samples_per_s": samples / end_s,
        "avg_device_power_w": energy / end_s, "energy_per_sample_j": energy / samples,
        "peak_temperature_c": float(temps[temps == temps].max()) if (temps == temps).any() else None,
        "wall_s": wall,
    }


def server(seconds: float, governor, ambient=None, qps=30000.0) -> dict:
    prof = load_profile("a100")
    s = dataclasses.replace(official_settings("resnet50", "Server"), server_target_qps=qps, min_duration_ms=int(seconds * 1000))
    sut = sut_from_profile(prof, "resnet50", Scenario.Server, governor=governor, ambient_c=ambient)
    run = simulate(s, sut, engine="numba")
    sm = summarize(run.trace, run.effective, timeline=run.timeline)
    p = sm.extra.get("device_power", {})
    return {
        "governor": governor, "ambient_c": ambient, "min_duration_s": seconds, "target_qps": qps,
        "queries": sm.query_count, "p99_latency_ms": sm.latency_percentiles_ns[0.99] / 1e6,
        "result": "VALID" if sm.result_valid else "INVALID: " + "; ".join(sm.invalid_reasons),
        "avg_device_power_w": p.get("avg_device_power_w"), "peak_temperature_c": p.get("peak_temperature_c"),
        "time_throttled_s": p.get("time_throttled_s"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/dvfs_acceptance.json")
    ap.add_argument("--quick", action="store_true", help="shorter runs (60 s instead of 600 s), for a smoke check")
    args = ap.parse_args()
    long_s = 60.0 if args.quick else 600.0
    cal = json.loads(Path(default_calibration_path()).read_text())
    entries = {(e["round"], e["benchmark"], e["gpu_board_power_default_W"]): e for e in cal["power_cap_comparisons"]}
    res: dict = {"power_cap": [], "thermal": [], "maxq_power": {}, "min_duration_effect": []}
    for profile, key in (("a100", ("v3.0", "resnet50", 300)), ("h100", ("v3.0", "resnet50", 350))):
        e = entries[key]
        limit = load_profile(profile).power_limit_w.value
        cap = round(e["power_limit_ratio"] * limit, 1)
        base = offline(profile, long_s)
        capped = offline(profile, long_s, governor=f"power_cap:{cap:g}")
        ratio = capped["samples_per_s"] / base["samples_per_s"]
        row = {
            "profile": profile, "cap_w": cap, "power_limit_w": limit, "uncapped": base, "capped": capped,
            "simulated_ratio": ratio, "published_ratio": e["throughput_ratio_maxq_over_maxp"],
            "published_entry": f"power_cap_comparisons[round={key[0]}, benchmark={key[1]}, gpu_board_power_default_W={key[2]}] ({e['sources'][1]})",
            "difference_points": 100 * (ratio - e["throughput_ratio_maxq_over_maxp"]),
        }
        res["power_cap"].append(row)
        print(f"power cap {profile} {cap:g} W: simulated ratio {ratio:.3f}, published {e['throughput_ratio_maxq_over_maxp']:.3f}"
              f" ({row['difference_points']:+.1f} points); capped power {capped['avg_device_power_w']:.1f} W", flush=True)
    for secs in (10.0, long_s, 2 * long_s):
        r = offline("a100", secs, governor="thermal", ambient=45.0)
        res["thermal"].append(r)
        print(f"thermal 45 C, {secs:g} s Offline: {r['samples_per_s']:,.1f} samples/s, peak {r['peak_temperature_c']:.1f} C", flush=True)
    t = res["thermal"]
    res["thermal_summary"] = {
        "10s_over_long": t[0]["samples_per_s"] / t[1]["samples_per_s"],
        "long_vs_double_pct": 100 * (t[1]["samples_per_s"] / t[2]["samples_per_s"] - 1),
    }
    pm = next(m for m in cal["mlperf_power_measurements"] if m["system"] == "A100-PCIe-80GBx8_TRT_MaxQ" and m["benchmark"] == "resnet50")
    capped = res["power_cap"][0]["capped"]
    res["maxq_power"] = {
        "simulated_avg_device_power_w": capped["avg_device_power_w"],
        "simulated_8_gpu_power_w": 8 * capped["avg_device_power_w"],
        "simulated_energy_per_sample_j": capped["energy_per_sample_j"],
        "published_mean_system_power_w": pm["mean_W"],
        "published_energy_per_sample_j": pm["mean_W"] / entries[("v3.0", "resnet50", 300)]["maxq_value"],
        "published_idle_before_run_w": pm["pre_window_first5_W"],
        "published_source": pm["source"],
        "published_includes": "whole-system AC power (spl.txt 'Watts', 1 Hz) of an 8 x A100-PCIe-80GB server: 8 GPUs at a 195 W cap plus host CPUs, memory, fans and PSU losses",
    }
    print("maxq power:", json.dumps(res["maxq_power"], indent=1), flush=True)
    durations = sorted({10.0, 60.0, long_s})
    for gov, amb, qps in (("thermal", 45.0, 30000.0), ("power_cap:260", None, 25000.0)):
        for secs in durations:
            r = server(secs, gov, amb, qps)
            res["min_duration_effect"].append(r)
            print(f"Server {qps:g} QPS {gov} {secs:g} s: p99 {r['p99_latency_ms']:.2f} ms, {r['result']}", flush=True)
        for secs in durations:
            r = offline("a100", secs, governor=gov, ambient=amb)
            res["min_duration_effect"].append({"scenario": "Offline", **r})
            print(f"Offline {gov} {secs:g} s: {r['samples_per_s']:,.1f} samples/s", flush=True)
    Path(args.out).write_text(json.dumps(res, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
