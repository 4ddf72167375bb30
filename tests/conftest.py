import numpy as np
import pytest

from simbench.profiles.schema import DynamicBatching, NoBatching, NoNoise
from simbench.sim import SimulatedSUT


def make_sut(latency_ns=1_000_000.0, noise=None, batching=None, replicas=1, table=None):
    """A simulated SUT with a one-point (or given) latency table."""
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


@pytest.fixture
def sut_factory():
    return make_sut


__all__ = ["make_sut", "DynamicBatching", "NoBatching"]
