"""``simbench profile``: list, show, calibrate, build, predict and fit hardware profiles."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.text import Text

from simbench.cli._common import console, handle_errors
from simbench.errors import SimbenchInputError

app = typer.Typer(help="List, inspect, calibrate, measure and fit hardware profiles.", no_args_is_help=True)


@app.command("list")
@handle_errors
def list_cmd() -> None:
    """List the shipped hardware profiles with their device and models."""
    from rich.table import Table

    from simbench.profiles import list_profiles, load_profile

    table = Table(title="Shipped hardware profiles")
    for col in ("name", "device", "models"):
        table.add_column(col)
    for name in list_profiles():
        p = load_profile(name)
        table.add_row(name, p.device, ", ".join(p.models))
    console().print(table)


@app.command("show")
@handle_errors
def show_cmd(
    name: Annotated[str, typer.Argument(help="Profile name (e.g. a100) or path to a YAML file.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the validated profile as JSON.")] = False,
) -> None:
    """Show one profile: specs, latency tables, noise, harness settings and sources.

    Example: simbench profile show a100
    """
    from rich.table import Table

    from simbench.profiles import load_profile

    p = load_profile(name)
    if json_out:
        typer.echo(p.model_dump_json(indent=2))
        return
    c = console()
    c.print(Text.assemble((p.name, "bold"), f"  {p.device}  {p.description}"))
    specs = Table(title="specs")
    for col in ("spec", "value", "unit", "source"):
        specs.add_column(col, overflow="fold")
    for k, v in p.specs.items():
        specs.add_row(k, f"{v.value:g}", v.unit, v.source)
    c.print(specs)
    for model, mp in p.models.items():
        how = " ".join(x for x in (mp.precision, mp.framework) if x)  # bert-99's precision is unpublished ('')
        t = Table(title=f"{model}: latency(batch)" + (f"  [{how}]" if how else ""))
        for col in ("batch", "median latency (ns)", "samples/s", "source"):
            t.add_column(col, overflow="fold")
        for pt in mp.latency.points:
            t.add_row(str(pt.batch), f"{pt.latency_ns:,.0f}", f"{pt.batch / pt.latency_ns * 1e9:,.1f}", pt.source)
        c.print(t)
        c.print(f"  noise: {mp.noise.kind} (mean multiplier {mp.noise.mean:.4f})")
        for scen, h in mp.scenarios.items():
            b = h.batching
            bs = "none" if b.kind == "none" else f"dynamic max_batch={b.max_batch} timeout_us={b.timeout_us:g}"
            c.print(f"  {scen}: batching {bs}, replicas {h.replicas}, settings {h.settings}")


@app.command("calibrate")
@handle_errors
def calibrate_cmd(
    calibration: Annotated[Optional[str], typer.Option("--calibration", help="published_calibration.json \\[default: the copy shipped in simbench/data].")] = None,
    out: Annotated[str, typer.Option(help="Folder for the <name>.yaml files.")] = "hardware_profiles",
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 if any file would change.")] = False,
    report: Annotated[bool, typer.Option("--report", help="Print the secondary checks (Markdown) instead.")] = False,
) -> None:
    """(Re)build the shipped profiles a100, h100, l4, t4 from the published calibration file.

    Example (from a source checkout): simbench profile calibrate --check
    """
    import os
    from pathlib import Path

    from simbench.profiles.calibrate import SHIPPED, calibration_report, load_calibration, write_profiles

    if report and (check or out != "hardware_profiles"):
        raise SimbenchInputError("--report prints the secondary checks and writes nothing: drop --check/--out")
    o = Path(out)
    if o.exists() and not o.is_dir():
        raise SimbenchInputError(f"--out {out}: is a file; expected a folder for the <name>.yaml files")
    if not check and not report:
        parent = o if o.is_dir() else next((a for a in o.parents if a.exists()), Path("."))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise SimbenchInputError(f"--out {out}: {parent} is not writable")
    cal = load_calibration(calibration)
    if report:
        typer.echo(calibration_report(cal))
        return
    existed = {p: p.is_file() for p in (o / f"{n}.yaml" for n in SHIPPED)}
    changed = write_profiles(cal, out, check=check)
    for p in changed:
        if check:
            typer.echo(f"{'out of date' if existed.get(p, p.is_file()) else 'missing'}: {p}", err=True)
        else:
            typer.echo(f"wrote: {p}")
    if check and changed and not any(existed.values()):
        typer.echo(f"note: {out}/ holds none of the shipped profiles; --check compares with a source "
                   "checkout's hardware_profiles/ (run it there, or give --out FOLDER)", err=True)
    if check and changed:
        raise typer.Exit(1)


def _model_paths(models: str) -> dict:
    """``resnet50,small`` or ``name=path.onnx`` items -> {name: path} (built-ins are built)."""
    from pathlib import Path

    from simbench.bench.models import BUILTIN_MODELS, model_path

    items = [m.strip() for m in models.split(",") if m.strip()]
    if not items:
        raise SimbenchInputError("--models: give at least one model (e.g. resnet50)")
    out = {}
    for item in items:
        if "=" in item:
            key, path = item.split("=", 1)
            if not key.strip():
                raise SimbenchInputError(f"--models {item}: expected NAME=PATH.onnx, with a model name before '='")
            if Path(path).is_dir():
                raise SimbenchInputError(f"--models {item}: {path} is a folder; expected an .onnx model file")
            if not Path(path).is_file():
                raise SimbenchInputError(f"--models {item}: {path}: ONNX file not found")
            out[key.strip()] = Path(path)
        elif item in BUILTIN_MODELS:
            out[item] = None
        else:
            raise SimbenchInputError(f"--models: expected names from {sorted(BUILTIN_MODELS)} or NAME=PATH.onnx, got {item!r}")
    return {k: (v if v is not None else model_path(k)) for k, v in out.items()}


@app.command("build")
@handle_errors
def build_cmd(
    out: Annotated[str, typer.Option(help="Profile YAML to write (e.g. local.yaml).")],
    name: Annotated[str, typer.Option(help="Profile name.")] = "local",
    models: Annotated[str, typer.Option(help="ONNX models to predict from the roofline, comma list of built-in names (resnet50, small, tiny) or NAME=PATH.onnx; the first is the default model.")] = "resnet50,small",
    threads: Annotated[Optional[int], typer.Option(help="Kernel threads \\[default: every usable CPU].")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny sizes (seconds; for smoke tests, not for predictions).")] = False,
) -> None:
    """Measure this machine with numba kernels (GEMM fp32/int8, convolution, STREAM copy and
    triad, dispatch), fit its roofline, and write a validated profile with the raw timings and
    a roofline-predicted latency table per built-in model.

    Example: simbench profile build --out local.yaml --threads 1
    """
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simbench.profiles.dump import write_profile
    from simbench.profiles.measure import profile_this_machine

    target = Path(out)
    if target.suffix not in (".yaml", ".yml"):
        raise SimbenchInputError(f"--out {out}: expected a .yaml file name")
    if not target.parent.is_dir():
        raise SimbenchInputError(f"--out {out}: folder {target.parent} does not exist")
    model_paths = _model_paths(models)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console(stderr=True), transient=True)
    task = progress.add_task("measuring", total=None)

    started = []

    def on_progress(done: int, total: int, label: str) -> None:
        if not started:  # at the first kernel: input errors come before any progress bar
            progress.start()
            started.append(True)
        progress.update(task, completed=done, total=total, description=label)

    try:
        prof, sweep, fit = profile_this_machine(
            model_paths, name=name, quick=quick, threads=threads, on_progress=on_progress
        )
    finally:
        if started:
            progress.stop()
    write_profile(prof, target, header=f"Profile of this machine written by: simbench profile build --out {out}"
                  + (f" --threads {threads}" if threads else "") + (" --quick" if quick else ""))
    c = console()
    c.print(Text.assemble((prof.name, "bold"), f": {prof.device}, {sweep.threads} threads, {sweep.wall_s:.1f} s of kernels"))
    c.print(f"  fp32 {fit.fp32_flops_per_s / 1e9:,.1f} GFLOP/s ({fit.fp32_kernel}), "
            f"memory {fit.memory_bytes_per_s / 1e9:,.2f} GB/s, dispatch {fit.dispatch_overhead_ns / 1e3:,.1f} us")
    for m, mp in prof.models.items():
        unit, (lat1,) = _scaled([mp.latency.points[0].latency_ns], (("s", 1e9), ("ms", 1e6), ("us", 1e3), ("ns", 1.0)))
        c.print(f"  {m}: predicted latency(1) {lat1} {unit}, "
                f"compute-bound share {mp.compute_bound_share:.2f}")
    c.print(f"wrote {target}")


@app.command("predict")
@handle_errors
def predict_cmd(
    profile: Annotated[str, typer.Option(help="Profile name (a100 ...) or path to a YAML file.")],
    onnx: Annotated[str, typer.Option("--onnx", help="An .onnx file, or a built-in model: onnx:resnet50, onnx:small, onnx:tiny.")],
    batch: Annotated[str, typer.Option(help="Batch sizes, comma list.")] = "1,2,4,8,16,32,64",
    precision: Annotated[Optional[str], typer.Option(help="fp32, fp16 or int8 \\[default: the profile's measured roofline: fp32; a datasheet profile: int8].")] = None,
    overhead_us: Annotated[Optional[float], typer.Option("--overhead-us", help="Per-node dispatch overhead, us \\[default: the profile's measured one; 0 for a datasheet profile].")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Predict an ONNX model's latency(batch) on a profile from its roofline alone: per node
    max(compute, memory) + overhead, summed over the (fused) graph; no model run.

    Example: simbench profile predict --profile a100 --onnx onnx:resnet50 --precision int8
    """
    import json

    from rich.table import Table

    from simbench.profiles import load_profile
    from simbench.profiles.roofline import graph_costs, predict_latency, rates_for

    try:
        batches = tuple(int(b) for b in batch.split(","))
    except ValueError:
        raise SimbenchInputError(f"--batch: expected a comma list of integers, got {batch!r}") from None
    if any(b < 1 for b in batches):
        raise SimbenchInputError(f"--batch: batch sizes must be >= 1, got {batch!r}")
    if overhead_us is not None and not overhead_us >= 0:
        raise SimbenchInputError(f"--overhead-us: expected >= 0, got {overhead_us}")
    prof = load_profile(profile)
    prec = precision or ("fp32" if prof.roofline is not None else "int8")
    rates = rates_for(prof, prec, overhead_ns=None if overhead_us is None else overhead_us * 1e3)
    path = onnx
    if onnx.startswith("onnx:"):
        from simbench.bench.models import BUILTIN_MODELS, model_path

        if onnx[5:] not in BUILTIN_MODELS:
            raise SimbenchInputError(f"--onnx: built-in models are {', '.join('onnx:' + m for m in BUILTIN_MODELS)}, got {onnx!r}")
        path = str(model_path(onnx[5:]))
    bpe = rates.bytes_per_element
    costs = graph_costs(path, weight_bytes_per_element=bpe, activation_bytes_per_element=bpe)
    pred = predict_latency(costs, rates, batches)
    rows = [
        {"batch": b, "latency_ns": t, "samples_per_s": b / t * 1e9 if t > 0 else None, "compute_bound_share": s,
         "gop": o / 1e9, "mb_moved": y / 1e6}
        for b, t, s, o, y in zip(pred.batches, pred.latency_ns, pred.compute_bound_share, pred.total_ops, pred.total_bytes)
    ]
    if json_out:
        typer.echo(json.dumps({"profile": prof.name, "onnx": onnx, "precision": prec, "rates": {
            "compute_ops_per_s": rates.compute_ops_per_s, "memory_bytes_per_s": rates.memory_bytes_per_s,
            "overhead_ns": rates.overhead_ns, "sources": rates.sources}, "nodes": len(costs.nodes),
            "parameters": costs.parameters, "rows": rows}, indent=2))
        return
    c = console()
    c.print(Text.assemble((costs.model, "bold"), " on ", (prof.name, "bold"), f" ({prof.device}), {prec}: "
            f"{len(costs.nodes)} fused nodes, {costs.parameters:,} parameters"))
    c.print(f"  compute {rates.compute_ops_per_s / 1e12:,.3f} TOP/s ({rates.sources['compute']}); "
            f"memory {rates.memory_bytes_per_s / 1e9:,.1f} GB/s ({rates.sources['memory']}); "
            f"overhead {rates.overhead_ns / 1e3:,.2f} us/node ({rates.sources['overhead']})")
    t = Table(title="roofline latency(batch)")
    lat_unit, lat = _scaled([r["latency_ns"] for r in rows], (("s", 1e9), ("ms", 1e6), ("us", 1e3), ("ns", 1.0)))
    ops_unit, ops = _scaled([r["gop"] * 1e9 for r in rows], (("GOP", 1e9), ("MOP", 1e6), ("kOP", 1e3), ("OP", 1.0)))
    mem_unit, mem = _scaled([r["mb_moved"] * 1e6 for r in rows], (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0)))
    for col in ("batch", f"latency ({lat_unit})", "samples/s", "compute-bound share", ops_unit, f"{mem_unit} moved"):
        t.add_column(col, justify="right")
    for r, tl, to, tm in zip(rows, lat, ops, mem):
        sps = "-" if r["samples_per_s"] is None else f"{r['samples_per_s']:,.1f}"
        t.add_row(str(r["batch"]), tl, sps, f"{r['compute_bound_share']:.2f}", to, tm)
    c.print(t)


