"""The Examples in simbench.stats docstrings run (STYLE lesson 14d)."""

import doctest
import importlib

import pytest

MODULES = ["percentile", "early_stopping", "tokens", "sample_size", "confidence", "autocorrelation", "montecarlo", "operating", "procedure"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"simbench.stats.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
