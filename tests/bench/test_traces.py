"""Every real trace shipped in traces/ reproduces its summary from the Parquet file alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simbench.report import summary_to_dict
from simbench.bench.job import summarize_trace_file
from simbench.trace import read_trace

ROOT = Path(__file__).resolve().parents[2] / "traces"
TRACES = sorted(ROOT.rglob("trace.parquet"))


_KEYS = ("result_validity", "headline_value", "result_query_count", "result_sample_count", "early_stopping_met")


@pytest.mark.parametrize("path", TRACES, ids=[str(p.parent.relative_to(ROOT)) for p in TRACES])
def test_trace_reproduces_its_summary(path):
    """Every figure the run reported is recomputed from the Parquet file alone (compared by
    value, so improvements to the text layout do not break the check)."""
    now = summary_to_dict(summarize_trace_file(path))
    then = json.loads((path.parent / "summary.json").read_text())
    keys = [k for k in then if k.startswith(("result_", "early_stopping_latency")) and k.endswith(("_ns", "_sec", "_second", "_overhead"))]
    keys += list(_KEYS)
    assert len(keys) > 12
    for k in keys:
        if isinstance(then[k], float):
            # rates: the SingleStream QPS formula now truncates the mean latency to whole ns as
            # LoadGen does (a relative change below 1e-8 against the stored run output)
            assert now[k] == pytest.approx(then[k], rel=1e-6), k
        else:
            assert now[k] == then[k], k


@pytest.mark.parametrize("path", TRACES, ids=[str(p.parent.relative_to(ROOT)) for p in TRACES])
def test_trace_is_real_and_has_provenance(path):
    t = read_trace(path)
    assert t.metadata["kind"] == "real"
    assert t.metadata["host"]["cpu_model"] and t.metadata["sut"]["onnxruntime_version"]
    top = path.relative_to(ROOT).parts[0]
    assert (ROOT / top / "PROVENANCE.md").is_file()


def test_traces_are_small():
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total < 5 * 2**20
