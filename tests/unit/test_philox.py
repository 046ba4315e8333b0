"""The NumPy Philox reference: ranges, moments, determinism (the C runtime must match it)."""

import numpy as np

from graphc.ops import philox


def test_uniform_is_in_unit_interval_with_right_mean():
    for dtype in (np.float32, np.float64):
        u = philox.uniform(100000, dtype, (1, 2), run=0)
        assert u.dtype == dtype and u.min() >= 0 and u.max() < 1
        assert abs(u.mean() - 0.5) < 0.01


def test_normal_moments():
    n = philox.normal(100000, np.float32, (3, 4), run=0)
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1) < 0.02


def test_truncated_normal_stays_within_two_sigmas():
    t = philox.truncated_normal(100000, np.float64, (3, 4), run=5)
    assert np.abs(t).max() < 2 and abs(t.std() - 0.8796) < 0.01


def test_deterministic_in_key_and_run_and_prefix_stable():
    a = philox.normal(10, np.float32, (1, 1), run=0)
    assert np.array_equal(a, philox.normal(10, np.float32, (1, 1), run=0))
    assert not np.array_equal(a, philox.normal(10, np.float32, (1, 1), run=1))
    assert not np.array_equal(a, philox.normal(10, np.float32, (1, 2), run=0))
    assert np.array_equal(a[:7], philox.normal(7, np.float32, (1, 1), run=0))


def test_known_answer():
    # Random123's published test vector for Philox4x32-10 with all-zero counter and key.
    words = philox.philox4x32(np.zeros(1, np.uint64), 0, 0, (0, 0))
    assert [int(w[0]) for w in words] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
