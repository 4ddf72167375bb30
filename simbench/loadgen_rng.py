"""LoadGen's own random draws, bit for bit: ``std::mt19937`` with libstdc++'s
``std::uniform_int_distribution`` and ``std::shuffle``.

=============================  ==========================================================
``mt19937``                    a ``numpy.random.MT19937`` in the state of ``std::mt19937(seed)``
``MT19937Stream``              one such engine with LoadGen's two uses of it:
                               ``uniform_ints`` (``uniform_int_distribution``) and
                               ``shuffle`` (``std::shuffle``), consumed in call order
``loaded_sample_set``          LoadGen's performance sample set (``GenerateLoadableSets``)
``query_sample_indices``       each query's QSL indices (``GenerateQueries``)
=============================  ==========================================================

Why hand-written: the sample indices of a real, a simulated and an mlcommons-loadgen run must
be the very same for the same ``qsl_rng_seed`` / ``sample_index_rng_seed``, and no library
reproduces libstdc++'s integer algorithms (NumPy's ``integers`` and ``permutation`` use other
ones), so they are implemented here from their published descriptions and checked against the
logs of the official LoadGen (``tests/test_loadgen_rng.py``), not approximated.

The algorithms, as in the libstdc++ that built the ``mlcommons-loadgen`` 6.0.17 wheel (GCC
14.2, its ``.comment`` section; the same since GCC 11):

* ``uniform_int_distribution{a, b}`` with a 32-bit engine and ``b - a < 2**32 - 1``: Lemire's
  nearly divisionless method with a 64-bit product. ``r = b - a + 1``; draw ``x`` (32 bits),
  ``m = x * r``; if ``m mod 2**32 < r``, redraw while ``m mod 2**32 < (2**32 - r) mod r``;
  the value is ``a + (m >> 32)``. (D. Lemire, "Fast Random Integer Generation in an
  Interval", ACM TOMACS 29(1), 2019, arXiv:1805.10941.) GCC 10 and older scaled down by
  division instead (``x / ((2**32 - 1) / r)`` with rejection); the LoadGen log test tells the
  two apart.
* ``std::shuffle`` of ``n`` elements with a 32-bit engine: if ``(2**32 - 1) // n >= n`` it
  makes two swaps per draw: for even ``n`` first swaps element 1 with element ``{0, 1}``
  (one draw); then for ``i = 1 or 2, i+2, ...`` it draws ``x`` uniform in
  ``{0, ..., (i + 1)(i + 2) - 1}`` and swaps element ``i`` with ``x // (i + 2)`` and element
  ``i + 1`` with ``x % (i + 2)``. Otherwise (``n > 65535``) it is the Fisher-Yates pass
  ``for i in 1..n-1: swap(a[i], a[uniform{0, i}])``.
* ``std::mt19937(seed)`` keeps ``seed mod 2**32`` (``result_type`` is 32 bits wide).

References
----------
MLPerf LoadGen ``loadgen.cc``: ``GenerateLoadableSets`` (``qsl_rng_seed``),
``GenerateQueries``, ``SampleDistribution``, ``SampleDistributionEqualIssue``
(``sample_index_rng_seed``). ISO C++ [rand.dist.uni.int], [alg.random.shuffle].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simbench.errors import SimbenchInputError

__all__ = ["mt19937", "MT19937Stream", "loaded_sample_set", "query_sample_indices"]

_U32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_SHIFT = np.uint64(32)


def mt19937(seed: int) -> np.random.MT19937:
    """A ``numpy.random.MT19937`` in the state of C++ ``std::mt19937(seed)``.

    libstdc++ seeds ``mt19937`` with ``seed mod 2**32`` by the reference ``init_genrand``
    recurrence, which is also how ``numpy.random.RandomState(int)`` seeds; ``random_raw``
    then yields the same 32-bit outputs as ``operator()``. (C++ [rand.predef]: the 10,000th
    output of ``std::mt19937()``, seed 5489, is 4123659995.)

    Examples
    --------
    >>> int(mt19937(5489).random_raw(10_000)[-1])
    4123659995
    """
    key, pos = np.random.RandomState(int(seed) % 2**32).get_state()[1:3]
    bitgen = np.random.MT19937()
    bitgen.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
    return bitgen


@njit(cache=True, inline="always")
def _draw(raw, pos, erange):
    """One ``uniform_int_distribution{0, erange - 1}`` value (Lemire) from ``raw[pos:]``:
    ``(value, new pos)``, or ``(0, -1)`` when ``raw`` runs out."""
    if pos >= raw.shape[0]:
        return np.uint64(0), -1
    prod = raw[pos] * erange
    pos += 1
    low = prod & _U32
    if low < erange:
        threshold = (_TWO32 - erange) % erange
        while low < threshold:
            if pos >= raw.shape[0]:
                return np.uint64(0), -1
            prod = raw[pos] * erange
            pos += 1
            low = prod & _U32
    return prod >> _SHIFT, pos


@njit(cache=True)
def _uniform_fill(raw, pos, erange, out):
    """``out[k] = uniform{0, erange - 1}`` for every k; the new position, or -1 when raw runs out."""
    r = np.uint64(erange)
    for k in range(out.shape[0]):
        v, pos = _draw(raw, pos, r)
        if pos < 0:
            return -1
        out[k] = np.int64(v)
    return pos


@njit(cache=True)
def _shuffle(a, raw, pos):
    """libstdc++ ``std::shuffle(a.begin(), a.end(), g)`` in place; the new position, or -1."""
    n = a.shape[0]
    if n == 0:
        return pos
    if np.uint64(4294967295) // np.uint64(n) >= np.uint64(n):
        i = 1
        if n % 2 == 0:
            v, pos = _draw(raw, pos, np.uint64(2))
            if pos < 0:
                return -1
            j = np.int64(v)
            a[1], a[j] = a[j], a[1]
            i = 2
        while i != n:
            b1 = np.uint64(i + 2)
            x, pos = _draw(raw, pos, np.uint64(i + 1) * b1)
            if pos < 0:
                return -1
            j = np.int64(x // b1)
            a[i], a[j] = a[j], a[i]
            j = np.int64(x % b1)
            a[i + 1], a[j] = a[j], a[i + 1]
            i += 2
        return pos
    for i in range(1, n):
        v, pos = _draw(raw, pos, np.uint64(i + 1))
        if pos < 0:
            return -1
        j = np.int64(v)
        a[i], a[j] = a[j], a[i]
    return pos


@njit(cache=True)
def _shuffle_repeat(a, reps, out, raw, pos):
    """Shuffle ``a`` in place ``reps`` times in a row, copying each result into ``out``
    (when it is not empty); the new position, or -1 (``a`` then holds a partial result)."""
    n = a.shape[0]
    for r in range(reps):
        pos = _shuffle(a, raw, pos)
        if pos < 0:
            return -1
        if out.shape[0]:
            out[r * n : (r + 1) * n] = a
    return pos


class MT19937Stream:
    """One ``std::mt19937`` and the draws LoadGen takes from it, in call order.

    Parameters
    ----------
    seed : int
        The engine's seed (e.g. ``sample_index_rng_seed``), 0 <= seed < 2**64; only
        ``seed mod 2**32`` matters, as in C++.

    Examples
    --------
    >>> s = MT19937Stream(0)
    >>> a = np.arange(5); s.shuffle(a); a.tolist()
    [2, 4, 3, 0, 1]
    """

    def __init__(self, seed: int) -> None:
        self._bitgen = mt19937(seed)
        self._raw = np.zeros(0, dtype=np.uint64)
        self._pos = 0

    def _ensure(self, count: int) -> None:
        if self._raw.shape[0] - self._pos < count:
            more = self._bitgen.random_raw(max(count, 4096))
            self._raw = np.concatenate([self._raw[self._pos :], more])
            self._pos = 0

    def _run(self, kernel, need: int, *args) -> None:
        while True:
            self._ensure(need)
            new = kernel(self._raw, self._pos, *args)
            if new >= 0:
                self._pos = new
                return
            need = 2 * need + 64  # a rejection ran past the buffer: retry from the same place

    def uniform_ints(self, low: int, high: int, count: int) -> np.ndarray:
        """``count`` draws of ``std::uniform_int_distribution<>(low, high)`` (int64 array).

        Raises
        ------
        ValueError
            ``high < low`` or a range of 2**32 - 1 values or more.
        """
        span = int(high) - int(low) + 1
        if not 1 <= span < 2**32 - 1:
            raise SimbenchInputError(f"uniform_ints: range [{low}, {high}] must hold 1 .. 2**32-2 values")
        out = np.empty(int(count), dtype=np.int64)
        chunk = 1 << 20  # bounded buffers: a run's millions of draws need no second copy
        for k in range(0, out.shape[0], chunk):
            part = out[k : k + chunk]
            self._run(_uniform_fill, part.shape[0] + 64, span, part)
        if low:
            out += int(low)
        return out

    def shuffle(self, values: np.ndarray) -> None:
        """``std::shuffle`` of a 1-D array in place."""
        need = int(values.shape[0]) + 64
        while True:
            self._ensure(need)
            attempt = np.array(values, copy=True)  # a retry must start from the same order
            new = _shuffle(attempt, self._raw, self._pos)
            if new >= 0:
                self._pos = new
                values[...] = attempt
                return
            need = 2 * need

    def shuffle_repeat(self, values: np.ndarray, reps: int, keep: bool = False) -> np.ndarray:
        """``reps`` successive ``std::shuffle`` calls on one array (LoadGen's equal-issue
        permutations); returns their concatenation when ``keep`` (else an empty array)."""
        n = int(values.shape[0])
        out = np.empty(reps * n if keep else 0, dtype=values.dtype)
        chunk = max(1, 1_000_000 // max(n, 1))
        done = 0
        while done < reps:
            k = min(chunk, reps - done)
            need = k * (n + 1) + 64
            while True:
                self._ensure(need)
                attempt = np.array(values, copy=True)
                part = out[done * n : (done + k) * n] if keep else out
                new = _shuffle_repeat(attempt, k, part, self._raw, self._pos)
                if new >= 0:
                    self._pos = new
                    values[...] = attempt
                    break
                need = 2 * need
            done += k
        return out


def loaded_sample_set(qsl_rng_seed: int, performance_sample_count: int) -> np.ndarray:
    """LoadGen's performance sample set: ``std::shuffle`` of ``0 .. performance_sample_count-1``
    by ``std::mt19937(qsl_rng_seed)`` (``GenerateLoadableSets`` in performance mode, whose set
    is the whole shuffled range). int64 array of shape (performance_sample_count,), without
    MultiStream's padding.
    """
    samples = np.arange(int(performance_sample_count), dtype=np.int64)
    MT19937Stream(qsl_rng_seed).shuffle(samples)
    return samples


def query_sample_indices(
    loaded: np.ndarray,
    *,
    scenario: str,
    query_count: int,
    samples_per_query: int,
    sample_index_rng_seed: int,
    min_query_count: int,
    performance_issue_unique: bool = False,
    performance_issue_same: bool = False,
    performance_issue_same_index: int = 0,
    sample_concatenate_permutation: bool = False,
) -> np.ndarray:
    """Each query's QSL indices, drawn as LoadGen's ``GenerateQueries`` (performance mode).

    Parameters
    ----------
    loaded : numpy.ndarray
        The loaded set (``loaded_sample_set``), int64, shape (L,), without padding.
    scenario : {'SingleStream', 'MultiStream', 'Server', 'Offline'}
    query_count : int
        Queries to draw for (a prefix of LoadGen's generated queries).
    samples_per_query : int
        LoadGen's effective ``samples_per_query`` (Offline: the one query's size).
    sample_index_rng_seed : int
    min_query_count : int
        Effective ``min_query_count`` (Offline: 1): sizes the equal-issue permutations,
        which LoadGen draws before any query, in every mode.
    performance_issue_unique, performance_issue_same, performance_issue_same_index,
    sample_concatenate_permutation
        LoadGen's settings of those names.

    Returns
    -------
    numpy.ndarray
        int64, shape (query_count * samples_per_query,), query-major.

    Notes
    -----
    One ``std::mt19937(sample_index_rng_seed)`` serves, in this order: the "unique"
    distribution's shuffle of ``0, s, 2s, ... < L`` (``s`` = samples_per_query for
    MultiStream, else 1), then ``ceil(min_queries / L')`` successive shuffles of
    ``0 .. L'-1`` for equal issue (``L'`` the loaded set's size with MultiStream's padding of
    ``s - 1`` samples), then the queries: SingleStream/Server one
    ``uniform_int_distribution<>(0, L-1)`` per sample; MultiStream one per query (its first
    sample; the rest follow contiguously through the padded set); Offline the loaded set
    repeated in order (each full repetition shuffled under
    ``sample_concatenate_permutation``). All of these are drawn whether or not the mode
    uses them, exactly as LoadGen constructs them.
    """
    loaded = np.asarray(loaded, dtype=np.int64)
    L = int(loaded.shape[0])
    spq = int(samples_per_query)
    n = int(query_count)
    multi = scenario == "MultiStream"
    # GenerateLoadableSets pads MultiStream's set with its first spq - 1 samples (cyclically).
    padded = loaded[np.arange(L + spq - 1) % L] if multi else loaded
    Lp = int(padded.shape[0])
    rng = MT19937Stream(sample_index_rng_seed)
    min_queries = int(min_query_count)
    if performance_issue_unique:
        min_queries = Lp // spq
    unique = np.arange(0, L, spq if multi else 1, dtype=np.int64)
    rng.shuffle(unique)
    reps = math.ceil(min_queries / Lp) if Lp else 0
    equal = rng.shuffle_repeat(np.arange(Lp, dtype=np.int64), reps, keep=sample_concatenate_permutation)
    same = int(performance_issue_same_index)
    if scenario == "Offline":
        if performance_issue_same:
            return np.full(spq, loaded[same], dtype=np.int64)
        full, rem = divmod(spq, L)
        if not sample_concatenate_permutation:
            return np.resize(loaded, spq)  # the loaded set repeated in order (cyclic), no draws
        parts = []
        for _ in range(full):
            block = loaded.copy()
            rng.shuffle(block)
            parts.append(block)
        parts.append(loaded[:rem])
        return np.concatenate(parts)[: spq * n]
    if multi:
        if performance_issue_unique:
            first = unique[:n]
        elif performance_issue_same:
            first = np.full(n, same, dtype=np.int64)
        else:
            first = rng.uniform_ints(0, L - 1, n)
        return padded[(first[:, None] + np.arange(spq, dtype=np.int64)[None, :]).reshape(-1)]
    count = n * spq
    if performance_issue_unique:
        pick = unique[:count]
    elif performance_issue_same:
        pick = np.full(count, same, dtype=np.int64)
    elif sample_concatenate_permutation:
        pick = equal[np.arange(count, dtype=np.int64) % max(equal.shape[0], 1)]
    else:
        pick = rng.uniform_ints(0, L - 1, count)
    return loaded[pick]
