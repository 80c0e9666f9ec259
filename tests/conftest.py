import sys

import pytest
from helpers import TINY_PARITY

from grokbench import registry

# Makes grokbench.tasks / grokbench.methods importable whether grokbench is installed or
# imported from the checkout.
registry.load_builtins()


@pytest.fixture
def tiny_parity() -> list[str]:
    return list(TINY_PARITY)


@pytest.fixture
def isolated_registry(monkeypatch):
    """Whatever a test registers (plugins, plugin files, their modules) is gone after it."""
    registry.load_builtins()
    for table in ("_TASKS", "_METHODS", "_SOURCES"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))
    monkeypatch.setattr(registry, "_plugin_files", list(registry._plugin_files))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("grokbench_plugin_"):
            del sys.modules[name]
