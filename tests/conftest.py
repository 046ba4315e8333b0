"""Shared test setup: verify IR after every pass, and a fresh default graph per test."""

import os

import pytest

os.environ.setdefault("GRAPHC_VERIFY", "1")

import graphc as tf  # noqa: E402
from graphc import environment  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_default_graph():
    tf.reset_default_graph()
    yield


@pytest.fixture
def setenv(monkeypatch):
    """`setenv(name, value)`: an environment variable set for one test, graphc's environment parsed again
    (and once more when the test ends, with the variable restored)."""

    def set_variable(name, value):
        monkeypatch.setenv(name, value)
        environment.reload()

    yield set_variable
    monkeypatch.undo()
    environment.reload()
