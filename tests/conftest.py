import pytest
from helpers import TINY_PARITY


@pytest.fixture
def tiny_parity() -> list[str]:
    return list(TINY_PARITY)