def _sig(v: float) -> str:
    """At least 4 significant digits, thousands separated: 1,234 / 123.4 / 12.34 / 1.234."""
    for limit, fmt in ((1000, "{:,.0f}"), (100, "{:.1f}"), (10, "{:.2f}"), (0, "{:.3f}")):
        if abs(v) >= limit:
            return fmt.format(v)
    return "{:.3f}".format(v)


def _scaled(values: list[float], units: tuple[tuple[str, float], ...]) -> tuple[str, list[str]]:
    """One unit for a column: the largest in which the smallest non-zero value is >= 1
    (a tiny model's latency reads "34.86 us", not "0.000 ms")."""
    nonzero = [abs(v) for v in values if v]
    low = min(nonzero) if nonzero else 0.0
    name, scale = next(((n, s) for n, s in units if low >= s), units[-1])
    return name, [_sig(v / scale) for v in values]


def _read_traces(paths: list[str]):
    """(label, Trace) for each ``--trace``: a trace.parquet, a folder holding one, or a
    LoadGen log folder (imported)."""
    from pathlib import Path

    from simbench.errors import TraceError
    from simbench.trace import read_trace

    out = []
    for s in paths:
        p = Path(s)
        if p.is_dir() and (p / "trace.parquet").is_file():
            p = p / "trace.parquet"
        if p.is_dir():
            from simbench.bench.loadgen_logs import find_log_file, import_loadgen_dir

            if find_log_file(p, "detail") is None:
                raise TraceError(f"--trace {s}: a folder with neither trace.parquet nor a LoadGen log"
                                 " (mlperf_log_detail.txt); expected a trace.parquet, a run's scenario folder or a LoadGen log folder")
            run = import_loadgen_dir(p)
            if run.trace is None:
                raise TraceError(f"--trace {s}: LoadGen folder without mlperf_log_trace.json: no per-sample times to fit")
            out.append((f"{s} (LoadGen log import)", run.trace))
        else:
            out.append((s, read_trace(p)))
    return out


