"""The Trace's optional token columns (first_token_ns, n_tokens): Parquet round trip, self-
description, old traces, refused impossible values, and when the Summary uses them."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from simbench.errors import TraceError
from simbench.settings import Scenario, TestSettings, resolve
from simbench.summary import summarize
from simbench.trace import COLUMNS, TOKEN_COLUMNS, Trace, read_trace, write_trace


def _llm_trace(n=500, ttft_ns=2_000_000, per_token_ns=50_000, tokens=None):
    issue = np.arange(n, dtype=np.int64) * 2_000_000
    ntok = np.full(n, 101, dtype=np.int64) if tokens is None else np.asarray(tokens, dtype=np.int64)
    first = issue + ttft_ns
    return Trace(
        query_id=np.arange(n, dtype=np.int64),
        sample_index=np.arange(n, dtype=np.int64) % 64,
        issue_ns=issue,
        complete_ns=first + per_token_ns * (ntok - 1),
        first_token_ns=first,
        n_tokens=ntok,
    )


def _server(**kw):
    base = dict(scenario=Scenario.Server, server_target_qps=500.0, min_duration_ms=500, min_query_count=100,
                use_token_latencies=True, server_ttft_latency=3_000_000, server_tpot_latency=60_000)
    s = TestSettings(**{**base, **kw})
    return resolve(s, 64, 64)


def test_token_columns_round_trip_and_describe_themselves(tmp_path):
    tr = _llm_trace()
    tr.masks["n_tokens"] = np.arange(len(tr)) != 3
    p = write_trace(tr, tmp_path / "t.parquet")
    back = read_trace(p)
    np.testing.assert_array_equal(back.first_token_ns, tr.first_token_ns)
    np.testing.assert_array_equal(back.masks["n_tokens"], tr.masks["n_tokens"])
    schema = pq.read_schema(p)
    for name in COLUMNS:
        assert schema.field(name).metadata[b"simbench.doc"], name
    assert b"TTFT" in schema.field("first_token_ns").metadata[b"simbench.doc"]
    assert set(TOKEN_COLUMNS) <= set(schema.names)


def test_a_trace_without_token_columns_still_reads(tmp_path):
    import pyarrow as pa

    table = pa.table({c: pa.array([0, 1], type=pa.int64()) for c in ("query_id", "sample_index", "issue_ns", "complete_ns")})
    pq.write_table(table, tmp_path / "old.parquet")
    tr = read_trace(tmp_path / "old.parquet")
    assert tr.first_token_ns is None and tr.n_tokens is None and tr.first_token_latencies_ns() is None


@pytest.mark.parametrize("column,value,match", [
    ("first_token_ns", -1, "first_token_ns -1 < issue_ns 8000000"),
    ("first_token_ns", 10**12, "> complete_ns"),
    ("n_tokens", -2, "n_tokens -2 < 0"),
])
def test_impossible_token_values_are_refused_naming_the_row(tmp_path, column, value, match):
    tr = _llm_trace(n=10)
    getattr(tr, column)[4] = value
    write_trace(tr, tmp_path / "bad.parquet")
    with pytest.raises(TraceError, match=f"column '{column}': row 4 .*{match}"):
        read_trace(tmp_path / "bad.parquet")


def test_server_token_rules_judge_the_run():
    # TTFT 2 ms <= 3 ms; TPOT 50 us <= 60 us; 500 queries >= h(0) = 459: VALID, although every
    # request latency (7 ms) is above server_target_latency_ns (1 ms): LoadGen does not use it.
    s = summarize(_llm_trace(), _server(server_target_latency_ns=1_000_000))
    tok = s.tokens
    assert s.result_valid and s.perf_constraints_met and s.early_stopping_met and s.early_stopping == ()
    assert tok.first_token.target_ns == 2_000_000 and tok.time_per_output_token.target_ns == 50_000
    assert tok.token_count == 500 * 101
    assert tok.early_stopping.tpot_lines == tok.early_stopping.ttft_lines == (" * Run successful.",)
    # tighter TPOT bound: every TPOT over it -> both the constraint and TPOT's early stopping fail
    bad = summarize(_llm_trace(), _server(server_tpot_latency=40_000))
    assert not bad.result_valid and bad.tokens.tpot_constraint_met is False
    assert bad.recommendations == (" * TPOT constrain not met: Reduce target QPS to improve latency.",)
    assert bad.tokens.early_stopping.ttft is None


def test_token_data_and_settings_disagreeing_is_said_not_hidden():
    off = resolve(TestSettings(scenario=Scenario.Server, server_target_qps=500.0, min_duration_ms=500), 64, 64)
    s = summarize(_llm_trace(), off)
    assert s.tokens is None and any("use_token_latencies is off" in w for w in s.warnings)
    tr = _llm_trace()
    tr.n_tokens = None
    s = summarize(tr, _server())
    assert s.tokens is None and any("no 'n_tokens' column" in w for w in s.warnings)
