"""Issue 11 §5: LoadGen's exact early-stopping text when SingleStream has too few queries, against
real mlcommons-loadgen runs (50 queries at p90; 3,000 queries at p99.9; 300 at p90)."""

from __future__ import annotations

import math

import pytest

lg = pytest.importorskip("mlperf_loadgen")

from bench_helpers import short_settings  # noqa: E402

from simbench.bench.loadgen_logs import compare_with_loadgen, import_loadgen_dir  # noqa: E402
from simbench.bench.mlcommons import run_mlcommons  # noqa: E402
from simbench.bench.sut import NullSUT  # noqa: E402
from simbench.report import render_text, summary_to_dict  # noqa: E402


def _block(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("Early Stopping Result:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("====") or not lines[i].strip())
    return lines[start:end]


@pytest.mark.parametrize("queries,percentile,needed", [(50, 0.9, 64), (3000, 0.999, 6636), (300, 0.9, None)])
def test_too_few_queries_text_equals_loadgen(queries, percentile, needed, tmp_path):
    settings = short_settings("SingleStream", min_query_count=queries, max_query_count=queries, min_duration_ms=1,
                              single_stream_target_latency_percentile=percentile)
    run_mlcommons(NullSUT(), settings, qsl_total_count=1000, qsl_performance_count=256, log_dir=tmp_path)
    loadgen_text = (tmp_path / "mlperf_log_summary.txt").read_text()
    imported = import_loadgen_dir(tmp_path)
    assert imported.summary.query_count == queries
    ours = render_text(imported.summary)
    assert _block(ours) == _block(loadgen_text)
    assert any("Early stopping" in line or "Only processed" in line for line in _block(ours))
    for label in ("Result is", "  Min duration satisfied", "  Min queries satisfied", "  Early stopping satisfied"):
        theirs = [line for line in loadgen_text.splitlines() if line.startswith(label)]
        assert theirs and theirs == [line for line in ours.splitlines() if line.startswith(label)], label
    d = summary_to_dict(imported.summary)
    assert d["early_stopping_latency_ms"] == imported.detail["early_stopping_latency_ms"] == 0
    if needed is not None:
        assert f" * Need to process at least {needed} queries for early stopping." in _block(ours)
        assert not any("99.0th" in line for line in _block(ours))
        assert d["early_stopping_latency_ss"] == imported.detail["early_stopping_latency_ss"] == 0
    comparison = compare_with_loadgen(imported.summary, imported.detail)
    assert comparison["early_stopping_latency_ms"]["simbench"] == 0
    # a LoadGen zero against a simbench number is flagged, not hidden
    detail = dict(imported.detail, early_stopping_latency_ss=0)
    if d["early_stopping_latency_ss"]:
        assert math.isinf(compare_with_loadgen(imported.summary, detail)["early_stopping_latency_ss"]["rel_diff"])


@pytest.mark.parametrize("queries,percentile", [(1000, 0.9), (7000, 0.999)])
def test_passing_runs_text_equals_loadgen(queries, percentile, tmp_path):
    """Enough queries for both estimates: the whole block, the validity lines and both logged
    estimates equal LoadGen's (7,000 > 6,636 = h(1) + 1 at p99.9)."""
    settings = short_settings("SingleStream", min_query_count=queries, max_query_count=queries, min_duration_ms=1,
                              single_stream_target_latency_percentile=percentile)
    run_mlcommons(NullSUT(), settings, qsl_total_count=1000, qsl_performance_count=256, log_dir=tmp_path)
    loadgen_text = (tmp_path / "mlperf_log_summary.txt").read_text()
    imported = import_loadgen_dir(tmp_path)
    ours = render_text(imported.summary)
    assert _block(ours) == _block(loadgen_text)
    assert any(line.startswith(" * Early stopping 99.0th percentile estimate: ") for line in _block(ours))
    for label in ("Result is", "  Min duration satisfied", "  Min queries satisfied", "  Early stopping satisfied"):
        theirs = [line for line in loadgen_text.splitlines() if line.startswith(label)]
        assert theirs and theirs == [line for line in ours.splitlines() if line.startswith(label)], label
    d = summary_to_dict(imported.summary)
    for key in ("early_stopping_latency_ss", "early_stopping_latency_ms"):
        assert d[key] == imported.detail[key] > 0, key
