"""The index and sequence ops (gather, gather_nd, unsorted_segment_sum, embedding_lookup, range, tile,
reverse, reverse_sequence, sequence_mask) and transposed convolutions answer as TensorFlow 2.21 does:
values, gradients, dtypes and errors. Each `build(tf)` runs with graphc here and with TensorFlow in the
oracle test (when installed); the table pins TF's answer as a literal.

gather's gradient is TF1's IndexedSlices made dense (see graphc/ops/gather_ops.py): the pinned
gradients are TF's after its own conversion to a dense tensor.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as tf
from tests.backend.test_ops_compiled import assert_same
from tests.e2e.test_structural_math_tf import _fails, _run, _values
from tests.helpers import interpret_graph
from tests.tf_oracle import table_tests


def _table(tf, rows=4, columns=3):
    return tf.constant(np.arange(rows * columns, dtype=np.float32).reshape(rows, columns))


def _gradient(tf, build, value, decimals=5):
    """d sum(build(x) * weights) / dx, weights 1, 2, 3 ... in the output's shape, as a dense array."""
    x = tf.constant(np.asarray(value, np.float32))
    y = build(x)
    shape = y.shape.as_list()
    weights = tf.constant(np.arange(1, np.prod(shape, dtype=int) + 1, dtype=np.float32).reshape(shape))
    return _values(_run(tf, tf.convert_to_tensor(tf.gradients(tf.reduce_sum(y * weights), x)[0])), decimals)


def _image_values():
    return np.random.RandomState(0).uniform(-1, 1, (2, 3, 2, 3)).astype(np.float32)


def _filter_values():
    return np.random.RandomState(1).uniform(-1, 1, (3, 3, 2, 3)).astype(np.float32)


def _image(tf):
    return tf.constant(_image_values())


def _filter(tf):
    return tf.constant(_filter_values())


