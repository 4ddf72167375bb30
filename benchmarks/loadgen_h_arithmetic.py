"""Where LoadGen's double-precision h(t) differs from the exact one (issue 11 §5).

LoadGen (``loadgen/early_stopping.cc``) evaluates the binomial tail ``I_x(h, t + 1)`` with a
hypergeometric series in double precision (DLMF 15.8.1, truncated at 2**-33) and searches a
bracket predicted from its cache; simbench's ``min_passing_queries`` uses
``scipy.special.betainc`` and an exact search. This script ports LoadGen's arithmetic line by
line (numba for the series; the cache and bracket logic as in ``MinPassingQueriesFinder``) and
compares, for SingleStream/MultiStream's sequential calls t = 1, 2, ... (the cache path) and for
Server's single call at a given t (the empty-cache bracket):

    python benchmarks/loadgen_h_arithmetic.py --percentile 0.9 --max-t 30000
    python benchmarks/loadgen_h_arithmetic.py --percentile 0.99 --max-t 30000
    python benchmarks/loadgen_h_arithmetic.py --percentile 0.999 --max-t 3000

It prints the first t where the two differ, how many differ, and the seconds per h(t).
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np


@numba.njit(cache=True)
def _lbeta(x, y):
    return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)


@numba.njit(cache=True)
def _hyp2f1_a1(b, c, x):
    tolerance = 1.0 / (1 << 33)
    term = 1.0
    result = 1.0
    i = 0
    while abs(term) > tolerance:
        term *= (b + i) * x / (c + i)
        result += term
        i += 1
    return result


@numba.njit(cache=True)
def loadgen_odds(h, t, p):
    """LoadGen's odds(h, t, p, d=0) = beta_regularized(p, h, 1 + t), in its double arithmetic."""
    a, b, x = h, 1 + t, p
    return math.exp(a * math.log(x) + (b - 1) * math.log(1 - x) - _lbeta(a, b)) / a * _hyp2f1_a1(1 - b, 1 + a, x / (x - 1))


def _find_min_passing(min_h, max_h, t, p, c):
    count = max_h - min_h
    while count > 0:
        step = count // 2
        h = min_h + step
        if loadgen_odds(h, t, p) < 1 - c:
            count = step
        else:
            min_h = h + 1
            count -= step + 1
    return min_h


class LoadGenFinder:
    """``MinPassingQueriesFinder`` (one cache per finder, as one LoadGen run has)."""

    def __init__(self):
        self.cache: dict[int, int] = {}

    def __call__(self, t, p, c=0.99):
        if t in self.cache:
            return self.cache[t]
        below = sorted(k for k in self.cache if k < t)
        x0, y0, x1, y1 = -1, 0, 0, math.ceil(math.log(1 - c) / math.log(p))
        if below:
            x1, y1 = below[-1], self.cache[below[-1]]
        if len(below) >= 2:
            x0, y0 = below[-2], self.cache[below[-2]]
        min_slope = p / (1 - p)
        max_slope = float((y1 - y0) * (x1 - x0))
        min_h = int((t - x1) * min_slope + y1)
        max_h = int((t - x1) * max_slope + y1 + 1)
        h = _find_min_passing(min_h, max_h, t, p, c)
        self.cache[t] = h
        return h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--percentile", type=float, default=0.99)
    parser.add_argument("--max-t", type=int, default=3000)
    parser.add_argument("--server-t", type=int, nargs="*", default=None, help="t values for Server's single call")
    args = parser.parse_args()
    from simbench.stats import min_passing_queries

    p = args.percentile
    finder = LoadGenFinder()
    loadgen_odds(10, 1, 0.9)  # compile
    start = time.perf_counter()
    diffs = []
    for t in range(1, args.max_t + 1):
        ours, theirs = min_passing_queries(t, p), finder(t, p)
        if ours != theirs:
            diffs.append((t, theirs - ours))
    elapsed = time.perf_counter() - start
    print(f"p={p:g}: SingleStream sequence t=1..{args.max_t}: {len(diffs)} differ"
          + (f"; first at t={diffs[0][0]} (LoadGen - exact = {diffs[0][1]:+d}); all: {diffs[:20]}" if diffs else "")
          + f"; {elapsed:.1f} s ({elapsed / args.max_t * 1e3:.2f} ms per h(t), both)")
    server_t = args.server_t if args.server_t is not None else [int(v) for v in np.unique(
        np.geomspace(1, args.max_t, 25).astype(int))]
    server_diffs = []
    for t in server_t:
        ours, theirs = min_passing_queries(t, p), LoadGenFinder()(t, p)
        if ours != theirs:
            server_diffs.append((t, theirs - ours))
    print(f"p={p:g}: Server single call at {len(server_t)} t in [1, {max(server_t)}]: {len(server_diffs)} differ"
          + (f": {server_diffs}" if server_diffs else ""))


if __name__ == "__main__":
    main()
