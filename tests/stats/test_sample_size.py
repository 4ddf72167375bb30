"""The MLPerf paper's sample-size formula (arXiv:1911.02549 §III-D, Table IV)."""

import math

import pytest
from scipy.stats import norm

from simbench.stats import (
    PAPER_PERCENTILES,
    margin_of_error,
    paper_margin,
    paper_table,
    round_up_to_multiple,
    sample_size,
)

# Table IV (+ the rules' 97% row): percentile -> (margin, inferences, rounded, multiple of 2**13)
TABLE_IV = {
    0.90: (0.005, 23_886, 24_576, 3),
    0.95: (0.0025, 50_425, 57_344, 7),
    0.97: (0.0015, 85_811, 90_112, 11),
    0.99: (0.0005, 262_742, 270_336, 33),
}


def test_table_iv_reproduced_exactly():
    rows = paper_table()
    assert tuple(row.percentile for row in rows) == PAPER_PERCENTILES
    for row in rows:
        margin, inferences, rounded, factor = TABLE_IV[row.percentile]
        assert row.margin == pytest.approx(margin, rel=1e-12)
        assert row.paper_queries == inferences
        assert row.rounded_queries == rounded == factor * 2**13
        assert row.confidence == 0.99


def test_worked_example_and_independent_formula():
    # (-2.576)^2 x 0.9 x 0.1 / 0.005^2 = 6.635 x 3600 = 23,886
    z = norm.ppf(0.005)
    for p in (0.5, 0.9, 0.99, 0.999):
        m = (1 - p) / 20
        assert sample_size(p).exact_queries == pytest.approx(z**2 * p * (1 - p) / m**2, rel=1e-12)
    assert sample_size(0.9).z == pytest.approx(2.5758293035489, rel=1e-12)


def test_min_queries_is_the_ceiling_and_meets_the_margin():
    for p in PAPER_PERCENTILES:
        result = sample_size(p)
        assert result.min_queries == math.ceil(result.exact_queries)
        assert margin_of_error(result.min_queries, p) <= result.margin
        assert margin_of_error(result.min_queries - 1, p) > result.margin
    # The paper prints the nearest integer: 50,425.2 -> 50,425 though 50,426 are needed.
    assert sample_size(0.95).paper_queries == 50_425 and sample_size(0.95).min_queries == 50_426


def test_custom_margin_confidence_and_multiple():
    result = sample_size(0.9, confidence=0.95, margin=0.01, multiple=1000)
    assert result.exact_queries == pytest.approx(norm.ppf(0.975) ** 2 * 0.09 / 0.01**2)
    assert result.min_queries == 3458 and result.rounded_queries == 4000
    assert paper_margin(0.99) == pytest.approx(0.0005)


def test_round_up_to_multiple():
    assert round_up_to_multiple(8192) == 8192
    assert round_up_to_multiple(8193) == 16384
    assert round_up_to_multiple(0) == 0
    assert round_up_to_multiple(23_885.6) == 24_576


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: sample_size(99), "percentile"),
        (lambda: sample_size(0.99, confidence=1.5), "confidence"),
        (lambda: sample_size(0.99, margin=0.5), "margin"),
        (lambda: round_up_to_multiple(-1), "count"),
        (lambda: round_up_to_multiple(5, 0), "multiple"),
        (lambda: margin_of_error(0, 0.9), "query_count"),
    ],
)
def test_validation_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
