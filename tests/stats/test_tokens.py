"""simbench.stats.tokens: LoadGen's TPOT arithmetic and token statistics against independent
recomputations (exact rational arithmetic in Python ints, written from logging.cc's formula)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from simbench.errors import SimbenchInputError
from simbench.stats import (
    latency_early_stopping,
    loadgen_latency_stats,
    loadgen_token_counts,
    server_early_stopping,
    time_per_output_token_ns,
    token_early_stopping,
)


def _tpot_reference(ttft: int, latency: int, n: int) -> int:
    recorded = n if n >= 2 or n == 0 else 0  # logging.cc: n < 0 and n == 1 recorded as 0
    return int(Fraction(latency - ttft, recorded - 1))  # int() of a Fraction truncates toward 0


def test_tpot_equals_an_exact_rational_recomputation():
    rng = np.random.default_rng(11)
    n = 20_000
    ttft = rng.integers(0, 5_000_000_000, n)
    latency = ttft + rng.integers(-1_000, 3_000_000_000, n)  # a few negative gaps: sign rules
    tokens = rng.integers(-3, 4_096, n)
    tokens[:50] = [0, 1, 2, -1, 3] * 10
    got = time_per_output_token_ns(ttft, latency, tokens)
    want = [_tpot_reference(int(a), int(b), int(c)) for a, b, c in zip(ttft, latency, tokens)]
    assert got.dtype == np.int64 and got.tolist() == want


def test_tpot_known_values():
    # 1 s from first token to completion over 11 tokens: 10 gaps of 100 ms; 7 / 2 truncates to 3.
    assert time_per_output_token_ns([0, 10], [1_000_000_000, 17], [11, 3]).tolist() == [100_000_000, 3]
    assert time_per_output_token_ns([10], [3], [3]).tolist() == [-3]  # -7 / 2 -> -3 in C, not -4
    assert loadgen_token_counts([5, 1, 0, -7]).tolist() == [5, 0, 0, 0]


def test_tpot_rejects_mismatched_or_float_input():
    with pytest.raises(SimbenchInputError, match="one shape"):
        time_per_output_token_ns([1, 2], [3], [4, 5])
    with pytest.raises(SimbenchInputError, match="integers"):
        time_per_output_token_ns([1.5], [3], [4])


def test_latency_stats_mean_and_percentiles_recomputed():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 10**9, 1_001)
    s = loadgen_latency_stats(x, 0.99)
    srt = sorted(int(v) for v in x)
    assert s.min_ns == srt[0] and s.max_ns == srt[-1]
    assert s.mean_ns == sum(srt) // len(srt)
    assert s.target_ns == srt[int(len(srt) * 0.99)]
    assert s.percentiles_ns[0.999] == srt[int(len(srt) * 0.999)]


def test_latency_stats_negative_sum_is_loadgens_unsigned_division():
    # results.cc: int64 sum / size_t count is computed unsigned: (2**64 - 7) // 2.
    assert loadgen_latency_stats([-10, 3], 0.5).mean_ns == (2**64 - 7) // 2


def test_token_early_stopping_server_runs_tpot_first():
    ttft = np.full(500, 10)
    tpot = np.full(500, 3)
    ok = token_early_stopping("Server", ttft, tpot, 0.99, ttft_latency_ns=20, tpot_latency_ns=5)
    assert ok.passed and ok.ttft_lines == (" * Run successful.",) == ok.tpot_lines
    bad_ttft = token_early_stopping("Server", ttft, tpot, 0.99, ttft_latency_ns=5, tpot_latency_ns=5)
    assert not bad_ttft.passed and bad_ttft.tpot[0].passed
    assert bad_ttft.ttft[0] == server_early_stopping(500, 500, 0.99)
    bad_tpot = token_early_stopping("Server", ttft, tpot, 0.99, ttft_latency_ns=5, tpot_latency_ns=2)
    assert bad_tpot.ttft is None and bad_tpot.ttft_lines == ("",)  # LoadGen's && short-circuit


def test_token_early_stopping_multistream_uses_query_latencies():
    q = np.arange(1, 1_001)
    r = token_early_stopping("MultiStream", np.ones(8_000, dtype=np.int64), np.ones(8_000, dtype=np.int64), 0.99,
                             ttft_latency_ns=1, tpot_latency_ns=1, query_latencies_ns=q)
    assert r.tpot[0] == r.ttft[0] == latency_early_stopping(q, 0.99)
    assert token_early_stopping("Offline", [1], [1], 0.99, ttft_latency_ns=1, tpot_latency_ns=1) is None
