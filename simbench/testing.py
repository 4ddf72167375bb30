"""Helpers for testing code that uses simbench: small simulated SUTs with known answers.

``make_sut`` builds a ``SimulatedSUT`` from a constant service time or a small latency table,
e.g. for closed-form queueing checks (M/D/1 with ``NoNoise``, M/M/c with
``ExponentialNoise``).
"""

from __future__ import annotations

import numpy as np

from simbench.profiles.schema import DynamicBatching, NoBatching, NoNoise
from simbench.sim import SimulatedSUT

__all__ = ["make_sut"]


def make_sut(
    latency_ns: float = 1_000_000.0,
    noise=None,
    batching: NoBatching | DynamicBatching | None = None,
    replicas: int = 1,
    table: list[tuple[int, float]] | None = None,
) -> SimulatedSUT:
    """A simulated SUT with a one-point latency table (``latency_ns`` for any batch of one) or
    the given ``table`` of ``(batch, median latency ns)`` pairs.

    Examples
    --------
    >>> sut = make_sut(2e6, replicas=2)
    >>> sut.max_batch, sut.replicas
    (1, 2)
    """
    if table is None:
        xs, ys = np.array([1.0]), np.array([float(latency_ns)])
    else:
        xs = np.array([float(b) for b, _ in table])
        ys = np.array([float(v) for _, v in table])
    return SimulatedSUT(
        name="test-sut",
        batch_points=xs,
        latency_points_ns=ys,
        noise=noise or NoNoise(),
        batching=batching or NoBatching(),
        replicas=replicas,
    )
