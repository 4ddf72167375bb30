"""Measure this machine with numba kernels and fit its roofline.

=======================  ==============================================================
``host_description``     CPU model, logical cores, usable cores, platform
``measure_kernels``      time GEMM (fp32, int8), convolution, STREAM copy/triad and a
                         no-op dispatch over size sweeps: warm-up, repeats, medians
``fit_roofline``         robust regressions of time on work: FLOP/s, bytes/s, overhead
``build_local_profile``  both, as a validated ``HardwareProfile`` (no model yet)
=======================  ==============================================================

A roofline (Williams, Waterman & Patterson 2009) bounds the time of a kernel that does
``F`` operations and moves ``Q`` bytes by ``max(F / P, Q / B)``, with ``P`` the achieved peak
operation rate and ``B`` the achieved memory bandwidth; a fixed dispatch cost ``t0`` is paid
per kernel. Each term is fitted here from the kernels of ``simbench.profiles._kernels``:

* ``P`` (fp32, int8, convolution): the slope of ``time = t0 + F / P`` over the size sweep,
  by Huber-robust linear regression (``statsmodels.RLM``) of the per-size median times (the
  median discards repeats slowed by other processes; Huber weights down a whole size that was);
* ``B``: the slope of ``time = t0 + Q / B`` over the STREAM sweep (triad, 3 arrays moved:
  McCalpin's counting; copy, 2 arrays), by the same regression;
* ``t0``: the median time of the no-op kernel.

The fp32 compute roof is the faster of the blocked numba GEMM and the BLAS ``sgemm`` called
from numba: a roofline's roof is the best rate the machine attains. The convolution rate
(im2col + the numba GEMM) is recorded but not used as a roof.

References
----------
S. Williams, A. Waterman, D. Patterson, "Roofline: an insightful visual performance model
for multicore architectures", CACM 52(4), 2009.
J. D. McCalpin, STREAM benchmark, https://www.cs.virginia.edu/stream/ (byte counting).
P. J. Huber, "Robust Estimation of a Location Parameter", Ann. Math. Statist. 35, 1964
(``statsmodels.robust.norms.HuberT``).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from simbench.errors import SimbenchInputError

__all__ = [
    "KernelTiming",
    "KernelSweep",
    "RooflineFit",
    "host_description",
    "measure_kernels",
    "fit_roofline",
    "build_local_profile",
    "profile_this_machine",
    "SWEEPS",
]


@dataclass(frozen=True)
class KernelTiming:
    """One kernel at one size: work, bytes and the repeat times.

    Attributes
    ----------
    kernel : str
        ``gemm_f32``, ``gemm_i8``, ``conv_f32``, ``stream_copy``, ``stream_triad``, ``dispatch``.
    size : str
        Human-readable size (``"m=n=k=256"``).
    ops : float
        Arithmetic operations (FLOP; int8 multiply-adds count 2), 0 for STREAM/dispatch.
    bytes : float
        Bytes moved to/from memory by the textbook count (inputs read once, output written once).
    times_ns : tuple of int
        Wall time of each timed repeat, ns (``time.perf_counter_ns``).
    """

    kernel: str
    size: str
    ops: float
    bytes: float
    times_ns: tuple[int, ...]

    @property
    def median_ns(self) -> float:
        return float(np.median(self.times_ns))

    @property
    def spread(self) -> float:
        """(p75 - p25) / median of the repeats: the relative run-to-run spread."""
        q1, q3 = np.percentile(self.times_ns, [25, 75])
        return float((q3 - q1) / self.median_ns)


@dataclass
class KernelSweep:
    """All timings of one ``measure_kernels`` call, with the conditions they were taken in."""

    timings: list[KernelTiming] = field(default_factory=list)
    threads: int = 1
    repeats: int = 0
    warmup: int = 0
    numba_version: str = ""
    wall_s: float = 0.0


# Size sweeps (quick = for tests and smoke runs). GEMM/conv sizes keep a sweep under ~1 min on
# 2 cores; STREAM arrays go well past the L2 (4 MiB/core) so DRAM bandwidth is measured.
SWEEPS = {
    "full": {
        "gemm_f32": (128, 256, 384, 512, 640),
        "gemm_blas_f32": (256, 384, 512, 768, 1024),
        "gemm_i8": (128, 256, 384, 512),
        "conv_f32": ((64, 56), (128, 28), (256, 14), (64, 112)),  # (channels, spatial), 3x3
        "stream": (1 << 20, 1 << 21, 1 << 22, 1 << 23),  # float64 elements per array
        "repeats": 11,
        "warmup": 2,
        "dispatch_repeats": 501,
    },
    "quick": {
        "gemm_f32": (64, 96, 128),
        "gemm_blas_f32": (64, 128),
        "gemm_i8": (64, 96),
        "conv_f32": ((16, 16), (32, 16)),
        "stream": (1 << 16, 1 << 17, 1 << 18),
        "repeats": 3,
        "warmup": 1,
        "dispatch_repeats": 21,
    },
}


def host_description() -> dict:
    """This machine: CPU model (``/proc/cpuinfo``, else ``platform.processor()``), logical
    CPUs (``os.cpu_count``), CPUs usable by this process (``os.sched_getaffinity``), platform."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count() or 1,
        "usable_cpus": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def _time(fn: Callable[[], None], repeats: int, warmup: int) -> tuple[int, ...]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t)
    return tuple(out)


