"""Seeded random streams: one independent ``numpy.random.Generator`` per named dimension.

At the bottom of the dependency graph (settings, trace, rng): the schedule, the arrival laws
and the simulator all draw from here.
"""

from __future__ import annotations

import numpy as np

from simbench.errors import SimbenchInputError

__all__ = ["stream_rng"]

# Stream tags keep generators distinct even if a user passes the same number for two seeds.
_STREAM_TAGS = {"qsl": 0, "sample_index": 1, "schedule": 2, "service": 3, "accuracy": 4}


def stream_rng(seed: int, stream: str) -> np.random.Generator:
    """An independent ``numpy.random.Generator`` for one named random stream.

    Parameters
    ----------
    seed : int
        The seed of that dimension (e.g. ``schedule_rng_seed``), 0 <= seed < 2**64.
    stream : {'qsl', 'sample_index', 'schedule', 'service', 'accuracy'}
        Which dimension the generator serves.
    """
    if stream not in _STREAM_TAGS:
        raise SimbenchInputError(f"stream: expected one of {sorted(_STREAM_TAGS)}, got {stream!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _STREAM_TAGS[stream]])))
