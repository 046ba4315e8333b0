"""A register-tiled filter gradient at a column stride over 1 sums two neighbouring taps (kw, kw + 1) in one
tile where both read the image at the same output columns (conv_tiled.FilterGradientTiles._tap_runs): their
2 C channels are contiguous in x and in dw^T's rows. Each element of dw still adds the same products in the
same order, so its bits are those of a tile per tap, with one and two threads."""

import types

import numpy as np
import pytest

import graphc as tf
from graphc.backend.kernels import conv_tiled
from graphc.core import windows
from graphc.runtime import loader
from tests.backend.test_conv_compiled import assert_convolutions_match_reference
from tests.backend.test_conv_padding_in_place import every_image_tiled  # noqa: F401 - a fixture, used by name

# (input shape, kernel size, output channels, stride, padding), and the taps each row of the window runs
# as (kw, taps): the tutorial CNN's second layer (SAME at stride 2 pads the right alone: kw = 2 leaves the
# image at the last column), channels that leave masked vectors, a VALID window with two pairs.
CASES = [
    (((3, 28, 28, 32), 3, 64, 2, "SAME"), [(0, 2), (2, 1)]),
    (((2, 6, 6, 17), 3, 19, 2, "SAME"), [(0, 2), (2, 1)]),
    (((2, 11, 13, 16), 5, 20, 3, "VALID"), [(0, 2), (2, 2), (4, 1)]),
    (((2, 9, 9, 16), 3, 20, 1, "SAME"), [(0, 1), (1, 1), (2, 1)]),  # stride 1: each tap's lines whole already
]


def filter_gradients(dtype, seed=5):
    rng = np.random.RandomState(seed)
    fetches, feeds = [], {}
    for (shape, k, out, stride, padding), _ in CASES:
        x = tf.placeholder(dtype, shape)
        w = tf.constant(rng.randn(k, k, shape[3], out), dtype=dtype)
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], padding)
        fetches += tf.gradients(y, [w], grad_ys=tf.constant(rng.randn(*y.shape.as_list()), dtype=dtype))
        feeds[x] = rng.randn(*shape)
    return fetches, feeds


def run(dtype, threads):
    tf.reset_default_graph()
    fetches, feeds = filter_gradients(dtype)
    loader.set_num_threads(threads)
    with tf.Session() as session:
        return session.run(fetches, feeds)


def bits(array):
    return np.ascontiguousarray(array).view(np.uint32 if array.dtype == np.float32 else np.uint64)


def test_which_taps_pair():
    for (shape, k, out, stride, padding), runs in CASES:
        window = windows.conv_window(shape, (k, k, shape[3], out), {"strides": [1, stride, stride, 1],
                                                                     "padding": padding})
        tiles = types.SimpleNamespace(g=types.SimpleNamespace(window=window))
        assert conv_tiled.FilterGradientTiles._tap_runs(tiles) == runs


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_paired_taps_give_the_bits_of_a_tile_per_tap(every_image_tiled, monkeypatch, setenv, tmp_path, dtype):
    paired = [run(dtype, threads) for threads in (1, 2)]
    # A tile per tap, compiled anew (a cache of its own: the program's text, the cache's key, is the same).
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(conv_tiled.FilterGradientTiles, "_tap_runs",
                        lambda self: [(kw, 1) for kw in range(self.g.window.k_w)])
    single = run(dtype, 1)
    for one, two, alone in zip(*paired, single):
        np.testing.assert_array_equal(bits(one), bits(two))
        np.testing.assert_array_equal(bits(one), bits(alone))


def test_paired_taps_match_the_reference(every_image_tiled):
    assert_convolutions_match_reference([(shape, k, out, stride, padding, 1)
                                         for (shape, k, out, stride, padding), _ in CASES])
