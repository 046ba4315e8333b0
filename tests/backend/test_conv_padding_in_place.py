"""Register-tiled convolutions (kernels/conv_tiled.py) read SAME's padding as zeros from a constant row,
not from a zero-bordered copy of each image: forward, filter gradient and input gradient give the very
bits of the same tiles run over the image explicitly padded (tf.pad, then VALID: the tiles' order of
sums, and what a padded copy gave), non-finite values included; they agree with the NumPy reference,
and give the same bits on one and two threads."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver
from graphc.core import windows
from graphc.runtime import loader
from tests.backend.test_cnn_gradient_passes import bits
from tests.helpers import interpret_graph

# (input shape, kernel size, output channels, stride, padding, dilation); the output rows cut in
# tiles of MR = 10 pixels (AVX-512) or 6.
PADDINGS = [
    ((3, 28, 28, 32), 3, 64, 2, "SAME", 1),   # the tutorial's conv2: a row and a column of zeros, bottom and right
    ((2, 27, 27, 16), 3, 32, 2, "SAME", 1),   # odd: a row and a column on each side
    ((2, 14, 14, 32), 5, 64, 1, "SAME", 1),   # Deep MNIST's conv2: two on each side, edge pixels at both ends
    ((1, 6, 56, 16), 3, 16, 1, "SAME", 1),    # a loop over the full tiles between the two edge tiles
    ((2, 9, 31, 16), 3, 40, 1, "VALID", 1),   # no padding; 40 channels = 32 + 8 (a masked panel)
    ((2, 9, 9, 16), 3, 17, 1, "SAME", 2),     # dilated: two on each side
    ((2, 8, 9, 16), 3, 16, 2, "SAME", 1),     # even rows, odd columns: zeros below, on both sides
    ((1, 3, 4, 16), 5, 16, 1, "SAME", 1),     # a window wider than the image: taps wholly in the padding
    ((2, 7, 7, 20), 3, 24, 1, "SAME", 1),     # K = 180: the filter gradient's sum of partials ends in a masked vector
    ((2, 10, 11, 16), 2, 16, 3, "VALID", 1),  # stride over kernel: rows, columns and a residue of the columns no
                                              # tap reads, whose dx the input gradient stores as zeros (none zeroed)
]


@pytest.fixture
def every_image_tiled(monkeypatch):
    """Register tiles whatever this machine's L2 (they take images whose padded extent fits a quarter of it)."""
    monkeypatch.setattr(windows, "tiled_image_bytes", lambda: 1 << 30)
    driver.load_runtime()
    yield
    loader.set_num_threads(0)


def products_and_padded_twins(convolutions, dtype, values):
    """(fetches, twins, feeds): y, dx and dw of each convolution, and the same three computed over x
    padded explicitly with VALID (dx cropped back); values(shape) gives the feeds."""
    fetches, twins, feeds = [], [], {}
    for shape, k, out, stride, padding, dilation in convolutions:
        strides, dilations = [1, stride, stride, 1], [1, dilation, dilation, 1]
        x, w = tf.placeholder(dtype, shape), tf.placeholder(dtype, [k, k, shape[3], out])
        y = tf.nn.conv2d(x, w, strides, padding, dilations=dilations)
        dy = tf.placeholder(dtype, y.shape.as_list())
        window = windows.conv_window(shape, (k, k, shape[3], out), {"strides": strides, "padding": padding,
                                                                     "dilations": dilations})
        rows, columns = (window.pad_top, window.padded_h - shape[1] - window.pad_top), \
            (window.pad_left, window.padded_w - shape[2] - window.pad_left)
        padded = tf.pad(x, [[0, 0], rows, columns, [0, 0]])
        twin = tf.nn.conv2d(padded, w, strides, "VALID", dilations=dilations)
        assert twin.shape.as_list() == y.shape.as_list()
        padded_dx, twin_dw = tf.gradients(twin, [padded, w], grad_ys=dy)
        fetches += [y] + tf.gradients(y, [x, w], grad_ys=dy)
        twins += [twin, padded_dx[:, rows[0]:rows[0] + shape[1], columns[0]:columns[0] + shape[2]], twin_dw]
        for placeholder in (x, w, dy):
            feeds[placeholder] = values(placeholder.shape.as_list())
    return fetches, twins, feeds


def run(fetches, feeds, threads):
    loader.set_num_threads(threads)
    with tf.Session() as session:
        return session.run(fetches, feeds)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_padding_read_in_place_is_the_padded_copys_bit_for_bit_and_the_references(every_image_tiled, dtype):
    rng = np.random.RandomState(19)
    convolutions = PADDINGS if dtype == tf.float32 else PADDINGS[:3]
    fetches, twins, feeds = products_and_padded_twins(convolutions, dtype, lambda shape: rng.randn(*shape))
    one, two = run(fetches + twins, feeds, 1), run(fetches + twins, feeds, 2)
    for tensor, a, b in zip(fetches + twins, one, two):
        np.testing.assert_array_equal(bits(a), bits(b), err_msg=tensor.name)
    for tensor, value, twin in zip(fetches, one, one[len(fetches):]):
        np.testing.assert_array_equal(bits(value), bits(twin), err_msg=tensor.name)
    for tensor, value, reference in zip(fetches, one, interpret_graph(fetches, feeds)):
        np.testing.assert_allclose(value, reference, rtol=1e-4, atol=1e-4, err_msg=tensor.name)


def test_zeros_of_the_padding_times_infinity_are_nan_as_in_a_padded_copy(every_image_tiled):
    """An infinite weight or gradient meets the padding's zeros: NaN where a padded copy's multiply-adds
    give it (as TensorFlow's and the reference's do), the same bits."""
    rng = np.random.RandomState(7)

    def values(shape):
        array = rng.randn(*shape)
        array.flat[rng.choice(array.size, 3, replace=False)] = [np.inf, -np.inf, np.nan]
        return array

    fetches, twins, feeds = products_and_padded_twins(PADDINGS[:3], tf.float32, values)
    results = run(fetches + twins, feeds, 2)
    assert any(np.isnan(value).any() and not np.isnan(value).all() for value in results[:len(fetches)])
    for tensor, value, twin in zip(fetches, results, results[len(fetches):]):
        np.testing.assert_array_equal(bits(value), bits(twin), err_msg=tensor.name)