def _cases(sweep: dict, rng: np.random.Generator):
    """(kernel, size, ops, bytes, callable) for every point of a sweep; arrays made lazily."""
    from simbench.profiles import _kernels as K

    for n in sweep["gemm_f32"]:
        def case(n=n):
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            c = np.empty((n, n), np.float32)
            return lambda: K.gemm_f32(a, b, c)
        yield "gemm_f32", f"m=n=k={n}", 2.0 * n**3, 3.0 * 4 * n * n, case
    for n in sweep["gemm_blas_f32"]:
        def case(n=n):
            a = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal((n, n), dtype=np.float32)
            c = np.empty((n, n), np.float32)
            return lambda: K.gemm_blas_f32(a, b, c)
        yield "gemm_blas_f32", f"m=n=k={n}", 2.0 * n**3, 3.0 * 4 * n * n, case
    for n in sweep["gemm_i8"]:
        def case(n=n):
            a = rng.integers(-128, 128, (n, n), dtype=np.int8)
            b = rng.integers(-128, 128, (n, n), dtype=np.int8)
            c = np.empty((n, n), np.int32)
            return lambda: K.gemm_i8(a, b, c)
        yield "gemm_i8", f"m=n=k={n}", 2.0 * n**3, 2.0 * n * n + 4.0 * n * n, case
    for ch, hw in sweep["conv_f32"]:
        def case(ch=ch, hw=hw):
            x = rng.standard_normal((1, ch, hw, hw), dtype=np.float32)
            w = rng.standard_normal((ch, ch * 9), dtype=np.float32)
            cols = np.empty((ch * 9, hw * hw), np.float32)
            y = np.empty((ch, hw * hw), np.float32)
            return lambda: K.conv2d_im2col(x, w, cols, y, 3, 3, 1, 1)
        ops = 2.0 * ch * ch * 9 * hw * hw
        yield "conv_f32", f"3x3 c_in=c_out={ch} {hw}x{hw}", ops, 4.0 * (2 * ch * hw * hw + 9 * ch * ch), case
    for n in sweep["stream"]:
        def copy_case(n=n):
            a = rng.standard_normal(n)
            c = np.empty(n)
            return lambda: K.stream_copy(a, c)
        def triad_case(n=n):
            a = np.empty(n)
            b = rng.standard_normal(n)
            c = rng.standard_normal(n)
            return lambda: K.stream_triad(a, b, c, 3.0)
        yield "stream_copy", f"n={n}", 0.0, 2.0 * 8 * n, copy_case
        yield "stream_triad", f"n={n}", 2.0 * n, 3.0 * 8 * n, triad_case

    def noop_case():
        a = np.zeros(1)
        return lambda: K.dispatch_noop(a)
    yield "dispatch", "1 element", 0.0, 0.0, noop_case