ANSWERS = {
    "gather rows": (lambda tf: _values(_run(tf, tf.gather(_table(tf), [[3, 0], [0, 1]]))),
        ('float32', [[[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]], [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]])),
    "gather along axis 1 of int64": (
        lambda tf: _values(_run(tf, tf.gather(tf.constant(np.arange(6).reshape(2, 3)), tf.constant([2, 2], tf.int64),
                                              axis=-1))), ('int64', [[2, 2], [5, 5]])),
    "gather out of range": (lambda tf: _fails(tf, lambda: tf.gather(_table(tf), [1, 4]),
        "indices[1] = 4 is not in [0, 4)"), ('InvalidArgumentError', True)),
    "gather gradient with repeats": (lambda tf: _gradient(tf, lambda x: tf.gather(x, [2, 0, 2]),
                                                          np.ones((3, 2))),
        ('float32', [[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])),
    "gather gradient along axis 1": (lambda tf: _gradient(tf, lambda x: tf.gather(x, [1, 1], axis=1),
                                                          np.ones((2, 3))),
        ('float32', [[0.0, 3.0, 0.0], [0.0, 7.0, 0.0]])),
    "gather_nd": (lambda tf: _values(_run(tf, [tf.gather_nd(_table(tf), [[3, 1], [0, 2]]),
                                               tf.gather_nd(_table(tf), [[[2]], [[1]]])])),
        [('float32', [10.0, 2.0]), ('float32', [[[6.0, 7.0, 8.0]], [[3.0, 4.0, 5.0]]])]),
    "gather_nd gradient": (lambda tf: _gradient(tf, lambda x: tf.gather_nd(x, [[0, 1], [0, 1], [1, 0]]),
                                                np.ones((2, 2))), ('float32', [[0.0, 3.0], [3.0, 0.0]])),
    "unsorted_segment_sum": (lambda tf: _values(_run(tf, tf.unsorted_segment_sum(
        _table(tf), [1, 1, -1, 0], 3))), ('float32', [[9.0, 10.0, 11.0], [3.0, 5.0, 7.0], [0.0, 0.0, 0.0]])),
    "unsorted_segment_sum id past the count": (lambda tf: _fails(tf, lambda: tf.unsorted_segment_sum(
        _table(tf), [1, 3, 0, 0], 3), "segment_ids[1] = 3 is out of range [0, 3)"), ('InvalidArgumentError', True)),
    "embedding_lookup": (lambda tf: _values(_run(tf, tf.nn.embedding_lookup(_table(tf), [[1], [3]]))),
        ('float32', [[[3.0, 4.0, 5.0]], [[9.0, 10.0, 11.0]]])),
    "embedding_lookup mod shards": (lambda tf: _values(_run(tf, tf.nn.embedding_lookup(
        [_table(tf, 3, 2), _table(tf, 2, 2) + 100.0], [0, 1, 2, 3, 4]))),
        ('float32', [[0.0, 1.0], [100.0, 101.0], [2.0, 3.0], [102.0, 103.0], [4.0, 5.0]])),
    "embedding_lookup div shards": (lambda tf: _values(_run(tf, tf.nn.embedding_lookup(
        [_table(tf, 3, 2), _table(tf, 2, 2) + 100.0], [0, 1, 2, 3, 4], partition_strategy="div"))),
        ('float32', [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [100.0, 101.0], [102.0, 103.0]])),
    "range dtypes": (lambda tf: [t.dtype.name for t in (tf.range(3), tf.range(1, 3.0), tf.range(tf.constant(
        2, tf.int64)), tf.range(0, 2, dtype=tf.float64), tf.range(1.0, 2, 0.5, dtype=tf.float32))],
        ['int32', 'float32', 'int64', 'float64', 'float32']),
    "range values": (lambda tf: _values(_run(tf, [tf.range(5), tf.range(1, 7, 2), tf.range(5, 0, -2),
                                                  tf.range(1.0, 2.0, 0.3), tf.range(3, 3)])),
        [('int32', [0, 1, 2, 3, 4]), ('int32', [1, 3, 5]), ('int32', [5, 3, 1]), ('float32', [1.0, 1.3, 1.6, 1.9]),
         ('int32', [])]),
    "range of a shape": (lambda tf: _values(_run(tf, tf.range(tf.shape(tf.ones([4, 2]))[0]))), ('int32', [0, 1, 2, 3])),
    "range static shape": (lambda tf: [tf.range(1, 7, 2).shape.as_list(), tf.range(1.0, 2.0, 0.3).shape.as_list()],
                           [[3], [4]]),
    "range with start past limit": (lambda tf: _fails(tf, lambda: tf.range(5, 3), "Requires start <= limit"),
                                    ("ValueError", True)),
    "range with zero delta": (lambda tf: _fails(tf, lambda: tf.range(0, 3, 0), "Requires delta != 0"),
                              ("ValueError", True)),
    "tile": (lambda tf: _values(_run(tf, [tf.tile(_table(tf, 2, 2), [2, 3]), tf.tile([[True, False]], [2, 1])])),
[('float32',
          [[0.0, 1.0, 0.0, 1.0, 0.0, 1.0], [2.0, 3.0, 2.0, 3.0, 2.0, 3.0], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
           [2.0, 3.0, 2.0, 3.0, 2.0, 3.0]]),
         ('bool', [[True, False], [True, False]])]),
    "tile gradient": (lambda tf: _gradient(tf, lambda x: tf.tile(x, [2, 2]), np.ones((1, 2))),
                      ("float32", [[16.0, 20.0]])),
    "reverse": (lambda tf: _values(_run(tf, [tf.reverse(_table(tf, 2, 3), [1]), tf.reverse(_table(tf, 2, 3), [0, 1]),
                                             tf.reverse_v2(_table(tf, 2, 3), [-2])])),
        [('float32', [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]), ('float32', [[5.0, 4.0, 3.0], [2.0, 1.0, 0.0]]),
         ('float32', [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]])]),
    "reverse_sequence": (lambda tf: _values(_run(tf, tf.reverse_sequence(
        tf.constant(np.arange(12).reshape(3, 4)), [4, 0, 2], seq_axis=1, batch_axis=0))),
        ('int64', [[3, 2, 1, 0], [4, 5, 6, 7], [9, 8, 10, 11]])),
    "reverse_sequence time major": (lambda tf: _values(_run(tf, tf.reverse_sequence(
        tf.constant(np.arange(24, dtype=np.float32).reshape(4, 2, 3)), tf.constant([3, 1], tf.int64), seq_axis=0,
        batch_axis=1))),('float32',
         [[[12.0, 13.0, 14.0], [3.0, 4.0, 5.0]], [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]],
          [[0.0, 1.0, 2.0], [15.0, 16.0, 17.0]], [[18.0, 19.0, 20.0], [21.0, 22.0, 23.0]]])),
    "sequence_mask": (lambda tf: _values(_run(tf, [tf.sequence_mask([1, 3, 0], 4), tf.sequence_mask([[2], [1]]),
                                                   tf.sequence_mask([2, 1], 3, dtype=tf.float32)])),
        [('bool', [[True, False, False, False], [True, True, True, False], [False, False, False, False]]),
         ('bool', [[[True, True]], [[True, False]]]), ('float32', [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])]),
    # -- transposed convolutions (DCGAN's upsampling) ----------------------------------------------------
    "conv2d_transpose SAME stride 2": (lambda tf: _values(_run(tf, tf.nn.conv2d_transpose(
        _image(tf), _filter(tf), [2, 6, 4, 2], [1, 2, 2, 1], "SAME")), 4),
        ('float32',
         [[[[-0.032, -0.5102], [-0.2366, 0.0142], [-0.3004, -0.1793], [-0.0694, 0.1397]],
           [[-0.2065, 0.0099], [0.2426, -0.2188], [0.245, 0.3491], [-0.2951, 0.2387]],
           [[-0.4347, -0.6886], [-0.3121, 0.4639], [-0.8795, -0.6997], [-0.4052, -0.3456]],
           [[0.1745, -0.0526], [-0.2452, 0.299], [0.676, -0.4636], [0.237, -0.1267]],
           [[0.7946, 1.2082], [-0.3989, -0.1743], [-0.747, -0.182], [1.0712, 0.8146]],
           [[-1.1279, -0.5202], [1.4862, -1.3364], [0.5441, 0.4928], [-1.931, 1.898]]],
          [[[-0.7233, -1.5232], [-0.7753, 0.2782], [-1.3682, -0.4599], [-0.4675, 0.2667]],
           [[-0.2712, 0.6131], [0.2084, -0.2776], [0.2666, 0.7726], [-0.076, -0.0764]],
           [[0.7437, 2.1626], [-0.0359, -0.2171], [-0.6934, -0.8078], [-1.2888, -0.3581]],
           [[-0.0489, -1.0938], [0.2381, -0.0204], [-0.8528, 1.0709], [0.8456, -0.9778]],
           [[0.9972, -0.5922], [1.2073, 0.445], [1.422, 0.4754], [-0.067, 0.2668]],
           [[-0.0452, -0.6794], [0.1512, 0.0056], [0.8356, 0.7894], [-0.8518, 0.6873]]]])),
    "conv2d_transpose VALID stride 2": (lambda tf: _values(_run(tf, tf.nn.conv2d_transpose(
        _image(tf), _filter(tf), [2, 7, 5, 2], [1, 2, 2, 1], "VALID")), 4),
        ('float32',
         [[[[-0.032, -0.5102], [-0.2366, 0.0142], [-0.3004, -0.1793], [-0.0694, 0.1397], [-0.4443, 0.0901]],
           [[-0.2065, 0.0099], [0.2426, -0.2188], [0.245, 0.3491], [-0.2951, 0.2387], [0.2192, -0.1603]],
           [[-0.4347, -0.6886], [-0.3121, 0.4639], [-0.8795, -0.6997], [-0.4052, -0.3456], [0.3188, -0.1858]],
           [[0.1745, -0.0526], [-0.2452, 0.299], [0.676, -0.4636], [0.237, -0.1267], [0.1481, 0.1871]],
           [[0.7946, 1.2082], [-0.3989, -0.1743], [-0.747, -0.182], [1.0712, 0.8146], [-1.2547, -0.4917]],
           [[-1.1279, -0.5202], [1.4862, -1.3364], [0.5441, 0.4928], [-1.931, 1.898], [1.4239, -0.6685]],
           [[1.447, 0.4745], [1.1135, 1.0355], [-1.454, -1.0611], [-0.7205, -0.9727], [0.421, -0.0539]]],
          [[[-0.7233, -1.5232], [-0.7753, 0.2782], [-1.3682, -0.4599], [-0.4675, 0.2667], [-0.9423, 0.2826]],
           [[-0.2712, 0.6131], [0.2084, -0.2776], [0.2666, 0.7726], [-0.076, -0.0764], [0.0453, -0.1969]],
           [[0.7437, 2.1626], [-0.0359, -0.2171], [-0.6934, -0.8078], [-1.2888, -0.3581], [-1.0676, 0.2713]],
           [[-0.0489, -1.0938], [0.2381, -0.0204], [-0.8528, 1.0709], [0.8456, -0.9778], [-0.8776, 0.1387]],
           [[0.9972, -0.5922], [1.2073, 0.445], [1.422, 0.4754], [-0.067, 0.2668], [-1.2768, 0.6064]],
           [[-0.0452, -0.6794], [0.1512, 0.0056], [0.8356, 0.7894], [-0.8518, 0.6873], [0.2574, -0.4471]],
           [[0.2759, 0.2571], [0.5937, 0.5335], [-0.9414, -1.1994], [-0.8036, -0.8979], [0.4279, 0.4937]]]])),
    "conv2d_transpose gradient": (lambda tf: _gradient(tf, lambda x: tf.nn.conv2d_transpose(
        x, _filter(tf), [2, 6, 4, 2], [1, 2, 2, 1], "SAME"), _image_values(), 2),
        ('float32',
         [[[[-8.97, 23.24, -51.12], [-0.43, 51.19, -32.99]], [[-37.56, 38.58, -117.1], [-12.16, 74.53, -71.58]],
           [[-78.45, -29.41, -22.47], [-40.68, -67.99, -19.15]]],
          [[[-94.74, 69.25, -249.04], [-35.61, 121.19, -148.76]],
           [[-123.33, 84.58, -315.01], [-47.34, 144.52, -187.36]],
           [[-176.85, -66.25, -71.42], [-91.71, -144.04, -54.61]]]])),
    "conv2d_transpose channel mismatch": (lambda tf: _fails(tf, lambda: tf.nn.conv2d_transpose(
        tf.ones([1, 2, 2, 4]), tf.ones([3, 3, 2, 3]), [1, 4, 4, 2], [1, 2, 2, 1]),
        "Dimensions must be equal, but are 4 and 3"),
        ('ValueError', True)),
}


