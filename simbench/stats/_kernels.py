"""numba kernels for the Monte Carlo checks (private; import cost: numba).

Random numbers come from xoshiro256** (Blackman & Vigna 2018), one 256-bit
state per replication taken from a ``numpy.random.SeedSequence``, so a
replication's draws do not depend on the thread that runs it or on how many
replications run. Normals use Doornik's 128-layer ziggurat (ZIGNOR, 2005);
Gamma variates use Marsaglia & Tsang (2000).

Every kernel returns, per replication and per threshold, the number of
latencies strictly below and at-or-below the threshold. That is all the
coverage checks need: an order statistic lies above or below a fixed value
exactly when such a count crosses its rank.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import uint64

LAW_LOGNORMAL = 0  # params: (mu, sigma) of log(latency)
LAW_GAMMA = 1  # params: (shape, scale)
LAW_EMPIRICAL = 2  # table: latency values, drawn uniformly with replacement
LAW_EXPONENTIAL = 3  # params: (mean, unused)

_BUFFER = 4096


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    layers, tail_start, layer_area = 128, 3.442619855899, 9.91256303526217e-3
    x = np.zeros(layers + 1)
    f = math.exp(-0.5 * tail_start * tail_start)
    x[0] = layer_area / f
    x[1] = tail_start
    for i in range(2, layers):
        x[i] = math.sqrt(-2.0 * math.log(layer_area / x[i - 1] + f))
        f = math.exp(-0.5 * x[i] * x[i])
    return x, x[1:] / x[:-1]


ZIG_X, ZIG_RATIO = _ziggurat_tables()


def replication_states(seed: int | np.random.SeedSequence, replications: int) -> np.ndarray:
    """xoshiro256** states, shape (replications, 4), one spawned SeedSequence child each."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    states = np.empty((replications, 4), dtype=np.uint64)
    for index, child in enumerate(root.spawn(replications)):
        words = child.generate_state(4, dtype=np.uint64)
        if not words.any():  # the all-zero state is xoshiro's only fixed point
            words[0] = 1
        states[index] = words
    return states