def measure_kernels(
    *,
    quick: bool = False,
    threads: int | None = None,
    seed: int = 0,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> KernelSweep:
    """Time every kernel of the sweep on this machine.

    Parameters
    ----------
    quick : bool
        Use the small ``SWEEPS['quick']`` sizes (seconds, for tests) instead of ``'full'``.
    threads : int, optional
        numba threads (1 .. ``numba.config.NUMBA_NUM_THREADS``) [default: all usable CPUs].
    seed : int
        Seed of the input arrays (values do not change the timing; the seed makes the run
        repeatable).
    on_progress : callable, optional
        ``on_progress(done, total, label)`` after each kernel size.

    Returns
    -------
    KernelSweep

    Raises
    ------
    ValueError
        ``threads`` outside 1 .. the numba thread pool size.
    """
    import numba

    max_threads = numba.config.NUMBA_NUM_THREADS
    n_threads = host_description()["usable_cpus"] if threads is None else threads
    n_threads = min(n_threads, max_threads) if threads is None else n_threads
    if not isinstance(n_threads, int) or not 1 <= n_threads <= max_threads:
        raise SimbenchInputError(f"--threads: expected 1 .. {max_threads}, got {threads!r}")
    sweep = SWEEPS["quick" if quick else "full"]
    rng = np.random.default_rng(seed)
    cases = list(_cases(sweep, rng))
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    blas_limit = threadpool_limits(limits=n_threads, user_api="blas")
    out = KernelSweep(threads=n_threads, repeats=sweep["repeats"], warmup=sweep["warmup"],
                      numba_version=numba.__version__)
    t0 = time.perf_counter()
    try:
        for i, (kernel, size, ops, nbytes, make) in enumerate(cases):
            fn = make()
            reps = sweep["dispatch_repeats"] if kernel == "dispatch" else sweep["repeats"]
            times = _time(fn, reps, sweep["warmup"])
            out.timings.append(KernelTiming(kernel, size, ops, nbytes, times))
            if on_progress:
                on_progress(i + 1, len(cases), f"{kernel} {size}")
    finally:
        numba.set_num_threads(previous)
        blas_limit.restore_original_limits()
    out.wall_s = time.perf_counter() - t0
    return out


@dataclass(frozen=True)
class RooflineFit:
    """Fitted roofline terms (rates in operations or bytes per second, overhead in ns)."""

    fp32_flops_per_s: float
    fp32_kernel: str
    rates: dict[str, float]
    int8_ops_per_s: float | None
    conv_flops_per_s: float | None
    memory_bytes_per_s: float
    dispatch_overhead_ns: float
    intercepts_ns: dict[str, float]
    r_squared: dict[str, float]


def _robust_rate(timings: list[KernelTiming], work: str) -> tuple[float, float, float]:
    """Huber-robust fit of median time_ns = t0 + work / rate over the sizes; (rate/s, t0, R^2)."""
    import statsmodels.api as sm

    x = np.array([getattr(t, work) for t in timings], float)
    y = np.array([t.median_ns for t in timings], float)
    if len(set(x)) < 2:
        raise SimbenchInputError(f"{timings[0].kernel}: need at least two sizes of different work to fit a rate, got {len(set(x))}")
    design = sm.add_constant(x)
    params = None
    if len(x) >= 3:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                params = sm.RLM(y, design, M=sm.robust.norms.HuberT()).fit().params
            except (ZeroDivisionError, FloatingPointError, np.linalg.LinAlgError):
                params = None  # a zero residual scale (points exactly on a line): OLS is exact
        if params is not None and not np.all(np.isfinite(params)):
            params = None
    if params is None:
        params = sm.OLS(y, design).fit().params
    t0, slope = float(params[0]), float(params[1])
    if slope <= 0:
        # a rate must be positive; with no slope the work did not change the time (noise)
        slope = float(np.median(y / x))
        t0 = 0.0
    pred = design @ np.array([t0, slope])
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return 1e9 / slope, max(t0, 0.0), 1.0 - ss_res / ss_tot


def fit_roofline(sweep: KernelSweep) -> RooflineFit:
    """Fit the roofline terms from a ``KernelSweep`` (module docstring has the method).

    Raises
    ------
    ValueError
        A kernel family needed for a term has fewer than two sizes.
    """
    by: dict[str, list[KernelTiming]] = {}
    for t in sweep.timings:
        by.setdefault(t.kernel, []).append(t)
    rates, t0s, r2 = {}, {}, {}
    for kernel, work in (("gemm_f32", "ops"), ("gemm_blas_f32", "ops"), ("gemm_i8", "ops"), ("conv_f32", "ops"),
                         ("stream_triad", "bytes"), ("stream_copy", "bytes")):
        if kernel in by:
            rates[kernel], t0s[kernel], r2[kernel] = _robust_rate(by[kernel], work)
    if "gemm_f32" not in rates or "stream_triad" not in rates:
        raise SimbenchInputError("a roofline needs the gemm_f32 and stream_triad sweeps")
    # The compute roof is the best rate any fp32 GEMM reaches (the roofline's "attainable peak").
    fp32_kernel = max((k for k in ("gemm_f32", "gemm_blas_f32") if k in rates), key=rates.get)
    dispatch = by.get("dispatch")
    overhead = float(np.median(dispatch[0].times_ns)) if dispatch else 0.0
    return RooflineFit(
        fp32_flops_per_s=rates[fp32_kernel],
        fp32_kernel=fp32_kernel,
        rates=rates,
        int8_ops_per_s=rates.get("gemm_i8"),
        conv_flops_per_s=rates.get("conv_f32"),
        memory_bytes_per_s=rates["stream_triad"],
        dispatch_overhead_ns=overhead,
        intercepts_ns=t0s,
        r_squared=r2,
    )


def build_local_profile(
    sweep: KernelSweep, fit: RooflineFit, *, name: str = "local", host: dict | None = None,
    models: dict | None = None, placeholder_ok: bool = False,
):
    """A validated ``HardwareProfile`` of this machine: its description, the roofline and the
    raw timings as provenance. It has no model entry until ``simbench profile fit`` adds one
    (the roofline alone predicts any ONNX model: ``simbench.profiles.roofline``).

    ``models`` are model entries (mappings) to include; a profile needs at least one, so
    without them ``placeholder_ok`` must be set and a single-point placeholder entry
    ``_roofline_only`` (latency = the no-op dispatch time) is written, to be replaced.

    Returns
    -------
    HardwareProfile
    """
    from simbench.profiles.schema import HardwareProfile

    h = host or host_description()
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    src = (f"simbench profile build {when}: numba {sweep.numba_version} kernels, "
           f"{sweep.threads} threads, {sweep.warmup} warm-up + {sweep.repeats} timed repeats per size")
    reg = "Huber-robust regression of per-size median time = t0 + work/rate (statsmodels RLM)"
    roof = {
        "fp32_flops_per_s": {"value": fit.fp32_flops_per_s, "unit": "FLOP/s",
                             "source": f"{src}; {fit.fp32_kernel} sweep (the faster fp32 GEMM); {reg}",
                             "note": f"R^2 {fit.r_squared[fit.fp32_kernel]:.3f}; "
                             + ", ".join(f"{k} {fit.rates[k] / 1e9:.2f} GFLOP/s" for k in ("gemm_f32", "gemm_blas_f32") if k in fit.rates)},
        "memory_bytes_per_s": {"value": fit.memory_bytes_per_s, "unit": "B/s",
                               "source": f"{src}; stream_triad sweep (3 arrays counted); {reg}",
                               "note": f"R^2 {fit.r_squared['stream_triad']:.3f}"},
        "dispatch_overhead_ns": {"value": fit.dispatch_overhead_ns, "unit": "ns",
                                 "source": f"{src}; median time of the no-op parallel kernel"},
    }
    if fit.int8_ops_per_s is not None:
        roof["int8_ops_per_s"] = {"value": fit.int8_ops_per_s, "unit": "OP/s",
                                  "source": f"{src}; gemm_i8 sweep (int8 in, int32 accumulate); {reg}",
                                  "note": f"R^2 {fit.r_squared['gemm_i8']:.3f}"}
    if fit.conv_flops_per_s is not None:
        roof["conv_flops_per_s"] = {"value": fit.conv_flops_per_s, "unit": "FLOP/s",
                                    "source": f"{src}; conv_f32 (im2col + GEMM) sweep; {reg}",
                                    "note": f"R^2 {fit.r_squared['conv_f32']:.3f}"}
    measurements = [
        {"kernel": t.kernel, "size": t.size, "ops": t.ops, "bytes": t.bytes,
         "median_ns": t.median_ns, "spread": round(t.spread, 6), "times_ns": list(t.times_ns)}
        for t in sweep.timings
    ]
    data = {
        "schema_version": 1,
        "name": name,
        "device": h["cpu_model"],
        "description": (f"This machine ({h['cpu_model']}, {h['logical_cpus']} logical CPUs, "
                        f"{h['usable_cpus']} usable; {h['platform']}), measured by simbench "
                        f"profile build with {sweep.threads} threads"),
        "specs": {
            "logical_cpus": {"value": h["logical_cpus"], "unit": "CPUs", "source": "os.cpu_count()"},
            "usable_cpus": {"value": h["usable_cpus"], "unit": "CPUs", "source": "os.sched_getaffinity(0)"},
            "threads_used": {"value": sweep.threads, "unit": "threads", "source": src},
        },
        "roofline": {**roof, "measurements": measurements, "source": src},
        "models": models or {},
    }
    if not models:
        if not placeholder_ok:
            raise SimbenchInputError("a profile needs at least one model entry")
        data["models"] = {"_roofline_only": {"latency": {"kind": "table", "points": [
            {"batch": 1, "latency_ns": max(fit.dispatch_overhead_ns, 1.0),
             "source": "placeholder: no model measured or predicted yet"}]}}}
    return HardwareProfile.model_validate(data)


def profile_this_machine(
    models: dict[str, "str | Path"],
    *,
    name: str = "local",
    quick: bool = False,
    threads: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
):
    """``simbench profile build``: measure the kernels, fit the roofline, and add one
    roofline-predicted model entry per ONNX model so the profile simulates at once.

    Parameters
    ----------
    models : dict of str to path
        Model name -> ``.onnx`` file (the CLI resolves ``onnx:resnet50`` etc. to the
        locally built files); the first is the profile's default model.
    name : str
        Profile name (letters, digits, ``_ . -``).
    quick, threads, on_progress
        As in ``measure_kernels``; ``on_progress`` also reports the model predictions.

    Returns
    -------
    (HardwareProfile, KernelSweep, RooflineFit)

    Raises
    ------
    ValueError
        No model, a missing model file, a bad thread count, or ONNX not installed (with the
        pip command); all checked before any kernel runs.
    """
    from pathlib import Path

    import re

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name or ""):
        raise SimbenchInputError(f"--name: expected letters, digits, '_', '.' or '-' (a profile name), got {name!r}")
    if not models:
        raise SimbenchInputError("--models: give at least one model")
    for m, path in models.items():
        if not m:
            raise SimbenchInputError(f"--models ={path}: expected NAME=PATH.onnx, with a model name before '='")
        if not Path(path).is_file():
            raise SimbenchInputError(f"--models {m}: {path}: ONNX file not found")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise SimbenchInputError("profile build predicts ONNX models: pip install 'simbench[onnx]'") from None
    from simbench.profiles.roofline import graph_costs, predict_latency, predicted_model, rates_for

    costs_of = {m: graph_costs(path, where=f"--models {m}={path}") for m, path in models.items()}  # before any kernel
    if threads is not None:
        import numba

        if not isinstance(threads, int) or not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise SimbenchInputError(f"--threads: expected 1 .. {numba.config.NUMBA_NUM_THREADS}, got {threads!r}")
    sweep_n = len(list(_cases(SWEEPS["quick" if quick else "full"], np.random.default_rng(0))))
    total = sweep_n + len(models)

    def kernel_progress(done, _n, label):
        if on_progress:
            on_progress(done, total, label)

    sweep = measure_kernels(quick=quick, threads=threads, on_progress=kernel_progress)
    fit = fit_roofline(sweep)
    bare = build_local_profile(sweep, fit, name=name, placeholder_ok=True)
    entries = {}
    rates = rates_for(bare, "fp32")
    for i, (m, path) in enumerate(models.items()):
        costs = costs_of[m]
        pred = predict_latency(costs, rates)
        entries[m] = predicted_model(
            pred, description=f"{Path(path).name} ({costs.total_ops(1) / 1e9:.3f} GOP/sample, "
            f"{costs.parameters:,} parameters), fp32", profile_name=name,
        ).model_dump(mode="json", exclude_unset=True)
        if on_progress:
            on_progress(sweep_n + i + 1, total, f"roofline prediction {m}")
    data = bare.model_dump(mode="json", exclude_unset=True)
    data["models"] = entries
    from simbench.profiles.schema import HardwareProfile

    return HardwareProfile.model_validate(data), sweep, fit
