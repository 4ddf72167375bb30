"""Fixtures for the real-harness tests: short settings, the tiny CNN, a model cache in tmp."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Path of the tiny CNN, built once per session into a temporary cache."""
    from simbench.bench.models import model_path

    return model_path("tiny", directory=tmp_path_factory.mktemp("models"))
