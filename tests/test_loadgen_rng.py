"""LoadGen's random draws (simbench.loadgen_rng): known answers and the buffer mechanics.

The end-to-end check against the official LoadGen's own logs is tests/bench/test_sample_indices.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from simbench.loadgen_rng import MT19937Stream, loaded_sample_set, mt19937, query_sample_indices


def test_mt19937_is_the_cpp_standard_engine():
    # ISO C++ [rand.predef]: the 10,000th consecutive output of a default-constructed
    # std::mt19937 (seed 5489) is 4123659995.
    assert int(mt19937(5489).random_raw(10_000)[-1]) == 4123659995
    # result_type is 32 bits: a uint64 seed is taken mod 2**32
    assert np.array_equal(mt19937(2**32 + 5489).random_raw(5), mt19937(5489).random_raw(5))


def _lemire(outputs, r):
    """Lemire's method written out with Python integers, from the paper's Algorithm 5."""
    it = iter(outputs)
    m = next(it) * r
    low = m % 2**32
    if low < r:
        t = (2**32 - r) % r
        while low < t:
            m = next(it) * r
            low = m % 2**32
    return m >> 32, it


@pytest.mark.parametrize("r", [2, 7, 256, 3 * 2**30 + 1, 2**31 + 1])
def test_uniform_ints_follow_lemire(r):
    raw = [int(x) for x in mt19937(42).random_raw(20_000)]
    it = iter(raw)
    expected = []
    for _ in range(2000):
        v, it = _lemire(it, r)
        expected.append(v)
    got = MT19937Stream(42).uniform_ints(0, r - 1, 2000)
    assert got.tolist() == expected
    assert got.min() >= 0 and got.max() < r


def test_lemire_is_not_the_old_division_method():
    """GCC <= 10 scaled down by division. For small ranges the two nearly always agree, but
    for ranges just above 2**31 (the pair draws of std::shuffle over ~50,000 samples, as in
    tests/bench/test_sample_indices.py) they differ in every draw, so the LoadGen log test
    tells the two libstdc++ versions apart."""
    r = 2**31 + 1
    raw = [int(x) for x in mt19937(3).random_raw(200)]
    scaling = (2**32 - 1) // r
    division = [x // scaling for x in raw if x < r * scaling][:20]
    lemire = MT19937Stream(3).uniform_ints(0, r - 1, 20).tolist()
    assert sum(a != b for a, b in zip(lemire, division)) >= 19


def test_range_is_checked():
    s = MT19937Stream(0)
    with pytest.raises(ValueError, match="uniform_ints"):
        s.uniform_ints(5, 4, 1)
    with pytest.raises(ValueError, match="uniform_ints"):
        s.uniform_ints(0, 2**32, 1)


def test_draws_continue_one_stream_across_calls_and_buffer_refills():
    """Splitting the draws over many calls (and many buffer refills) changes nothing."""
    whole = MT19937Stream(11).uniform_ints(0, 2**31, 30_000)
    s = MT19937Stream(11)
    parts = np.concatenate([s.uniform_ints(0, 2**31, k) for k in (1, 4095, 4096, 21_808)])
    assert np.array_equal(whole, parts)


def test_shuffles_are_permutations_and_repeat_in_sequence():
    a = np.arange(1000)
    s = MT19937Stream(9)
    one = [a.copy() for _ in range(3)]
    for x in one:
        s.shuffle(x)
    assert sorted(one[0].tolist()) == list(range(1000)) and not np.array_equal(one[0], a)
    # shuffle_repeat shuffles the *same* array again and again (LoadGen's equal issue)
    b = np.arange(1000)
    t = MT19937Stream(9)
    cat = t.shuffle_repeat(b, 3, keep=True)
    c = np.arange(1000)
    u = MT19937Stream(9)
    expect = []
    for _ in range(3):
        u.shuffle(c)
        expect.append(c.copy())
    assert np.array_equal(cat, np.concatenate(expect)) and np.array_equal(b, expect[-1])


def test_loaded_set_and_indices_shapes():
    loaded = loaded_sample_set(1, 64)
    assert sorted(loaded.tolist()) == list(range(64))
    ms = query_sample_indices(loaded, scenario="MultiStream", query_count=10, samples_per_query=8,
                              sample_index_rng_seed=2, min_query_count=1)
    starts = ms.reshape(10, 8)[:, 0]
    pos = {int(v): i for i, v in enumerate(loaded)}
    for row, first in zip(ms.reshape(10, 8), starts):
        p = pos[int(first)]
        assert row.tolist() == [int(loaded[(p + k) % 64]) for k in range(8)]
    off = query_sample_indices(loaded, scenario="Offline", query_count=1, samples_per_query=150,
                               sample_index_rng_seed=2, min_query_count=1)
    assert off.tolist() == (loaded.tolist() * 3)[:150]
