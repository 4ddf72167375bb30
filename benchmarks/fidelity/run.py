"""Fidelity benchmark: how well does a measured profile predict the next real run?

One command (docs/fidelity.md has the method and the tables)::

    python benchmarks/fidelity/run.py --out fidelity_results            # full, ~25-30 min
    python benchmarks/fidelity/run.py --out fidelity_quick --quick      # smoke run, ~6 min

Steps, all with the ``simbench`` CLI of this checkout (each command is logged):

1. ``simbench profile build --threads 1``: kernels -> roofline -> ``local.yaml``.
2. Per model (onnx:resnet50, onnx:small), real ONNX Runtime runs (1 intra-op thread, 1
   worker): SingleStream, and an Offline sweep of static batch sizes.
3. Roofline-only error: the roofline prediction of step 1 against the measured median
   per-batch latency of the sweep (batch 1..64 for ResNet-50).
4. ``simbench profile fit`` from SingleStream + the Offline sweep only.
5. Server at 4 loads (30/50/70/90 % of the one-worker capacity 1 / latency(1)), without
   batching and with dynamic batching (max 8, timeout = latency(1) / 2): ``simbench
   simulate`` on the fitted profile (predicted) against ``simbench benchmark`` (measured,
   ``--repeats`` runs, different seeds). p50/p90/p99 error of the prediction against the
   mean of the repeats, beside the repeats' own spread (max - min over mean).
6. Peak QPS: the load at which p99 reaches 5 x the SingleStream median, by linear
   interpolation of p99 against QPS over the 4 loads, predicted and measured.
7. Concurrency: Offline at batch 1 with 2 workers (2 concurrent sessions) against 1
   worker: the stream-sharing gain (``simbench.profiles.concurrency``).

Writes ``results.json``, ``tables.md`` and ``fidelity.html`` (Plotly, JS inlined) in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LOADS = (0.3, 0.5, 0.7, 0.9)
MODELS = {
    # name: (Server run seconds full/quick, SingleStream seconds full/quick, sweep batch sizes)
    # ss_hint_ms: SingleStream's expected-latency hint, below the real latency so LoadGen's
    # pre-generated queries (2 * min_duration / hint + 1) last the whole min_duration; with the
    # 10 ms default the small CNN (1.2 ms a query) ran out after ~1.3 s of a 4 s run.
    "resnet50": {"server_s": (20.0, 6.0), "ss_s": (20.0, 8.0), "ss_hint_ms": 25.0, "sweep": (1, 2, 4, 8, 16, 32, 64)},
    "small": {"server_s": (10.0, 4.0), "ss_s": (10.0, 4.0), "ss_hint_ms": 0.5, "sweep": (1, 2, 4, 8, 16)},
}
SIM_QUERIES = 20000  # simulated Server queries per point (the prediction's own p99 is then tight)
PEAK_BOUND_X = 5.0  # peak = the QPS where Server p99 reaches 5 x SingleStream's p99 (docs/fidelity.md)


def _cli(args: list[str], log: list, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "simbench.cli.main", *args]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    log.append({"cmd": "simbench " + " ".join(args), "rc": r.returncode, "s": round(time.perf_counter() - t, 1)})
    if r.returncode != 0:
        raise SystemExit(f"failed: simbench {' '.join(args)}\n{r.stderr[-2000:]}")
    return r


def _latencies(trace_path: Path) -> dict:
    from simbench.stats import loadgen_percentile
    from simbench.trace import read_trace

    tr = read_trace(trace_path)
    lat = tr.query_latencies_ns()
    span = (tr.complete_ns.max() - tr.issue_ns.min()) / 1e9
    out = {
        "p50": float(loadgen_percentile(lat, 0.50)),
        "p90": float(loadgen_percentile(lat, 0.90)),
        "p99": float(loadgen_percentile(lat, 0.99)),
        "queries": int(lat.size),
        "completed_qps": float(len(tr) / span),
        "span_s": float(span),
        "ran_out_of_queries": bool((tr.metadata or {}).get("ran_out_of_queries", False)),
    }
    # Where the time goes (per sample): lag = issued - issue (the issue thread late behind the
    # schedule), dispatch = start - issued (queueing + worker wake-up), service = complete - start.
    parts = {"service": (tr.complete_ns, tr.start_ns)}
    if tr.issued_ns is not None:
        parts["lag"] = (tr.issued_ns, tr.issue_ns)
        parts["dispatch"] = (tr.start_ns, tr.issued_ns)
    for name, (a, b) in parts.items():
        if a is None or b is None:
            continue
        d = (a - b).astype(np.int64)
        out[f"{name}_p50"] = float(loadgen_percentile(d, 0.50))
        out[f"{name}_p99"] = float(loadgen_percentile(d, 0.99))
        out[f"{name}_max"] = float(d.max())
    return out


def _noise_mean(model) -> float:
    """Mean of a fitted quantile noise law (the integral of its piecewise-linear quantile
    function), 1 without noise: ``E[service(1)] = latency(1) * mean``."""
    pts = getattr(model.noise, "points", None)
    if not pts:
        return 1.0
    p = np.array([a for a, _ in pts]); q = np.array([b for _, b in pts])
    return float(np.sum(np.diff(p) * (q[1:] + q[:-1]) / 2))


_PROBE = r"""
import sys, time
end = time.perf_counter_ns() + int(float(sys.argv[1]) * 1e9)
gaps = []
clock = time.perf_counter_ns
last = clock()
while last < end:
    now = clock()
    if now - last > 200_000:
        gaps.append(now - last)
    last = now