@nb.njit(inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@nb.njit(inline="always")
def _next(s):
    result = _rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@nb.njit(inline="always")
def _uniform(s):
    """Uniform on [0, 1) with 53 random bits."""
    return float(_next(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(inline="always")
def _exponential(s):
    return -math.log(1.0 - _uniform(s))


@nb.njit(inline="always")
def _normal(s):
    zig_x = ZIG_X
    zig_ratio = ZIG_RATIO
    while True:
        bits = _next(s)
        u = 2.0 * (float(bits >> uint64(11)) * (1.0 / 9007199254740992.0)) - 1.0
        i = int(bits & uint64(0x7F))
        if abs(u) < zig_ratio[i]:
            return u * zig_x[i]
        if i == 0:
            tail = zig_x[1]
            while True:
                x = math.log(1.0 - _uniform(s)) / tail
                y = math.log(1.0 - _uniform(s))
                if -2.0 * y >= x * x:
                    break
            return x - tail if u < 0.0 else tail - x
        x = u * zig_x[i]
        f0 = math.exp(-0.5 * (zig_x[i] * zig_x[i] - x * x))
        f1 = math.exp(-0.5 * (zig_x[i + 1] * zig_x[i + 1] - x * x))
        if f1 + _uniform(s) * (f0 - f1) < 1.0:
            return x


@nb.njit(inline="always")
def _gamma(s, shape, scale):
    boost = 1.0
    if shape < 1.0:
        # G(k) = G(k + 1) * U**(1/k)  (Marsaglia & Tsang 2000, section 6)
        boost = (1.0 - _uniform(s)) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = _normal(s)
        v = 1.0 + c * z
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(s)
        if u < 1.0 - 0.0331 * z * z * z * z or math.log(u) < 0.5 * z * z + d * (1.0 - v + math.log(v)):
            return d * v * scale * boost


@nb.njit(inline="always")
def _draw(s, law, p0, p1, table):
    if law == 0:
        return math.exp(p0 + p1 * _normal(s))
    if law == 1:
        return _gamma(s, p0, p1)
    if law == 2:
        return table[int(_uniform(s) * table.size)]
    return p0 * _exponential(s)


@nb.njit(inline="always")
def _count_into(buffer, m, thresholds, counts_row):
    for j in range(thresholds.size):
        threshold = thresholds[j]
        below = 0
        at_or_below = 0
        for i in range(m):
            below += buffer[i] < threshold
            at_or_below += buffer[i] <= threshold
        counts_row[j, 0] += below
        counts_row[j, 1] += at_or_below


@nb.njit(cache=True, parallel=True)
def iid_threshold_counts(law, p0, p1, table, states, query_count, thresholds):
    """Counts (R, K, 2): latencies < and <= each threshold, i.i.d. draws from one law."""
    replications = states.shape[0]
    counts = np.zeros((replications, thresholds.size, 2), dtype=np.int64)
    for r in nb.prange(replications):
        s = states[r].copy()
        buffer = np.empty(_BUFFER)
        done = 0
        while done < query_count:
            m = min(_BUFFER, query_count - done)
            for i in range(m):
                buffer[i] = _draw(s, law, p0, p1, table)
            _count_into(buffer, m, thresholds, counts[r])
            done += m
    return counts


@nb.njit(cache=True)
def iid_sample(law, p0, p1, table, state, query_count):
    """One replication's latencies, exactly the draws ``iid_threshold_counts`` counts."""
    s = state.copy()
    out = np.empty(query_count)
    for i in range(query_count):
        out[i] = _draw(s, law, p0, p1, table)
    return out


@nb.njit(inline="always")
def _interarrival(s, arrival_shape, mean_interarrival):
    if arrival_shape == 1.0:
        return mean_interarrival * _exponential(s)
    return _gamma(s, arrival_shape, mean_interarrival / arrival_shape)


@nb.njit(inline="always")
def _initial_wait(s, sigma):
    # GI/M/1 (unit service rate): an arrival waits Exp(1 - sigma) with probability sigma.
    if _uniform(s) < sigma:
        return _exponential(s) / (1.0 - sigma)
    return 0.0


@nb.njit(inline="always")
def _service(s, service_shape):
    # unit mean; shape 1 is the exponential, drawn exactly as GI/M/1 always has (same stream)
    if service_shape == 1.0:
        return _exponential(s)
    return _gamma(s, service_shape, 1.0 / service_shape)


@nb.njit(inline="always")
def _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup):
    """Waiting time of the first counted query.

    ``sigma >= 0``: drawn from the GI/M/1 stationary law (no warm-up needed). ``sigma < 0``
    (GI/G/1, no closed form): start empty and discard ``warmup`` queries of the recursion.
    """
    if sigma >= 0.0:
        wait = _initial_wait(s, sigma)
    else:
        wait = 0.0
    for _ in range(warmup):
        wait = max(0.0, wait + _service(s, service_shape) - _interarrival(s, arrival_shape, mean_interarrival))
    return wait


@nb.njit(cache=True, parallel=True)
def queue_threshold_counts(arrival_shape, utilization, sigma, service_shape, warmup, states, query_count, thresholds):
    """Counts (R, K, 2) of GI/G/1 FCFS sojourn times (unit mean service) by the Lindley recursion.

    Exponential service (``service_shape`` 1) with ``sigma`` the GI/M/1 root starts from the
    arrival-stationary waiting time: a stationary, autocorrelated sequence with Exp(1 - sigma)
    marginals. Gamma service starts empty and discards ``warmup`` queries (``_start_wait``).
    """
    replications = states.shape[0]
    counts = np.zeros((replications, thresholds.size, 2), dtype=np.int64)
    mean_interarrival = 1.0 / utilization
    for r in nb.prange(replications):
        s = states[r].copy()
        buffer = np.empty(_BUFFER)
        wait = _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup)
        done = 0
        while done < query_count:
            m = min(_BUFFER, query_count - done)
            for i in range(m):
                sojourn = wait + _service(s, service_shape)
                buffer[i] = sojourn
                wait = max(0.0, sojourn - _interarrival(s, arrival_shape, mean_interarrival))
            _count_into(buffer, m, thresholds, counts[r])
            done += m
    return counts


@nb.njit(cache=True)
def queue_sample(arrival_shape, utilization, sigma, service_shape, warmup, state, query_count):
    """One replication's sojourn times, exactly the sequence ``queue_threshold_counts`` counts."""
    s = state.copy()
    out = np.empty(query_count)
    mean_interarrival = 1.0 / utilization
    wait = _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup)
    for i in range(query_count):
        sojourn = wait + _service(s, service_shape)
        out[i] = sojourn
        wait = max(0.0, sojourn - _interarrival(s, arrival_shape, mean_interarrival))
    return out


