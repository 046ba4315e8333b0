"""Shared test setup: verify IR after every pass, and a fresh default graph per test."""

import os
import sys
import types

import pytest

os.environ.setdefault("GRAPHC_VERIFY", "1")
# TensorBoard's event reader (the tests read graphc's event files with it) imports all of TensorFlow when it
# is installed, tens of seconds per test process, unless the marker module of its TF-free build exists.
sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))

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
