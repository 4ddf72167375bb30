"""``simbench report``: one self-contained HTML page from saved results alone.

Input: a run folder (``simbench simulate``/``benchmark`` output: one sub-folder per scenario
with ``summary.json`` and ``trace.parquet``, optionally ``device_timeline.parquet``), one
scenario folder, or a sweep folder (``simbench whatif``: ``sweep.parquet``). Output: one
HTML file with plotly.js inlined once (no network needed) holding

* the summary table (one row per scenario, or per sweep point);
* per scenario: the latency CDF with the reported percentiles and the bound, the
  issue/completion rates over time and the arrival rate (binned, at most ``max_bins``
  points, so a 20-million-sample run stays small), the batch-size histogram, and — where a
  device timeline was saved — clock, power and temperature over time;
* for a sweep: p-th percentile latency against the swept rate with the bound, the required
  query counts, and heatmaps over two swept inputs (``simbench.report.figures``).

Nothing is recomputed from settings: every number is read from the saved files.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from simbench.errors import SimbenchInputError

__all__ = ["build_report", "write_report"]

_PCTS = (0.5, 0.9, 0.95, 0.97, 0.99, 0.999)


def _scenario_dirs(root: Path) -> list[Path]:
    if (root / "trace.parquet").is_file() or (root / "summary.json").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and ((p / "summary.json").is_file() or (p / "trace.parquet").is_file()))


def _table_html(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if isinstance(v, float):
                v = f"{v:,.6g}"
            cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='sb-summary'><tr>{head}</tr>{''.join(body)}</table>"


def _binned_rate(times_ns: np.ndarray, t_max_ns: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Events per second in ``bins`` equal bins over [0, t_max]: (bin centres s, rate /s)."""
    edges = np.linspace(0, max(int(t_max_ns), 1), bins + 1)
    counts, _ = np.histogram(times_ns, bins=edges)
    width_s = (edges[1] - edges[0]) / 1e9
    return (edges[:-1] + edges[1:]) / 2e9, counts / width_s