@nb.njit(cache=True, parallel=True)
def queue_histogram(arrival_shape, utilization, sigma, service_shape, warmup, states, query_count, low, width, bins):
    """Per replication: sojourn times below ``low`` (R,), counts in ``bins`` equal bins from ``low`` (R, bins),
    and the sum and sum of squares of the sojourn times (R,) each.

    Values at or above ``low + bins * width`` are counted in neither (the caller knows ``query_count``).
    For the reference quantiles of a law without a closed form.
    """
    replications = states.shape[0]
    below = np.zeros(replications, dtype=np.int64)
    counts = np.zeros((replications, bins), dtype=np.int64)
    sums = np.zeros(replications)
    squares = np.zeros(replications)
    mean_interarrival = 1.0 / utilization
    for r in nb.prange(replications):
        s = states[r].copy()
        wait = _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup)
        for _ in range(query_count):
            sojourn = wait + _service(s, service_shape)
            wait = max(0.0, sojourn - _interarrival(s, arrival_shape, mean_interarrival))
            sums[r] += sojourn
            squares[r] += sojourn * sojourn
            if sojourn < low:
                below[r] += 1
            else:
                j = int((sojourn - low) / width)
                if j < bins:
                    counts[r, j] += 1
    return below, counts, sums, squares


@nb.njit(cache=True)
def batch_means(values, threshold, batch_size):
    """Means of the indicator ``values <= threshold`` over consecutive batches."""
    batches = values.size // batch_size
    out = np.empty(batches)
    for b in range(batches):
        hits = 0
        start = b * batch_size
        for i in range(start, start + batch_size):
            hits += values[i] <= threshold
        out[b] = hits / batch_size
    return out


@nb.njit(cache=True, parallel=True)
def queue_threshold_counts_each(arrival_shape, utilization, sigma, service_shape, warmup, states, query_counts,
                                thresholds):
    """``queue_threshold_counts`` with its own query count per replication (the procedure's fresh runs)."""
    replications = states.shape[0]
    counts = np.zeros((replications, thresholds.size, 2), dtype=np.int64)
    mean_interarrival = 1.0 / utilization
    for r in nb.prange(replications):
        s = states[r].copy()
        buffer = np.empty(_BUFFER)
        wait = _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup)
        done = 0
        query_count = query_counts[r]
        while done < query_count:
            m = min(_BUFFER, query_count - done)
            for i in range(m):
                sojourn = wait + _service(s, service_shape)
                buffer[i] = sojourn
                wait = max(0.0, sojourn - _interarrival(s, arrival_shape, mean_interarrival))
            _count_into(buffer, m, thresholds, counts[r])
            done += m
    return counts


@nb.njit(cache=True, parallel=True)
def queue_batch_counts(arrival_shape, utilization, sigma, service_shape, warmup, states, batches, batch_size,
                       thresholds):
    """Per replication and batch, how many sojourn times are <= each threshold: (R, batches, K).

    Streams ``batches * batch_size`` stationary GI/G/1 sojourn times per replication without
    keeping them, for the reference autocorrelation time by batch means.
    """
    replications = states.shape[0]
    counts = np.zeros((replications, batches, thresholds.size), dtype=np.int64)
    mean_interarrival = 1.0 / utilization
    for r in nb.prange(replications):
        s = states[r].copy()
        wait = _start_wait(s, arrival_shape, mean_interarrival, sigma, service_shape, warmup)
        for b in range(batches):
            for i in range(batch_size):
                sojourn = wait + _service(s, service_shape)
                wait = max(0.0, sojourn - _interarrival(s, arrival_shape, mean_interarrival))
                for j in range(thresholds.size):
                    counts[r, b, j] += sojourn <= thresholds[j]
    return counts
