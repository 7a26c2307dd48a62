import pytest

from .helpers import start


@pytest.fixture
def sandbox(tmp_path):
    with start(tmp_path) as running:
        yield running
