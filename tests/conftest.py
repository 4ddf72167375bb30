import pytest

from simbench.testing import make_sut


@pytest.fixture
def sut_factory():
    return make_sut
