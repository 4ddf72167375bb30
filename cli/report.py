"""``simbench report``: a self-contained HTML page from a saved run or sweep folder."""

from __future__ import annotations

from typing import Annotated

import typer

from simbench.cli._common import console, handle_errors


@handle_errors
def report(
    path: Annotated[str, typer.Argument(help="A run folder (simulate/benchmark --out), one scenario folder, or a whatif sweep folder.")],
    output: Annotated[str, typer.Option("-o", "--output", help="HTML file to write.")] = "report.html",
    max_bins: Annotated[int, typer.Option("--max-bins", min=10, max=100000, help="Most points per timeline curve (downsampling).")] = 1000,
) -> None:
    """Render one self-contained HTML report (plotly.js inlined; opens offline) from saved files.

    Example:

      simbench report simbench_results/20261202-080000 -o report.html
    """
    from simbench.report.html import write_report

    o = write_report(path, output, max_bins=max_bins)
    console().print(f"wrote {o} ({o.stat().st_size / 1e6:.1f} MB)", markup=False, highlight=False)