def _scenario_figures(d: Path, max_bins: int) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    import plotly.graph_objects as go
    import pyarrow.parquet as pq

    summary = json.loads((d / "summary.json").read_text()) if (d / "summary.json").is_file() else {}
    name = summary.get("scenario") or d.name
    figs: list[tuple[str, Any]] = []
    tp = d / "trace.parquet"
    if tp.is_file():
        tab = pq.read_table(tp, columns=["query_id", "issue_ns", "complete_ns", "batch_id"])
        issue = tab.column("issue_ns").to_numpy(zero_copy_only=False)
        complete = tab.column("complete_ns").to_numpy(zero_copy_only=False)
        if issue.size:
            lat = complete - issue
            n = lat.size
            srt = np.sort(lat)
            k = min(n, 2000)
            idx = np.unique(np.linspace(0, n - 1, k).astype(np.int64))
            cdf = go.Figure(go.Scatter(x=srt[idx] / 1e6, y=(idx + 1) / n, mode="lines", name="CDF"))
            for p in _PCTS:
                v = srt[min(int(n * p), n - 1)] / 1e6  # LoadGen's sorted[floor(n p)]
                cdf.add_vline(x=v, line_dash="dot", line_color="gray", annotation_text=f"p{p * 100:g}", annotation_position="top")
            eff = summary.get("effective_settings") or {}
            bound = eff.get("target_latency_ns")
            if name == "Server" and bound:
                cdf.add_vline(x=bound / 1e6, line_color="red", annotation_text=f"bound {bound / 1e6:g} ms", annotation_position="bottom right")
            cdf.update_layout(title=f"{name}: sample latency CDF ({n:,} samples)", xaxis_title="latency (ms)", yaxis_title="fraction of samples")
            figs.append((f"{name}: latency CDF", cdf))
            t_max = int(max(complete.max(), issue.max()))
            bins = int(min(max_bins, max(10, n // 10)))
            xs, iss = _binned_rate(issue, t_max, bins)
            _, cmp_ = _binned_rate(complete, t_max, bins)
            tl = go.Figure()
            tl.add_trace(go.Scatter(x=xs, y=iss, mode="lines", name="issued (scheduled) samples/s"))
            tl.add_trace(go.Scatter(x=xs, y=cmp_, mode="lines", name="completed samples/s"))
            tl.update_layout(title=f"{name}: issue and completion rates over time ({bins} bins)", xaxis_title="time (s)", yaxis_title="samples/s")
            figs.append((f"{name}: issue/completion timeline", tl))
            qid = tab.column("query_id").to_numpy(zero_copy_only=False)
            first = np.concatenate([[True], qid[1:] != qid[:-1]])
            xa, arr = _binned_rate(issue[first], int(issue.max()) + 1, bins)
            ar = go.Figure(go.Scatter(x=xa, y=arr, mode="lines", name="arrivals/s"))
            ar.update_layout(title=f"{name}: query arrival rate over time", xaxis_title="time (s)", yaxis_title="queries/s")
            figs.append((f"{name}: arrival rate", ar))
            figs += _token_figures(tp, name, issue, complete, summary)
            b = tab.column("batch_id")
            if b.null_count < len(b):
                bid = b.to_numpy(zero_copy_only=False)
                bid = bid[bid >= 0] if bid.dtype.kind in "iu" else bid[~np.isnan(bid)].astype(np.int64)
                if bid.size:
                    sizes = np.bincount(bid - bid.min())
                    sizes = sizes[sizes > 0]
                    values, counts = np.unique(sizes, return_counts=True)
                    hb = go.Figure(go.Bar(x=values, y=counts, name="batches"))
                    hb.update_layout(title=f"{name}: batch-size histogram ({sizes.size:,} batches)", xaxis_title="samples per batch", yaxis_title="batches")
                    figs.append((f"{name}: batch sizes", hb))
    dt = d / "device_timeline.parquet"
    if dt.is_file():
        import pyarrow.parquet as pq

        t = pq.read_table(dt).to_pandas()
        for col, unit in (("clock_mhz", "MHz"), ("power_w", "W"), ("temperature_c", "C")):
            if col not in t or t[col].isna().all():
                continue
            f = go.Figure()
            for dev, g in t.groupby("device_id"):
                g = g.sort_values("t_ns")
                step = max(1, len(g) // max_bins)
                f.add_trace(go.Scatter(x=g["t_ns"].to_numpy()[::step] / 1e9, y=g[col].to_numpy()[::step], mode="lines",
                                       line_shape="hv", name=f"device {dev}"))
            f.update_layout(title=f"{name}: {col.split('_')[0]} over time", xaxis_title="time (s)", yaxis_title=unit)
            figs.append((f"{name}: {col}", f))
    row = {
        "scenario": name,
        "result": summary.get("result_validity"),
        "metric": summary.get("headline_metric"),
        "value": summary.get("headline_value"),
        "queries": summary.get("result_query_count"),
        "p99 (ms)": (summary.get("result_99.00_percentile_latency_ns") or 0) / 1e6 or None,
        "reason": "; ".join(summary.get("result_invalid_reason") or []),
        "folder": d.name,
    }
    return figs, row


def _cdf_figure(values_ns: np.ndarray, title: str, bound_ns: int | None, bound_label: str):
    import plotly.graph_objects as go

    n = values_ns.size
    srt = np.sort(values_ns)
    idx = np.unique(np.linspace(0, n - 1, min(n, 2000)).astype(np.int64))
    fig = go.Figure(go.Scatter(x=srt[idx] / 1e6, y=(idx + 1) / n, mode="lines", name="CDF"))
    for p in _PCTS:
        fig.add_vline(x=srt[min(int(n * p), n - 1)] / 1e6, line_dash="dot", line_color="gray",
                      annotation_text=f"p{p * 100:g}", annotation_position="top")
    if bound_ns:
        fig.add_vline(x=bound_ns / 1e6, line_color="red", annotation_text=f"{bound_label} {bound_ns / 1e6:g} ms",
                      annotation_position="bottom right")
    fig.update_layout(title=title, xaxis_title="ms", yaxis_title="fraction of samples")
    return fig


def _token_figures(tp: Path, name: str, issue: np.ndarray, complete: np.ndarray, summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """TTFT and TPOT CDFs of an LLM run (a trace with token columns; docs/token-latencies.md)."""
    import pyarrow.parquet as pq

    from simbench.stats import time_per_output_token_ns

    cols = set(pq.read_schema(tp).names)
    if not {"first_token_ns", "n_tokens"} <= cols:
        return []
    tab = pq.read_table(tp, columns=["first_token_ns", "n_tokens"])
    first, ntok = tab.column("first_token_ns"), tab.column("n_tokens")
    if first.null_count or ntok.null_count or not len(first):
        return []  # absent or partial: the summary says why (its warnings)
    ttft = first.to_numpy(zero_copy_only=False) - issue
    tpot = time_per_output_token_ns(ttft, complete - issue, ntok.to_numpy(zero_copy_only=False))
    eff = summary.get("effective_settings") or {}
    server = name == "Server"
    return [
        (f"{name}: TTFT CDF", _cdf_figure(ttft, f"{name}: time to first token CDF ({ttft.size:,} samples)",
                                          eff.get("server_ttft_latency") if server else None, "ttft_latency")),
        (f"{name}: TPOT CDF", _cdf_figure(tpot, f"{name}: time per output token CDF (LoadGen's (latency - TTFT) / (n_tokens - 1))",
                                          eff.get("server_tpot_latency") if server else None, "tpot_latency")),
    ]


def build_report(path: str | Path, *, max_bins: int = 1000) -> str:
    """The report page's HTML for a run, scenario or sweep folder (see the module doc).

    Parameters
    ----------
    path : path
        Folder written by ``simbench simulate``, ``benchmark`` or ``whatif``.
    max_bins : int
        Most points per timeline curve (the downsampling that keeps 20 M-sample runs small).

    Returns
    -------
    str

    Raises
    ------
    SimbenchInputError
        Not a folder, or no results in it.
    """
    from simbench.report.figures import figures_page, sweep_figures

    root = Path(path)
    if not root.is_dir():
        raise SimbenchInputError(f"{root}: not a folder; expected a simulate/benchmark run folder or a whatif sweep folder")
    if (root / "sweep.parquet").is_file():
        import pandas as pd

        table = pd.read_parquet(root / "sweep.parquet")
        meta = json.loads((root / "sweep.json").read_text()) if (root / "sweep.json").is_file() else {"sweeps": []}
        swept = [n for n, _ in meta.get("sweeps", [])] or [c for c in table.columns[1:3]]
        figs = sweep_figures(table, swept)
        cols = ["point", *swept, "status", "result_validity", "target_percentile_latency_ns", "headline_value",
                "required_queries_mlperf", "required_queries_corrected", "result_invalid_reason"]
        rows = table[[c for c in cols if c in table]].to_dict("records")
        intro = f"<p>Sweep folder <code>{html.escape(str(root))}</code>: {len(table)} points.</p>" + _table_html(rows, [c for c in cols if c in table])
        return figures_page(f"simbench report: sweep {root.name}", figs, intro)
    dirs = _scenario_dirs(root)
    if not dirs:
        raise SimbenchInputError(f"{root}: no summary.json, trace.parquet or sweep.parquet here or in its sub-folders")
    figs, rows = [], []
    for d in dirs:
        f, r = _scenario_figures(d, max_bins)
        figs += f
        rows.append(r)
    intro = f"<p>Run folder <code>{html.escape(str(root))}</code>.</p>" + _table_html(rows, list(rows[0]))
    return figures_page(f"simbench report: {root.name}", figs, intro)


def write_report(path: str | Path, out: str | Path, **kwargs) -> Path:
    """``build_report`` written to ``out`` (atomically); returns the path."""
    import os

    page = build_report(path, **kwargs)
    o = Path(out)
    tmp = o.with_name(o.name + ".tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, o)
    except OSError as exc:
        raise SimbenchInputError(f"-o {o}: cannot write the report: {exc.strerror or exc}") from None
    return o