@app.command("fit")
@handle_errors
def fit_cmd(
    trace: Annotated[list[str], typer.Option("--trace", help="A trace.parquet from simbench benchmark (either engine), a folder holding one, or a LoadGen log folder; repeat for several.")],
    into: Annotated[str, typer.Option("--into", help="Profile YAML to add the model to (created, describing this machine, if absent).")],
    model: Annotated[str, typer.Option(help="Model name in the profile (e.g. resnet50).")],
    form: Annotated[str, typer.Option(help="'line' (latency = fixed + per-sample cost, median regression) or 'table' (median per batch size).")] = "line",
    min_batches: Annotated[int, typer.Option("--min-batches", help="Fewest batches each batch size must have.")] = 3,
    description: Annotated[str, typer.Option(help="Model description for the profile.")] = "",
    concurrent_trace: Annotated[Optional[list[str]], typer.Option("--concurrent-trace", help="A trace of the same SUT with >= 2 workers: fits the stream-sharing gain into the Server/Offline harness (the --trace runs are the one-worker baseline).")] = None,
) -> None:
    """Fit latency(batch) and the noise law of one model from real traces and write it into a
    profile, with the traces as provenance; --concurrent-trace adds how latency and
    throughput change with concurrent workers (the profile's streams).

    Example: simbench profile fit --trace ss/SingleStream/trace.parquet --trace off8/Offline/trace.parquet --into local.yaml --model resnet50
    """
    from pathlib import Path

    from simbench.profiles.dump import write_profile
    from simbench.profiles.fit import batch_service_times, fit_into_profile, fit_latency, fitted_model

    target = Path(into)
    if target.suffix not in (".yaml", ".yml"):
        raise SimbenchInputError(f"--into {into}: expected a .yaml file name")
    if not target.parent.is_dir():
        raise SimbenchInputError(f"--into {into}: folder {target.parent} does not exist")
    if not model or any(ch.isspace() for ch in model):
        raise SimbenchInputError(f"--model: expected a name without spaces, got {model!r}")
    if not trace:
        raise SimbenchInputError("--trace: give at least one trace")
    times = None
    for label, tr in _read_traces(trace):
        bt = batch_service_times(tr, label)
        times = bt if times is None else times + bt
    single_worker = [t for t in times.traces if (t.get("workers") or 1) != 1]
    if single_worker and concurrent_trace:
        raise SimbenchInputError(
            "--trace: with --concurrent-trace the --trace runs are the one-worker baseline, but "
            + ", ".join(f"{t['path']} has {t['workers']} workers" for t in single_worker)
        )
    streams = None
    cfit = None
    if concurrent_trace:
        from simbench.profiles.concurrency import fit_concurrency

        conc = None
        for label, tr in _read_traces(concurrent_trace):
            bt = batch_service_times(tr, label)
            conc = bt if conc is None else conc + bt
        workers = {t.get("workers") for t in conc.traces}
        if len(workers) != 1 or not isinstance(next(iter(workers)), int) or next(iter(workers)) < 2:
            raise SimbenchInputError(f"--concurrent-trace: expected traces of one SUT with >= 2 workers (sut.workers in the trace metadata), got workers {sorted(map(str, workers))}")
        k = next(iter(workers))
        cfit = fit_concurrency(times, conc, k)
        streams = {"count": k, "gain": round(cfit.gain, 6), "source": (
            f"simbench profile fit: stream-sharing gain by least squares of k / (1 + g (k - 1)) on the per-batch "
            f"slowdowns of {', '.join(t['path'] for t in conc.traces)} ({k} workers) against the one-worker medians; "
            f"throughput ratio {cfit.throughput_ratio:.3f}, median slowdown by batches in flight {cfit.slowdown_by_in_flight}")}
        from simbench.profiles.schema import ScenarioHarness

        if "streams" not in ScenarioHarness.model_fields:
            raise SimbenchInputError("--concurrent-trace: this simbench has no device-model streams field to hold the fit")
    fit = fit_latency(times, form=form, min_batches=min_batches)
    frameworks = sorted({str(t.get("sut")) for t in times.traces if t.get("sut")})
    entry = fitted_model(fit, times, description=description, framework=", ".join(frameworks), streams=streams)
    prof = fit_into_profile(target, model, entry)
    write_profile(prof, target)
    c = console()
    c.print(Text.assemble((model, "bold"), f" into {target} ({fit.n_batches} batches from {len(times.traces)} trace(s), form {fit.form})"))
    c.print(f"  latency(b) = {fit.line_fixed_ns / 1e6:,.3f} ms + {fit.line_per_sample_ns / 1e6:,.3f} ms x b (median regression)")
    for s, m, n in zip(fit.sizes, fit.median_ns, fit.batches_per_size):
        e = fit.empirical[s]
        c.print(f"  batch {s}: {n} batches, latency {m / 1e6:,.3f} ms (raw p50 {e['p50'] / 1e6:,.3f}, p99 {e['p99'] / 1e6:,.3f} ms)")
    c.print("  noise: " + ", ".join(f"q({p:g})={m:.3f}" for p, m in fit.noise_points))
    if cfit is not None:
        c.print(f"  concurrency: {cfit.workers} workers, throughput x{cfit.throughput_ratio:.2f}, stream-sharing gain {cfit.gain:.3f}")
