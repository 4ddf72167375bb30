"""Plotly figures of saved results (sweep tables, traces), rendered to self-contained HTML.

Every figure is built from saved data only (a ``sweep.parquet`` table, a ``trace.parquet``)
and every page inlines plotly.js (``include_plotlyjs=True``), so it opens with no network.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sweep_figures", "figures_page", "P99_COLUMN"]

P99_COLUMN = "result_99.00_percentile_latency_ns"


def _numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def sweep_figures(table, swept: list[str]) -> list[tuple[str, Any]]:
    """Figures of a sweep table: p99 (and the target percentile) against the first numeric
    swept input, one line per combination of the others, with the latency bound; validity
    and, for two or more swept inputs, heatmaps of p99 and of the required query count.

    Parameters
    ----------
    table : pandas.DataFrame
        ``sweep.parquet`` (see ``simbench.plan.whatif``).
    swept : list of str
        The swept input columns, in sweep order.

    Returns
    -------
    list of (title, plotly.graph_objects.Figure)
    """
    import plotly.graph_objects as go

    ok = table[table["status"] == "ok"] if "status" in table else table
    if ok.empty or not swept:
        return []
    xs = [c for c in swept if _numeric(ok[c])]
    x = xs[0] if xs else swept[0]
    others = [c for c in swept if c != x]
    figs = []
    bound_ms = float(ok["target_latency_ns"].iloc[0]) / 1e6 if "target_latency_ns" in ok else None
    ycol = "target_percentile_latency_ns" if "target_percentile_latency_ns" in ok else P99_COLUMN
    pct = float(ok["target_latency_percentile"].iloc[0]) * 100 if "target_latency_percentile" in ok else 99.0
    fig = go.Figure()
    groups = ok.groupby(others, sort=True) if others else [((), ok)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{n}={v}" for n, v in zip(others, key)) or "sweep"
        g = g.sort_values(x)
        valid = g["result_validity"] == "VALID"
        fig.add_trace(go.Scatter(
            x=g[x], y=g[ycol] / 1e6, mode="lines+markers", name=label,
            marker=dict(symbol=["circle" if v else "x" for v in valid], size=8),
            hovertext=[f"{r}" for r in g["result_validity"]],
        ))
    if bound_ms is not None:
        fig.add_hline(y=bound_ms, line_dash="dash", line_color="red", annotation_text=f"bound {bound_ms:g} ms")
    fig.update_layout(title=f"p{pct:g} latency vs {x} (x: INVALID)", xaxis_title=x, yaxis_title=f"p{pct:g} latency (ms)")
    figs.append((f"p{pct:g} latency vs {x}", fig))
    if "required_queries_corrected" in ok:
        fig2 = go.Figure()
        for key, g in groups if others else [((), ok)]:
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{n}={v}" for n, v in zip(others, key)) or "sweep"
            g = g.sort_values(x)
            fig2.add_trace(go.Scatter(x=g[x], y=g["required_queries_corrected"], mode="lines+markers", name=label + " (autocorrelation-corrected)"))
        if "required_queries_mlperf" in ok:
            fig2.add_trace(go.Scatter(x=ok[x], y=ok["required_queries_mlperf"], mode="lines", name="MLPerf Eq. 2 (i.i.d.)", line=dict(dash="dot")))
        fig2.update_layout(title=f"queries a valid run needs vs {x}", xaxis_title=x, yaxis_title="queries", yaxis_type="log")
        figs.append((f"required queries vs {x}", fig2))
    if len(swept) >= 2:
        y = [c for c in swept if c != x][0]
        piv = ok.pivot_table(index=y, columns=x, values=ycol, aggfunc="first") / 1e6
        fig3 = go.Figure(go.Heatmap(z=piv.values, x=[str(c) for c in piv.columns], y=[str(i) for i in piv.index],
                                    colorbar=dict(title="ms"), colorscale="Viridis"))
        fig3.update_layout(title=f"p{pct:g} latency (ms) over {x} x {y}", xaxis_title=x, yaxis_title=y)
        figs.append((f"heatmap p{pct:g} over {x} x {y}", fig3))
        val = ok.assign(_v=(ok["result_validity"] == "VALID").astype(int)).pivot_table(index=y, columns=x, values="_v", aggfunc="first")
        fig4 = go.Figure(go.Heatmap(z=val.values, x=[str(c) for c in val.columns], y=[str(i) for i in val.index],
                                    zmin=0, zmax=1, colorscale=[[0, "#d62728"], [1, "#2ca02c"]], showscale=False))
        fig4.update_layout(title=f"VALID (green) / INVALID (red) over {x} x {y}", xaxis_title=x, yaxis_title=y)
        figs.append((f"validity over {x} x {y}", fig4))
    return figs


def figures_page(title: str, figures: list[tuple[str, Any]], intro_html: str = "") -> str:
    """One self-contained HTML page: plotly.js inlined once, then each figure in a ``div``
    with class ``sb-figure``.

    Returns
    -------
    str
        The page's HTML.
    """
    import html

    parts = []
    for i, (name, fig) in enumerate(figures):
        div = fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig{i}", config={"responsive": True})
        parts.append(f'<section class="sb-figure" data-name="{html.escape(name)}"><h2>{html.escape(name)}</h2>{div}</section>')
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1200px} table{border-collapse:collapse;font-size:0.85em}"
        " td,th{border:1px solid #ccc;padding:2px 6px;text-align:right} th{background:#f3f3f3}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{intro_html}{''.join(parts)}</body></html>"
    )