print(" ".join(map(str, gaps)))
"""


def _stall_probe(seconds: float) -> dict:
    """How often this machine takes the CPU away from a running thread (a ``sysjitter``-style
    busy loop in its own process, at the benchmark's priority): gaps > 0.2 ms in its clock
    readings, their rate per second by size and the share of wall time they take."""
    r = subprocess.run([sys.executable, "-c", _PROBE, str(seconds)], capture_output=True, text=True)
    g = np.array([int(x) for x in r.stdout.split()], dtype=np.int64)
    return {"seconds": seconds, "lost_share": float(g.sum() / (seconds * 1e9)),
            "max_ms": float(g.max() / 1e6) if g.size else 0.0,
            **{f"per_s_over_{t}ms": float(np.count_nonzero(g > t * 1e6) / seconds) for t in (1, 5, 20)}}


def _batch_medians(trace_path: Path) -> dict[int, float]:
    from simbench.profiles.fit import batch_service_times
    from simbench.trace import read_trace

    bt = batch_service_times(read_trace(trace_path), str(trace_path))
    return {int(s): float(np.median(bt.service_ns[bt.batch_size == s])) for s in np.unique(bt.batch_size)}


def _peak(qps: list[float], p99: list[float], bound: float) -> float | str:
    """QPS where p99 first reaches ``bound`` (linear between loads), or ``'< lowest load'`` /
    ``'> highest load'`` when the curve is above / below the bound at every load."""
    if p99[0] > bound:
        return "< lowest load"
    for i in range(1, len(qps)):
        if p99[i - 1] <= bound < p99[i]:
            return qps[i - 1] + (bound - p99[i - 1]) * (qps[i] - qps[i - 1]) / (p99[i] - p99[i - 1])
    return "> highest load"


def run(out: Path, quick: bool, repeats: int, models: tuple[str, ...] = tuple(MODELS)) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    log: list = []
    res: dict = {"quick": quick, "repeats": repeats, "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "load_average_start": os.getloadavg(), "commands": log, "models": {}}
    qi = 1 if quick else 0
    res["stall_probe_start"] = _stall_probe(5.0)
    profile = out / "local.yaml"
    _cli(["profile", "build", "--out", str(profile), "--threads", "1", "--models", ",".join(models)], log, out)
    from simbench.profiles import load_profile

    roofline_prof = load_profile(profile)
    res["roofline"] = {k: getattr(roofline_prof.roofline, k).value for k in
                       ("fp32_flops_per_s", "memory_bytes_per_s", "dispatch_overhead_ns")}
    common = ["--threads", "1", "--min-duration-s"]
    for m in models:
        cfg = MODELS[m]
        mres: dict = {}
        d = out / m
        ss_dir = d / "ss"
        _cli(["benchmark", "--sut", f"onnx:{m}", "--scenario", "SingleStream", *common, str(cfg["ss_s"][qi]),
              "--min-query-count", "30", "--target-latency-ms", str(cfg["ss_hint_ms"]), "--out", str(ss_dir)], log, out)
        ss = _latencies(ss_dir / "SingleStream" / "trace.parquet")
        mres["single_stream"] = ss
        sweep_traces = []
        measured_b = {}
        for b in cfg["sweep"]:
            sd = d / f"offline_b{b}"
            n = max(3 * b, 24 if m == "resnet50" else 120)
            _cli(["benchmark", "--sut", f"onnx:{m}", "--scenario", "Offline", "--batching", str(b), *common, "0.1",
                  "--min-query-count", str(n), "--out", str(sd)], log, out)
            sweep_traces.append(sd / "Offline" / "trace.parquet")
            measured_b[b] = _batch_medians(sd / "Offline" / "trace.parquet")[b]
        # 3. roofline-only error
        pts = {p.batch: p.latency_ns for p in roofline_prof.models[m].latency.points}
        mres["roofline_vs_measured"] = [
            {"batch": b, "predicted_ns": float(np.interp(b, list(pts), list(pts.values()))), "measured_ns": v,
             "error": float(np.interp(b, list(pts), list(pts.values()))) / v - 1}
            for b, v in measured_b.items()
        ]
        # 4. fit from SingleStream + sweep only
        fit_args = ["profile", "fit", "--trace", str(ss_dir / "SingleStream" / "trace.parquet")]
        for t in sweep_traces:
            fit_args += ["--trace", str(t)]
        _cli(fit_args + ["--into", str(profile), "--model", m, "--form", "table"], log, out)
        fitted = load_profile(profile).models[m]
        l1 = fitted.latency.latency_ns(1)
        # Loads are fractions of the one-worker capacity 1 / E[service(1)] (utilisation is
        # arrival rate x MEAN service time); the fitted mean is latency(1) (a median) times the
        # noise law's mean. (1 / latency(1) overstated capacity by that mean, 1.17 for the
        # small CNN, so "90 %" was an overloaded queue in the simulator.)
        mean_s1 = l1 * _noise_mean(fitted)
        capacity = 1e9 / mean_s1
        timeout_us = round(l1 / 2e3)
        mres["fitted_latency_ns"] = {p.batch: p.latency_ns for p in fitted.latency.points}
        mres["fitted_mean_service_1_ns"] = mean_s1
        mres["capacity_qps"] = capacity
        bound = PEAK_BOUND_X * ss["p99"]
        mres["peak_bound_ns"] = bound
        mres["server"] = {}
        for label, batching in (("none", "none"), ("dynamic", f"dynamic:8:{timeout_us}")):
            rows = []
            for load in LOADS:
                qps = round(load * capacity, 3)
                sim_dir = d / f"sim_{label}_{load}"
                _cli(["simulate", "--profile", str(profile), "--model", m, "--scenario", "Server", "--target-qps", str(qps),
                      "--batching", batching, "--min-duration-s", "1", "--min-query-count", str(SIM_QUERIES),
                      "--out", str(sim_dir)], log, out)
                pred = _latencies(sim_dir / "Server" / "trace.parquet")
                reps = []
                for r in range(repeats):
                    rd = d / f"real_{label}_{load}_r{r}"
                    _cli(["benchmark", "--sut", f"onnx:{m}", "--scenario", "Server", "--target-qps", str(qps),
                          "--batching", batching, *common, str(cfg["server_s"][qi]), "--min-query-count", "1",
                          "--seed", str(1000 + r), "--out", str(rd)], log, out)
                    reps.append(_latencies(rd / "Server" / "trace.parquet"))
                meas = {k: float(np.mean([x[k] for x in reps])) for k in ("p50", "p90", "p99", "completed_qps")}
                spread = {k: float((max(x[k] for x in reps) - min(x[k] for x in reps)) / meas[k]) for k in ("p50", "p90", "p99")}
                err = {k: pred[k] / meas[k] - 1 for k in ("p50", "p90", "p99")}
                rows.append({"load": load, "target_qps": qps, "predicted": pred, "measured": meas,
                             "repeats": reps, "spread": spread, "error": err})
            q = [r["target_qps"] for r in rows]
            pk_pred = _peak(q, [r["predicted"]["p99"] for r in rows], bound)
            pk_meas = _peak(q, [r["measured"]["p99"] for r in rows], bound)
            mres["server"][label] = {"batching": batching, "rows": rows, "peak_predicted_qps": pk_pred,
                                     "peak_measured_qps": pk_meas,
                                     "peak_error": (pk_pred / pk_meas - 1) if isinstance(pk_pred, float) and isinstance(pk_meas, float) else None}
        # 7. concurrency: 2 workers vs 1, Offline batch 1
        cdir = d / "offline_b1_w2"
        n = 24 if m == "resnet50" else 120
        _cli(["benchmark", "--sut", f"onnx:{m}", "--scenario", "Offline", "--batching", "1", *common, "0.1",
              "--min-query-count", str(2 * n), "--workers", "2", "--out", str(cdir)], log, out)
        from simbench.profiles.concurrency import fit_concurrency
        from simbench.profiles.fit import batch_service_times
        from simbench.trace import read_trace

        one = batch_service_times(read_trace(d / "offline_b1" / "Offline" / "trace.parquet"), "w1")
        two = batch_service_times(read_trace(cdir / "Offline" / "trace.parquet"), "w2")
        cf = fit_concurrency(one, two, 2)
        mres["concurrency"] = {"gain": cf.gain, "slowdown_by_in_flight": cf.slowdown_by_in_flight,
                               "batches_by_in_flight": cf.batches_by_in_flight,
                               "throughput_ratio": cf.throughput_ratio, "qps_1_worker": cf.single_qps,
                               "qps_2_workers": cf.concurrent_qps}
        # ... and into a profile (streams), whose simulated 2-worker Offline throughput is
        # checked against the measured one
        sprof = out / "local_streams.yaml"
        _cli(fit_args + ["--concurrent-trace", str(cdir / "Offline" / "trace.parquet"), "--into", str(sprof),
                         "--model", m, "--form", "table"], log, out)
        sim_c = d / "sim_offline_b1_streams"
        _cli(["simulate", "--profile", str(sprof), "--model", m, "--scenario", "Offline", "--batching", "1",
              "--min-duration-s", "0.1", "--min-query-count", str(20 * n), "--out", str(sim_c)], log, out)
        sim_qps = _latencies(sim_c / "Offline" / "trace.parquet")["completed_qps"]
        mres["concurrency"]["simulated_qps_2_streams"] = sim_qps
        mres["concurrency"]["simulated_qps_error"] = sim_qps / cf.concurrent_qps - 1
        res["models"][m] = mres
        (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    res["stall_probe_end"] = _stall_probe(5.0)
    res["load_average_end"] = os.getloadavg()
    res["finished_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    return res


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:+.1%}"


def tables(res: dict) -> str:
    lines = [f"Run {res['started_utc']} – {res.get('finished_utc', '?')}, load average at start "
             f"{res['load_average_start'][0]:.1f}, end {res.get('load_average_end', [0])[0]:.1f}; "
             f"{res['repeats']} repeats per real Server point{' (quick)' if res['quick'] else ''}.", ""]
    r = res["roofline"]
    lines += [f"Roofline (`simbench profile build --threads 1`): fp32 {r['fp32_flops_per_s'] / 1e9:.1f} GFLOP/s, "
              f"memory {r['memory_bytes_per_s'] / 1e9:.2f} GB/s, dispatch {r['dispatch_overhead_ns'] / 1e3:.2f} us.", ""]
    for key, when in (("stall_probe_start", "start"), ("stall_probe_end", "end")):
        pr = res.get(key)
        if pr:
            lines.append(f"Stall probe at the {when} (a busy loop in its own process for {pr['seconds']:.0f} s: how often the "
                         f"machine takes the CPU away): {pr['per_s_over_1ms']:.1f} gaps/s > 1 ms, {pr['per_s_over_5ms']:.1f}/s > 5 ms, "
                         f"{pr['per_s_over_20ms']:.1f}/s > 20 ms, longest {pr['max_ms']:.1f} ms, {pr['lost_share']:.1%} of the time lost.")
    lines.append("")
    for m, mres in res["models"].items():
        lines += [f"### {m}: roofline-only latency(batch) (no model run)", "",
                  "| batch | roofline (ms) | measured median (ms) | error |", "|---:|---:|---:|---:|"]
        for row in mres["roofline_vs_measured"]:
            lines.append(f"| {row['batch']} | {row['predicted_ns'] / 1e6:.2f} | {row['measured_ns'] / 1e6:.2f} | {_pct(row['error'])} |")
        lines += ["", f"### {m}: Server, fitted profile vs real runs", "",
                  (f"One-worker capacity 1/E[service(1)] = {mres['capacity_qps']:.2f} QPS (fitted mean service "
                   f"{mres['fitted_mean_service_1_ns'] / 1e6:.3f} ms)" if "fitted_mean_service_1_ns" in mres else
                   f"One-worker capacity 1/latency(1) = {mres['capacity_qps']:.2f} QPS")
                  + f"; SingleStream p50 {mres['single_stream']['p50'] / 1e6:.2f} ms, p99 {mres['single_stream']['p99'] / 1e6:.2f} ms"
                  + f" ({mres['single_stream']['queries']} queries in {mres['single_stream'].get('span_s', float('nan')):.1f} s); "
                  f"peak bound (p99) {mres['peak_bound_ns'] / 1e6:.1f} ms.", "",
                  "| batching | load | QPS | p50 pred / meas (ms) | p50 err | p90 err | p99 pred / meas (ms) | p99 err | run spread p50 / p90 / p99 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for label, s in mres["server"].items():
            for row in s["rows"]:
                p, q, e, sp = row["predicted"], row["measured"], row["error"], row["spread"]
                lines.append(
                    f"| {s['batching']} | {row['load']:.0%} | {row['target_qps']:.2f} | {p['p50'] / 1e6:.1f} / {q['p50'] / 1e6:.1f} | "
                    f"{_pct(e['p50'])} | {_pct(e['p90'])} | {p['p99'] / 1e6:.1f} / {q['p99'] / 1e6:.1f} | {_pct(e['p99'])} | "
                    f"{sp['p50']:.0%} / {sp['p90']:.0%} / {sp['p99']:.0%} |")
        lines += ["", "Where the measured p99 comes from (mean over the repeats of each part's own p99, ms): lag = issued - "
                  "scheduled (the issue thread late), dispatch = start - issued (queue + worker wake-up), service = "
                  "complete - start.", "",
                  "| batching | load | latency p99 | lag p99 / max | dispatch p99 | service p50 / p99 / max |",
                  "|---|---:|---:|---:|---:|---:|"]
        for label, s in mres["server"].items():
            for row in s["rows"]:
                reps = row["repeats"]
                if "lag_p99" not in reps[0]:
                    continue
                mm = lambda k: float(np.mean([x[k] for x in reps])) / 1e6  # noqa: E731
                lines.append(f"| {s['batching']} | {row['load']:.0%} | {row['measured']['p99'] / 1e6:.1f} | "
                             f"{mm('lag_p99'):.2f} / {mm('lag_max'):.1f} | {mm('dispatch_p99'):.2f} | "
                             f"{mm('service_p50'):.2f} / {mm('service_p99'):.2f} / {mm('service_max'):.1f} |")
        lines += ["", "| batching | peak QPS predicted | peak QPS measured | error |", "|---|---:|---:|---:|"]
        for label, s in mres["server"].items():
            f = lambda v: v if isinstance(v, str) else f"{v:.2f}"  # noqa: E731
            q = [r["target_qps"] for r in s["rows"]]
            pp = _peak(q, [r["predicted"]["p99"] for r in s["rows"]], mres["peak_bound_ns"])
            pm = _peak(q, [r["measured"]["p99"] for r in s["rows"]], mres["peak_bound_ns"])
            err = pp / pm - 1 if isinstance(pp, float) and isinstance(pm, float) else None
            lines.append(f"| {s['batching']} | {f(pp)} | {f(pm)} | {_pct(err)} |")
        lines += ["", "Acceptance (p99 within 10 % at every load up to 80 % of the measured peak; peak within 10 %):", ""]
        for label, s in mres["server"].items():
            q = [r["target_qps"] for r in s["rows"]]
            pm = _peak(q, [r["measured"]["p99"] for r in s["rows"]], mres["peak_bound_ns"])
            limit = 0.8 * (pm if isinstance(pm, float) else (q[-1] if pm == "> highest load" else 0.0))
            rows = [r for r in s["rows"] if r["target_qps"] <= limit]
            if not rows:
                pm_txt = pm if isinstance(pm, str) else f"{pm:.2f} QPS"
                lines.append(f"- {s['batching']}: no load is at or below 80 % of the measured peak ({pm_txt}).")
                continue
            worst = max(rows, key=lambda r: abs(r["error"]["p99"]))
            loads_txt = ", ".join(f"{r['load']:.0%}" for r in rows)
            lines.append(f"- {s['batching']}: loads {loads_txt} are at or below 80 % of the "
                         f"measured peak; largest p99 error {_pct(worst['error']['p99'])} (at {worst['load']:.0%}, where the "
                         f"repeats' own p99 spread is {worst['spread']['p99']:.0%}); "
                         + ("meets 10 %." if abs(worst["error"]["p99"]) <= 0.10 else "does not meet 10 %."))
        c = mres["concurrency"]
        lines += ["", f"Concurrency (Offline batch 1, 2 workers vs 1): throughput x{c['throughput_ratio']:.2f} "
                  f"({c['qps_1_worker']:.2f} -> {c['qps_2_workers']:.2f} samples/s); per-batch slowdown by batches in "
                  f"flight {c['slowdown_by_in_flight']}; fitted stream-sharing gain g = {c['gain']:.3f}"
                  + (f"; the profile with `streams` simulates {c['simulated_qps_2_streams']:.2f} samples/s "
                     f"({_pct(c['simulated_qps_error'])} against the 2-worker run)." if "simulated_qps_2_streams" in c else "."), ""]
    return "\n".join(lines)


def figure(res: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    keys = [(m, lab) for m, mres in res["models"].items() for lab in mres["server"]]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=[f"{m}, batching {lab}" for m, lab in keys])
    for i, (m, lab) in enumerate(keys, start=1):
        rows = res["models"][m]["server"][lab]["rows"]
        q = [r["target_qps"] for r in rows]
        fig.add_trace(go.Scatter(x=q, y=[r["predicted"]["p99"] / 1e6 for r in rows], mode="lines+markers",
                                 name="predicted p99", line={"color": "#1f77b4"}, showlegend=i == 1), row=1, col=i)
        fig.add_trace(go.Scatter(
            x=q, y=[r["measured"]["p99"] / 1e6 for r in rows], mode="markers", name="measured p99 (mean of repeats)",
            marker={"color": "#d62728", "size": 9}, showlegend=i == 1,
            error_y={"type": "data", "symmetric": False,
                     "array": [(max(x["p99"] for x in r["repeats"]) - r["measured"]["p99"]) / 1e6 for r in rows],
                     "arrayminus": [(r["measured"]["p99"] - min(x["p99"] for x in r["repeats"])) / 1e6 for r in rows]}),
            row=1, col=i)
        fig.update_xaxes(title_text="Server target QPS", row=1, col=i)
        fig.update_yaxes(title_text="p99 latency (ms)", row=1, col=i)
    note = " (quick run)" if res["quick"] else ""
    fig.update_layout(title=f"simbench fidelity: predicted vs measured p99{note}; error bars = min..max of the repeats",
                      height=450, width=380 * len(keys))
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="fidelity_results")
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test, ~6 min)")
    ap.add_argument("--repeats", type=int, default=None, help="real runs per Server point [3; quick: 2]")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)} [all]")
    ap.add_argument("--tables-only", action="store_true", help="re-render tables and figure from results.json")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.tables_only:
        res = json.loads((out / "results.json").read_text())
    else:
        repeats = args.repeats or (2 if args.quick else 3)
        if repeats < 1:
            ap.error("--repeats: expected >= 1")
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        bad = [m for m in models if m not in MODELS]
        if bad or not models:
            ap.error(f"--models: expected names from {', '.join(MODELS)}, got {args.models!r}")
        res = run(out, args.quick, repeats, models)
    text = tables(res)
    (out / "tables.md").write_text(text + "\n")
    figure(res, out / "fidelity.html")
    print(text)
    print(f"\nwrote {out / 'results.json'}, {out / 'tables.md'}, {out / 'fidelity.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