test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "ANSWERS", ANSWERS)


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64, tf.bool])
def test_index_ops_compiled_agree_with_the_reference_on_every_dtype(dtype):
    """Placeholders of unknown sizes, fed size-0 and size-1 axes among others: one compile per shape."""
    params = tf.placeholder(dtype, [None, None, 3])
    rows = tf.placeholder(tf.int64, [None])
    pairs = tf.placeholder(tf.int32, [None, 2])
    segments = tf.placeholder(tf.int32, [None])
    ops = [tf.gather(params, rows), tf.gather(params, [[2, 0], [0, 1]], axis=2), tf.gather_nd(params, pairs),
           tf.tile(params, [1, 2, 1]), tf.reverse(params, [1, 2])]
    if dtype is not tf.bool:
        ops.append(tf.unsorted_segment_sum(params, segments, 3))  # id -1 is dropped
    rng = np.random.RandomState(0)
    for shape, index_count in (((3, 2, 3), 4), ((1, 1, 3), 1), ((2, 0, 3), 0)):
        values = rng.uniform(-9, 9, shape).astype(dtype.np_dtype) if dtype is not tf.bool else rng.rand(*shape) > .5
        feeds = {params: values, rows: rng.randint(0, shape[0], index_count), segments: rng.randint(-1, 3, shape[0]),
                 pairs: np.stack([rng.randint(0, shape[0], index_count), rng.randint(0, max(shape[1], 1),
                                                                                    index_count)], 1)}
        if shape[1] == 0:
            feeds[pairs] = np.zeros((0, 2), np.int32)
        assert_same(ops, feeds)


