"""simbench.profiles.concurrency: the stream-sharing gain from one- and two-worker runs,
checked on schedules whose answer is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from simbench.profiles.concurrency import fit_concurrency, in_flight, stream_factor
from simbench.profiles.fit import BatchTimes


def _times(starts, services, sizes=None):
    n = len(starts)
    return BatchTimes(np.array(sizes or [1] * n, np.int64), np.array(services, float), np.array(starts, np.int64),
                      np.zeros(n, np.int64), np.zeros(n, np.int64), [{}])


def test_in_flight_counts_overlapping_batches():
    t = _times([0, 5, 20, 25, 100], [10, 10, 10, 10, 10])
    assert in_flight(t).tolist() == [1, 2, 1, 2, 1]


@pytest.mark.parametrize("gain", [0.0, 0.6, 1.0])
def test_gain_and_throughput_of_two_overlapped_workers(gain):
    """Two workers always busy: each batch starts with 2 in flight and takes
    10 ms * 2 / (1 + g); throughput doubles over that factor: ratio 1 + g."""
    base = 10_000_000.0
    single = _times([i * base for i in range(40)], [base] * 40)
    s2 = base * float(stream_factor(2, gain))
    starts = [i * s2 for i in range(40)] * 2
    conc = _times(starts, [s2] * 80)
    fit = fit_concurrency(single, conc, 2)
    assert fit.gain == pytest.approx(gain, abs=1e-6)
    assert fit.slowdown_by_in_flight == {2: pytest.approx(2 / (1 + gain))}
    assert fit.throughput_ratio == pytest.approx(1 + gain, rel=1e-9)


def test_concurrency_fit_needs_matching_sizes():
    with pytest.raises(ValueError, match=r"batch sizes \[4\] of the concurrent run have no one-worker"):
        fit_concurrency(_times([0], [1.0]), _times([0], [1.0], sizes=[4]), 2)
    with pytest.raises(ValueError, match="workers: expected >= 2"):
        fit_concurrency(_times([0], [1.0]), _times([0], [1.0]), 1)
