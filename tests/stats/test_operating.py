"""Operating characteristics (issue 11 §4): pass probabilities, the sawtooth, exact sample sizes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from simbench.stats import (
    early_stopping_coverage,
    exact_sample_size,
    margin_coverage,
    max_overlatency_count,
    min_passing_queries,
    operating_characteristic,
    server_pass_probability,
)


def test_the_issue_pass_probabilities_to_three_digits():
    # issue 11: at n = 270,336, p = 0.99: 0.999 at a true rate of 0.9 %, 0.62 at 0.95 %, 0.099 at 0.98 %
    got = server_pass_probability(270_336, np.array([0.009, 0.0095, 0.0098]), 0.99)
    assert [float(f"{x:.3g}") for x in got] == [0.999, 0.62, 0.0991]
    assert np.round(got, 3).tolist() == [0.999, 0.62, 0.099]


def test_pass_probability_is_the_binomial_of_the_tolerated_count_checked_by_brute_force():
    # independent recomputation: enumerate t, apply LoadGen's rule n >= h(t) + t, sum Bin(n, r) mass
    n, p, r = 2000, 0.99, 0.004
    passing = [t for t in range(0, 40) if n >= min_passing_queries(t, p) + t]
    assert passing == list(range(max(passing) + 1)) and max(passing) == max_overlatency_count(n, p) == 9
    brute = sum(stats.binom.pmf(t, n, r) for t in passing)
    assert server_pass_probability(n, r, p) == pytest.approx(brute, rel=1e-12)
    # too few queries: nothing passes
    assert server_pass_probability(400, 0.0, 0.99) == 0.0
    # a system exactly at the bound passes with probability < 1 - c
    assert server_pass_probability(270_336, 0.01, 0.99) < 0.01


def test_operating_characteristic_curve_and_plain_check():
    oc = operating_characteristic(270_336)
    assert oc.max_overlatency_count == 2583 and oc.percentile_check_max_overlatency == 2703
    probability = np.array(oc.pass_probability)
    assert np.all(np.diff(probability) <= 0) and probability[0] > 0.999999 and probability[-1] < 1e-6
    assert np.all(np.array(oc.percentile_check_probability) >= probability)
    assert stats.binom.cdf(2583, 270_336, oc.rate_at_half) == pytest.approx(0.5, abs=1e-9)


def test_margin_coverage_sawtooth_and_the_paper_counts():
    assert margin_coverage(270_336, 0.99) == pytest.approx(0.99097, abs=1e-5)  # docs §3: 99.10 %
    # the paper's unrounded Eq. 2 count falls just short of 99 %
    assert 0.98995 < margin_coverage(262_742, 0.99) < 0.98996
    # the sawtooth: k = floor(0.99 n) grows with n except once every 1/(1-p) = 100 queries; coverage
    # rises while k follows n and drops at each n where k stays put
    n = np.arange(262_700, 262_900)
    coverage = margin_coverage(n, 0.99)
    k = np.floor(n * 0.99)
    stays = np.flatnonzero(np.diff(k) == 0)
    assert stays.size == 2
    assert np.all(np.diff(coverage)[stays] < 0)
    assert np.all(np.diff(coverage)[np.setdiff1d(np.arange(n.size - 1), stays)] > 0)
    # independent recomputation by the binomial: x_(k+1) in [xi_(p-m), xi_(p+m)] iff #{x < xi_(p-m)} <= k
    # and #{x <= xi_(p+m)} >= k + 1; the counts are nested, so P = F_Bin(k; n, p-m) - F_Bin(k; n, p+m)
    small_n, p, m = 3001, 0.9, 0.005
    kk = int(small_n * p)
    direct = stats.binom.cdf(kk, small_n, p - m) - stats.binom.cdf(kk, small_n, p + m)
    assert margin_coverage(small_n, p) == pytest.approx(direct, rel=1e-9)


def test_exact_sample_size_beside_eq2():
    result = exact_sample_size(0.99)
    assert result.normal_queries == 262_742 and result.paper_rounded_queries == 270_336
    assert result.normal_coverage < 0.99 and result.normal_coverage_range[1] < 0.99
    assert margin_coverage(result.first_queries, 0.99) >= 0.99 > margin_coverage(result.first_queries - 1, 0.99)
    assert result.first_queries == 262_886 and result.stable_queries == 263_212
    tail = margin_coverage(np.arange(result.stable_queries, result.stable_queries + 2000), 0.99)
    assert tail.min() >= 0.99


def test_early_stopping_coverage_matches_the_documented_value():
    assert early_stopping_coverage(270_336, 0.99) == pytest.approx(0.9906, abs=1e-4)
    assert np.isnan(early_stopping_coverage(600, 0.99))


def run(*args):
    return subprocess.run([sys.executable, "-m", "simbench.cli.main", "stats", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})


def test_cli_oc_and_early_stopping(tmp_path):
    r = run("oc", "--rates", "0.9,0.95,0.98", "--json", "--out", str(tmp_path / "f" / "oc.html"))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["operating_characteristic"]
    assert [round(x, 3) for x in data["pass_probability"]] == [0.999, 0.62, 0.099]
    html = (tmp_path / "f" / "oc.html").read_text()
    assert len(html) > 1_000_000 and '<script src="http' not in html
    table = run("oc")
    assert table.returncode == 0 and "262,742" in table.stdout and "262,886" in table.stdout
    r = run("early-stopping", "--queries", "320243", "--overlatency", "276108", "--percentile", "99")
    assert r.returncode == 0, r.stderr
    assert " * Would need to run at least 27412431 more queries," in r.stdout
    r = run("early-stopping", "--queries", "250613", "--percentile", "90", "--json")
    latency = json.loads(r.stdout)["latency"]
    assert latency["discarded"] == 24711 and latency["estimate_rank"] == 250613 - 24712 + 1
    r = run("early-stopping", "--queries", "50", "--percentile", "90")
    assert " * Only processed 50 queries." in r.stdout and "at least 64 queries" in r.stdout
    bad = run("early-stopping", "--queries", "10", "--overlatency", "11")
    assert bad.returncode == 2 and bad.stderr.startswith("error: Invalid value for '--overlatency'")