def test_index_errors_name_the_op_and_leave_variables_unchanged():
    table = tf.Variable(np.ones((3, 2), np.float32))
    ids = tf.placeholder(tf.int32, [None])
    update = tf.assign_add(table, tf.ones([3, 2]))
    looked_up = tf.nn.embedding_lookup(table, ids, name="lookup")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[2\] = -1 is not in \[0, 3\).*lookup"):
            sess.run([looked_up, update], {ids: [0, 2, -1]})
        np.testing.assert_array_equal(sess.run(table), np.ones((3, 2)))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"does not index into param shape \[3,2\]"):
            sess.run(tf.gather_nd(table, [[0, 1], [0, 2]]))


def test_range_and_sequence_mask_need_values_known_when_the_step_compiles():
    limit = tf.placeholder(tf.int32, [])
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="when it compiles the step"):
        sess.run(tf.range(limit), {limit: 3})
    with pytest.raises(ValueError, match="needs maxlen"):
        tf.sequence_mask(tf.placeholder(tf.int32, [2]))


def test_conv2d_transpose_layer_has_dcgan_shapes_and_computes_the_nn_op():
    """Keras's output lengths (SAME: input * stride; VALID: plus the kernel's overhang past the stride), TF1's
    variable names, and the layer's value: tf.nn.conv2d_transpose (checked against TF above) plus the bias."""
    noise = tf.placeholder(tf.float32, [None, 4, 4, 8])
    same = tf.layers.conv2d_transpose(noise, 4, 5, strides=2, padding="same", name="g1")
    valid = tf.layers.conv2d_transpose(noise, 4, 5, strides=2, padding="valid", name="g2")
    assert same.shape.as_list() == [None, 8, 8, 4] and valid.shape.as_list() == [None, 11, 11, 4]
    assert [v.op.name for v in tf.global_variables()] == ["g1/kernel", "g1/bias", "g2/kernel", "g2/bias"]
    with tf.variable_scope("g1", reuse=True):
        kernel, bias = tf.get_variable("kernel"), tf.get_variable("bias")
    direct = tf.nn.conv2d_transpose(noise, kernel, tf.stack([tf.shape(noise)[0], 8, 8, 4]), [1, 2, 2, 1]) + bias
    loss = tf.reduce_sum(tf.square(valid)) + tf.reduce_sum(same)
    grads = tf.gradients(loss, [noise] + tf.trainable_variables())
    values = np.random.RandomState(0).uniform(-1, 1, (3, 4, 4, 8)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(bias, [0.5, -0.5, 1.0, 0.0]))
        layer_value, direct_value = sess.run([same, direct], {noise: values})
        np.testing.assert_allclose(layer_value, direct_value, rtol=1e-6, atol=1e-6)
        compiled = sess.run(grads, {noise: values})
        variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
    for c, r in zip(compiled, interpret_graph(grads, {noise: values}, variables)):
        np.testing.assert_allclose(c, r, rtol=2e-5, atol=2e-5)
