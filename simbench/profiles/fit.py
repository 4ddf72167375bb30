"""Fit a model's ``latency(batch)`` and noise from real Traces.

=========================  ============================================================
``BatchTimes``             per-batch service times of one or more traces
``batch_service_times``    ``complete_ns - start_ns`` per ``batch_id`` of a Trace
``LatencyFit``             the fitted median line, tail lines, noise law and diagnostics
``fit_latency``            robust median regression + quantile regression + noise
``fitted_model``           a validated ``ModelProfile`` entry from a ``LatencyFit``
``fit_into_profile``       add (or replace) the entry in a profile, creating it if needed
=========================  ============================================================

Method. A batch's service time is ``max(complete_ns) - min(start_ns)`` over its samples
(a real SUT stamps ``start_ns`` when the batch is dispatched and completes its samples
together). With ``b`` the batch size:

* median: ``latency(b) = a + c * b`` (fixed + per-sample cost) by median regression
  (least absolute deviations: ``statsmodels.QuantReg`` at q = 0.5, Koenker & Bassett 1978;
  robust to outlying batches) over every batch (``form='line'``), or the sample median of
  each batch size (``form='table'``: the same regression on one indicator per size), so a
  curve that is not a line is kept; medians that fall as the batch grows (noise) are
  pooled by isotonic regression (pool-adjacent-violators), since the schema requires a
  non-decreasing table;
* tail: ``q_p(b) = a_p + c_p * b`` for p = 0.90, 0.99 by quantile regression (QuantReg),
  reported beside the noise law's own tail as a check;
* noise: the multipliers ``m_i = service_i / latency(b_i)`` pooled over all batches; the
  ``quantiles`` law through their empirical quantiles at 0, 0.5, 0.9, 0.95, 0.97, 0.99,
  0.999, 1 (``numpy.quantile``, linear), divided by their median so the law has median 1,
  matching the table of medians (docs/profiles.md, noise).

References
----------
R. Koenker, G. Bassett, "Regression Quantiles", Econometrica 46(1), 1978.
P. J. Huber, "Robust Estimation of a Location Parameter", Ann. Math. Statist. 35, 1964.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import SimbenchInputError, TraceError

__all__ = [
    "BatchTimes",
    "batch_service_times",
    "LatencyFit",
    "fit_latency",
    "fitted_model",
    "fit_into_profile",
    "NOISE_PROBABILITIES",
]

NOISE_PROBABILITIES = (0.0, 0.5, 0.9, 0.95, 0.97, 0.99, 0.999, 1.0)


@dataclass
class BatchTimes:
    """Per-batch service times (``service_ns[i]`` for a batch of ``batch_size[i]`` samples),
    with the start instant and the worker of each and where each trace came from."""

    batch_size: np.ndarray
    service_ns: np.ndarray
    start_ns: np.ndarray
    device_id: np.ndarray
    trace_index: np.ndarray
    traces: list[dict[str, Any]] = field(default_factory=list)

    def __add__(self, other: "BatchTimes") -> "BatchTimes":
        shift = len(self.traces)
        return BatchTimes(
            np.concatenate([self.batch_size, other.batch_size]),
            np.concatenate([self.service_ns, other.service_ns]),
            np.concatenate([self.start_ns, other.start_ns]),
            np.concatenate([self.device_id, other.device_id]),
            np.concatenate([self.trace_index, other.trace_index + shift]),
            self.traces + other.traces,
        )


def _trace_info(trace, label: str) -> dict[str, Any]:
    meta = trace.metadata or {}
    sut = meta.get("sut") or {}
    return {
        "path": label,
        "scenario": meta.get("scenario"),
        "engine": meta.get("engine"),
        "kind": meta.get("kind"),
        "sut": sut.get("name") or meta.get("sut_name"),
        "workers": sut.get("workers"),
        "intra_op_num_threads": sut.get("intra_op_num_threads"),
        "samples": len(trace),
        "host": (meta.get("host") or {}).get("cpu_model"),
    }


def batch_service_times(trace, label: str) -> BatchTimes:
    """Service time of every batch of a Trace: ``max(complete_ns) - min(start_ns)`` per
    ``batch_id``.

    Parameters
    ----------
    trace : simbench.trace.Trace
    label : str
        Name used in messages and provenance (the file path).

    Returns
    -------
    BatchTimes

    Raises
    ------
    TraceError
        The trace lacks ``start_ns`` and/or ``batch_id`` (named), e.g. an imported LoadGen
        log (LoadGen records neither) or a null SUT; or has no complete batch.
    """
    missing = [c for c in ("start_ns", "batch_id") if getattr(trace, c) is None]
    if missing:
        raise TraceError(
            f"{label}: the trace has no {' and no '.join(missing)} column"
            f"{'s' if len(missing) > 1 else ''}; profile fit needs start_ns (batch dispatch) and "
            "batch_id per sample to get per-batch service times. simbench benchmark records "
            "both for ONNX and callable SUTs (either engine); LoadGen's own logs and the null "
            "SUT do not"
        )
    keep = np.ones(len(trace), dtype=bool)
    for c in ("start_ns", "batch_id"):
        if c in trace.masks:
            keep &= trace.masks[c]
    if not keep.any():
        raise TraceError(f"{label}: no sample has both start_ns and batch_id")
    bid = trace.batch_id[keep]
    start = trace.start_ns[keep]
    done = trace.complete_ns[keep]
    dev = trace.device_id[keep] if trace.device_id is not None else np.zeros(bid.shape, np.int64)
    order = np.argsort(bid, kind="stable")
    bid, start, done, dev = bid[order], start[order], done[order], dev[order]
    uniq, first, counts = np.unique(bid, return_index=True, return_counts=True)
    size = counts.astype(np.int64)
    s0 = np.minimum.reduceat(start, first)
    c1 = np.maximum.reduceat(done, first)
    info = _trace_info(trace, label)
    info["batches"] = int(uniq.size)
    return BatchTimes(size, (c1 - s0).astype(np.float64), s0.astype(np.int64), dev[first],
                      np.zeros(uniq.size, np.int64), [info])


@dataclass(frozen=True)
class LatencyFit:
    """What ``fit_latency`` found (all times in ns)."""

    form: str
    sizes: tuple[int, ...]
    batches_per_size: tuple[int, ...]
    median_ns: tuple[float, ...]  # latency(b) at each size (the table points)
    line_fixed_ns: float
    line_per_sample_ns: float
    tail_lines: dict[str, tuple[float, float]]  # "p90"/"p99" -> (fixed, per-sample)
    noise_points: tuple[tuple[float, float], ...]
    empirical: dict[int, dict[str, float]]  # per size: p50/p90/p99 of the raw service times
    n_batches: int


def fit_latency(times: BatchTimes, *, form: str = "line", min_batches: int = 3) -> LatencyFit:
    """Fit latency(batch), the tail lines and the noise law (module docstring).

    Parameters
    ----------
    times : BatchTimes
    form : {'line', 'table'}
        ``line``: the median is ``a + c*b`` (needs two sizes; one size gives a single point);
        ``table``: the robust location of each size.
    min_batches : int
        Fewest batches a batch size must have (>= 1).

    Raises
    ------
    ValueError
        Unknown ``form``; a batch size with fewer than ``min_batches`` batches (every such
        size and its count is named).
    """
    import statsmodels.api as sm

    if form not in ("line", "table"):
        raise SimbenchInputError(f"--form: expected 'line' or 'table', got {form!r}")
    if not isinstance(min_batches, int) or min_batches < 1:
        raise SimbenchInputError(f"--min-batches: expected an integer >= 1, got {min_batches!r}")
    b = times.batch_size.astype(np.float64)
    y = times.service_ns
    sizes, counts = np.unique(times.batch_size, return_counts=True)
    few = [(int(s), int(c)) for s, c in zip(sizes, counts) if c < min_batches]
    if few:
        listed = ", ".join(f"batch size {s}: {c} batch{'es' if c != 1 else ''}" for s, c in few)
        raise SimbenchInputError(
            f"too few batches to fit: {listed} (need >= {min_batches} of each size, "
            "--min-batches); run longer, or drop those sizes"
        )
    if sizes.size >= 2:
        design = sm.add_constant(b)
        import warnings

        lines = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QuantReg's convergence chatter on ties
            for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
                pa, pc = sm.QuantReg(y, design).fit(q=q, max_iter=5000).params
                lines[name] = (float(pa), float(pc))
        a, c = lines.pop("p50")
        tails = lines
    else:
        a, c = 0.0, float(np.median(y)) / float(sizes[0])
        tails = {name: (0.0, float(np.quantile(y, q)) / float(sizes[0])) for name, q in (("p90", 0.9), ("p99", 0.99))}
    if form == "line":
        med = np.array([a + c * s for s in sizes], float)
    else:
        med = np.array([np.median(y[times.batch_size == s]) for s in sizes], float)
    if np.any(np.diff(med) < 0):
        # A batch never runs faster than a smaller one on the same device; noisy medians that
        # say otherwise are pooled by isotonic regression (pool-adjacent-violators, weighted
        # by batch counts: scipy.optimize.isotonic_regression).
        from scipy.optimize import isotonic_regression

        med = np.asarray(isotonic_regression(med, weights=counts.astype(float), increasing=True).x, float)
    if np.any(med <= 0):
        raise SimbenchInputError(f"fitted latency is not positive at some batch size ({med.tolist()}); use --form table")
    lookup = dict(zip(sizes.tolist(), med))
    ratios = y / np.array([lookup[int(s)] for s in times.batch_size])
    # The table holds medians and the noise law has median 1: rescale both by the pooled
    # median ratio (1 for the table form; ~1 when the line fits), so their product keeps
    # every batch's multiplier.
    r50 = float(np.median(ratios))
    med = med * r50
    qs = np.maximum.accumulate(np.quantile(ratios, NOISE_PROBABILITIES) / r50)
    noise = tuple((float(p), 1.0 if p == 0.5 else round(float(m), 6)) for p, m in zip(NOISE_PROBABILITIES, qs))
    med = med.tolist()
    emp = {
        int(s): {k: float(np.quantile(y[times.batch_size == s], q)) for k, q in (("p50", .5), ("p90", .9), ("p99", .99))}
        for s in sizes
    }
    return LatencyFit(form, tuple(int(s) for s in sizes), tuple(int(c) for c in counts),
                      tuple(med), float(a), float(c), tails, noise, emp, int(y.size))


def fitted_model(fit: LatencyFit, times: BatchTimes, *, description: str = "", framework: str = "",
                 replicas: int = 1, streams: dict | None = None):
    """A validated ``ModelProfile`` from a fit: the table of fitted medians, the quantile
    noise law, simbench's scenario conventions, and the traces as provenance.

    ``replicas`` is the number of devices behind one queue. ``streams`` (``{count, gain,
    source}``, from ``simbench.profiles.concurrency.fit_concurrency``) puts the measured
    concurrency into the Server and Offline harness: up to ``count`` batches in flight on
    the device, each slowed by the device model's stream rule.
    """
    from simbench.profiles.schema import ModelProfile

    trace_list = "; ".join(
        f"{t['path']} ({t['scenario']}, engine {t['engine']}, {t['batches']} batches, "
        f"workers {t['workers']}, threads {t['intra_op_num_threads']})" for t in times.traces
    )
    how = ("median latency(b) = a + c*b, median (LAD) regression (statsmodels QuantReg q=0.5) over "
           f"{fit.n_batches} batches" if fit.form == "line" else
           "per-size median service time")
    src = f"simbench profile fit: {how}, from per-batch service times complete_ns - start_ns by batch_id of: {trace_list}"
    pts = []
    for s, m, n in zip(fit.sizes, fit.median_ns, fit.batches_per_size):
        e = fit.empirical[s]
        pts.append({"batch": s, "latency_ns": round(m, 1), "source": src,
                    "note": f"DERIVED: fit ({fit.form}); {n} batches of this size, their p50 "
                    f"{e['p50']:.0f}, p90 {e['p90']:.0f}, p99 {e['p99']:.0f} ns"})
    tails = ", ".join(f"{k} = {a:.0f} + {c:.0f}*b ns" for k, (a, c) in fit.tail_lines.items())
    noise_src = (f"simbench profile fit: empirical quantiles of service / latency(b) over "
                 f"{fit.n_batches} batches, divided by their median; quantile regression "
                 f"(statsmodels QuantReg) tail lines for comparison: {tails}")
    lat = dict(zip(fit.sizes, fit.median_ns))
    nmean = float(np.sum(np.diff([p for p, _ in fit.noise_points]) *
                         (np.array([m for _, m in fit.noise_points[1:]]) + np.array([m for _, m in fit.noise_points[:-1]])) / 2))

    def l_at(b: int) -> float:
        return float(np.interp(b, fit.sizes, fit.median_ns)) if len(fit.sizes) > 1 else lat[fit.sizes[0]] * b / fit.sizes[0]

    mb = fit.sizes[-1]
    conv = "simbench conventions for a trace-fitted model (docs/profiles.md)"
    data = {
        "description": description,
        "framework": framework,
        "latency": {"kind": "table", "points": pts},
        "noise": {"kind": "quantiles", "points": [list(p) for p in fit.noise_points], "source": noise_src},
        "scenarios": {
            "SingleStream": {"batching": {"kind": "none"}, "replicas": replicas,
                             "settings": {"single_stream_expected_latency_ns": float(round(l_at(1) * nmean))},
                             "source": conv},
            "MultiStream": {"batching": {"kind": "dynamic", "max_batch": 8, "timeout_us": 0}, "replicas": replicas,
                            "settings": {"multi_stream_expected_latency_ns": float(round(l_at(8) * nmean))},
                            "source": conv},
            "Server": {"batching": {"kind": "none"}, "replicas": replicas, "settings": {},
                       "source": conv + " (no batching unless --batching is given)"},
            "Offline": {"batching": {"kind": "dynamic", "max_batch": mb, "timeout_us": 0}, "replicas": replicas,
                        "settings": {"offline_expected_qps": float(replicas * mb / (l_at(mb) * 1e-9 * nmean))},
                        "source": conv},
        },
        "source": src,
    }
    if streams is not None:
        for scen in ("Server", "Offline"):
            data["scenarios"][scen]["streams"] = dict(streams)
            if scen == "Offline":
                g, k = streams["gain"], streams["count"]
                data["scenarios"][scen]["settings"]["offline_expected_qps"] *= 1 + g * (k - 1)
    return ModelProfile.model_validate(data)


def fit_into_profile(path: str | Path, model_name: str, model, *, host: dict | None = None,
                     profile_name: str | None = None):
    """The profile at ``path`` with ``models[model_name]`` set to ``model`` (first, so it is
    the default model, if the file is new), or a new profile of this machine. An entry it
    replaces hands over its ``compute_share`` / ``compute_bound_share`` (the roofline's,
    which a trace cannot give).

    Returns
    -------
    HardwareProfile
        Not written; ``simbench.profiles.dump.write_profile`` writes it.

    Raises
    ------
    ProfileError
        The existing file does not load.
    """
    from simbench.profiles import load_profile
    from simbench.profiles.measure import host_description
    from simbench.profiles.schema import HardwareProfile

    p = Path(path)
    entry = model.model_dump(mode="json", exclude_unset=True)
    if p.exists():
        data = load_profile(p).model_dump(mode="json", exclude_unset=True)
        models = {k: v for k, v in data["models"].items() if k != "_roofline_only"}
        old = models.get(model_name, {})
        for key in ("compute_share", "compute_bound_share"):
            # a trace says how long a batch takes, not which part scales with clock: keep the
            # roofline's answer (from simbench profile build) for the device model
            if key in old and key not in entry:
                entry[key] = old[key]
        models[model_name] = entry
        data["models"] = models
        return HardwareProfile.model_validate(data)
    h = host or host_description()
    name = profile_name or (p.stem if all(ch.isalnum() or ch in "_.-" for ch in p.stem) and p.stem else "local")
    return HardwareProfile.model_validate({
        "schema_version": 1,
        "name": name,
        "device": h["cpu_model"],
        "description": (f"This machine ({h['cpu_model']}, {h['logical_cpus']} logical CPUs, "
                        f"{h['usable_cpus']} usable; {h['platform']}), fitted by simbench profile fit"),
        "specs": {
            "logical_cpus": {"value": h["logical_cpus"], "unit": "CPUs", "source": "os.cpu_count()"},
            "usable_cpus": {"value": h["usable_cpus"], "unit": "CPUs", "source": "os.sched_getaffinity(0)"},
        },
        "models": {model_name: entry},
    })
