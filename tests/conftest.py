"""Shared test setup: verify IR after every pass, and a fresh default graph per test."""

import os

import pytest

os.environ.setdefault("GRAPHC_VERIFY", "1")

import graphc as tf  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_default_graph():
    tf.reset_default_graph()
    yield
