import pytest
from helpers import TINY_PARITY

from grokbench import registry

# Makes grokbench.tasks / grokbench.methods importable whether grokbench is installed or
# imported from the checkout.
registry.load_builtins()


@pytest.fixture
def tiny_parity() -> list[str]:
    return list(TINY_PARITY)
