"""LoadGen's percentile convention: ``sorted[floor(n * p)]``.

This module holds the one percentile rule every simbench Summary uses,
:func:`loadgen_percentile`, its vectorised form :func:`loadgen_percentiles`,
and the index rule on its own, :func:`loadgen_percentile_index`.

None of numpy's 13 ``np.quantile`` methods matches LoadGen for every ``n`` and
``p``. For example, ``method="inverted_cdf"`` returns ``sorted[ceil(n*p) - 1]``,
which differs from LoadGen whenever ``n * p`` is a whole number. The rule is
therefore implemented here once, named, and tested against LoadGen's outputs.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from simbench.errors import SimbenchInputError

__all__ = [
    "loadgen_percentile",
    "loadgen_percentile_index",
    "loadgen_percentiles",
]


def _check_percentile(percentile: float, name: str = "percentile") -> float:
    try:
        value = float(percentile)
    except (TypeError, ValueError):
        raise SimbenchInputError(f"{name} must be a real number in [0, 1), got {percentile!r}") from None
    if not 0.0 <= value < 1.0:  # also rejects NaN
        raise SimbenchInputError(f"{name} must be in [0, 1) (a fraction, not percent), got {percentile!r}")
    return value


def _as_latency_array(latencies_ns: ArrayLike) -> np.ndarray:
    array = np.asarray(latencies_ns)
    if array.ndim != 1:
        raise SimbenchInputError(f"latencies_ns must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise SimbenchInputError("latencies_ns is empty; a percentile needs at least one latency")
    if array.dtype.kind not in "iuf":
        raise SimbenchInputError(f"latencies_ns must hold integers or floats, got dtype {array.dtype}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise SimbenchInputError("latencies_ns contains NaN")
    return array


def loadgen_percentile_index(sample_count: int, percentile: float) -> int:
    """Return the 0-based index of the p-th percentile in an ascending sort.

    Parameters
    ----------
    sample_count : int
        Number of latencies ``n``, at least 1.
    percentile : float
        Percentile as a fraction ``p`` in [0, 1), e.g. ``0.9`` for the 90th.

    Returns
    -------
    int
        ``floor(n * p)``, computed in IEEE double precision exactly as LoadGen
        does, in [0, n - 1].

    Raises
    ------
    ValueError
        If ``sample_count`` < 1 or ``percentile`` is outside [0, 1).

    Notes
    -----
    LoadGen indexes a ``std::vector`` with the double ``n * p``; C++
    converts it to ``size_t`` by truncation, so the index is
    ``static_cast<size_t>(static_cast<double>(n) * p)``. Python's
    ``int(n * p)`` performs the same double multiplication and truncation
    for ``n < 2**53``. The double value of ``p`` matters: ``0.999`` and
    ``99.9 * 0.01`` (how ``mlperf.conf`` percentages are converted) are
    different doubles and can give different indices.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc``,
       ``PerformanceSummary::ProcessLatencies``.
       https://github.com/mlcommons/inference/blob/master/loadgen/results.cc

    Examples
    --------
    >>> loadgen_percentile_index(1577, 0.9)
    1419
    >>> loadgen_percentile_index(100, 0.99)
    99
    """
    try:
        count = operator.index(sample_count)
    except TypeError:
        raise SimbenchInputError(f"sample_count must be an integer, got {sample_count!r}") from None
    if count < 1:
        raise SimbenchInputError(f"sample_count must be >= 1, got {count}")
    value = _check_percentile(percentile)
    return int(float(count) * value)


def loadgen_percentile(latencies_ns: ArrayLike, percentile: float) -> int:
    """Return the p-th percentile latency by LoadGen's rule ``sorted[floor(n*p)]``.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,)
        Latencies in nanoseconds, in any order (the input is not modified).
        Floats are accepted and give a float result.
    percentile : float
        Percentile as a fraction ``p`` in [0, 1), e.g. ``0.99``.

    Returns
    -------
    int
        The element of rank ``floor(n * p)`` (0-based) of the ascending sort,
        in nanoseconds.

    Raises
    ------
    ValueError
        If ``latencies_ns`` is empty, not one-dimensional, not numeric or
        contains NaN, or if ``percentile`` is outside [0, 1).

    Notes
    -----
    With :math:`x_{(0)} \\le \\dots \\le x_{(n-1)}` the sorted latencies,

    .. math:: \\hat{q}_p = x_{(\\lfloor n p \\rfloor)}.

    This is an order statistic, so it is never interpolated. The selection
    uses ``np.partition`` (introselect, O(n)) instead of a full sort, which
    matters for 20-million-sample Offline traces. See
    :func:`loadgen_percentile_index` for the floating-point details.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc``,
       ``PerformanceSummary::ProcessLatencies``.
       https://github.com/mlcommons/inference/blob/master/loadgen/results.cc

    Examples
    --------
    >>> loadgen_percentile([5, 1, 4, 2, 3], 0.5)
    3
    >>> loadgen_percentile([10, 20, 30, 40], 0.75)  # index floor(4 * 0.75) = 3
    40
    """
    array = _as_latency_array(latencies_ns)
    index = loadgen_percentile_index(array.size, percentile)
    return np.partition(array, index)[index].item()


def loadgen_percentiles(latencies_ns: ArrayLike, percentiles: Sequence[float] | ArrayLike) -> np.ndarray:
    """Return several LoadGen percentiles with a single selection pass.

    Parameters
    ----------
    latencies_ns : array_like of int, shape (n,)
        Latencies in nanoseconds, in any order (the input is not modified).
    percentiles : sequence of float, shape (k,)
        Percentiles as fractions in [0, 1), in any order; repeats allowed.

    Returns
    -------
    numpy.ndarray, shape (k,)
        ``sorted[floor(n * p_i)]`` for each ``p_i``, in the order given, with
        the dtype of ``latencies_ns``.

    Raises
    ------
    ValueError
        As :func:`loadgen_percentile`, or if ``percentiles`` is empty or not
        one-dimensional.

    Notes
    -----
    One ``np.partition`` call with the list of distinct indices as ``kth``
    places every requested order statistic, so the cost is one O(n log k)
    pass rather than k passes. LoadGen's summary always reports
    ``(0.5, 0.9, 0.95, 0.97, 0.99, 0.999)``.

    References
    ----------
    .. [1] MLCommons, LoadGen ``loadgen/results.cc`` and ``results.h``
       (``latency_percentiles``).
       https://github.com/mlcommons/inference/blob/master/loadgen/results.cc

    Examples
    --------
    >>> loadgen_percentiles(list(range(1000)), [0.5, 0.9, 0.99, 0.999]).tolist()
    [500, 900, 990, 999]
    """
    array = _as_latency_array(latencies_ns)
    requested = np.atleast_1d(np.asarray(percentiles, dtype=float))
    if requested.ndim != 1 or requested.size == 0:
        raise SimbenchInputError(f"percentiles must be a non-empty 1-D sequence, got {percentiles!r}")
    indices = np.array(
        [loadgen_percentile_index(array.size, p) for p in requested.tolist()], dtype=np.intp
    )
    partitioned = np.partition(array, np.unique(indices))
    return partitioned[indices]
