"""Renderers of saved results: LoadGen text and detail log (``text``), JSON (``json``).

Rendering only; computing lives in ``simbench.summary`` and ``simbench.plan``.
"""

from simbench.report.json import summary_to_dict, summary_to_json
from simbench.report.text import render_detail_log, render_no_result_detail, render_no_result_text, render_text

__all__ = [
    "render_text",
    "render_detail_log",
    "render_no_result_text",
    "render_no_result_detail",
    "summary_to_dict",
    "summary_to_json",
]
