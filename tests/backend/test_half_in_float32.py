"""float16 through ops with no half code of their own (MatMul, Conv2D, pooling, Softmax ...): computed in float32.

Lowering casts such an op's float16 operands to float32, runs the op's float32 kernel and rounds the
result to half, as TensorFlow's CPU kernels for half do. The compiled step is compared with the
reference interpreter (which runs the same lowered program, so it must agree bit for bit) and with
TF 2.21 itself, within half's precision.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph
from tests.tf_oracle import run_tensorflow

# One script for graphc and TensorFlow: both get it as `tf` (TF as tensorflow.compat.v1).
ORACLE_CASES = '''
import json, sys
import numpy as np

def half_cases(tf):
    """(name, tensor) of float16 ops computed on fixed inputs, with the feeds."""
    rng = np.random.default_rng(7)
    images = tf.constant(rng.normal(size=(2, 9, 9, 3)).astype(np.float16))
    filters = tf.constant(rng.normal(size=(3, 3, 3, 4)).astype(np.float16))
    a = tf.constant(rng.normal(size=(5, 33)).astype(np.float16))
    b = tf.constant(rng.normal(size=(33, 6)).astype(np.float16))
    logits = tf.constant((4 * rng.normal(size=(4, 10))).astype(np.float16))
    conv = tf.nn.conv2d(images, filters, [1, 1, 1, 1], "SAME")
    return [("matmul", tf.matmul(a, b)),
            ("matmul_transposed", tf.matmul(b, a, transpose_a=True, transpose_b=True)),
            ("conv2d", conv),
            ("max_pool", tf.nn.max_pool(conv, [1, 3, 3, 1], [1, 2, 2, 1], "VALID")),
            ("avg_pool", tf.nn.avg_pool(conv, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")),
            ("softmax", tf.nn.softmax(logits)),
            ("log_softmax", tf.nn.log_softmax(logits))]

def answers(tf):
    cases = half_cases(tf)
    with tf.Session() as sess:
        values = sess.run([t for _, t in cases])
    return {name: [str(v.dtype), v.tolist()] for (name, _), v in zip(cases, values)}
'''

TF_SCRIPT = ORACLE_CASES + '''
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
print(json.dumps(answers(tf)))
'''


def assert_same_half(compiled, reference, name=""):
    """Equal but for a float32 sum taken in another order that rounds to the neighbouring half (one ulp)."""
    assert compiled.dtype == np.float16 and reference.dtype == np.float16, name
    np.testing.assert_allclose(compiled.astype(np.float32), reference.astype(np.float32), rtol=2**-10, atol=1e-5,
                               err_msg=name)


def graphc_cases():
    namespace = {}
    exec(ORACLE_CASES, namespace)  # the same builders TensorFlow runs
    return namespace


def test_half_ops_compiled_agree_with_the_reference_interpreter():
    cases = graphc_cases()["half_cases"](tf)
    tensors = [t for _, t in cases]
    compiled = tf.Session().run(tensors)
    reference = interpret_graph(tensors)
    for (name, _), c, r in zip(cases, compiled, reference):
        assert_same_half(c, r, name)


def test_half_ops_agree_with_tensorflow():
    expected = json.loads(run_tensorflow(TF_SCRIPT).strip().splitlines()[-1])
    ours = graphc_cases()["answers"](tf)
    assert ours.keys() == expected.keys()
    for name, (dtype, values) in expected.items():
        assert ours[name][0] == dtype == "float16", name
        # Both round a float32 result to half; float32 sums in another order may round to the neighbour.
        np.testing.assert_allclose(np.array(ours[name][1], np.float32), np.array(values, np.float32),
                                   rtol=2e-3, atol=2e-3, err_msg=name)


def test_matmul_of_half_rounds_once_from_float32():
    # K = 4096 products of 1 + 2**-10: in half each partial sum would round; in float32 the sum is exact.
    a = tf.placeholder(tf.float16, [1, 4096])
    product = tf.matmul(a, tf.ones([4096, 2], tf.float16))
    value = tf.Session().run(product, {a: np.full((1, 4096), 1 + 2**-10, np.float16)})
    assert value.dtype == np.float16
    np.testing.assert_array_equal(value, np.float16(4096 * (1 + 2**-10)))


def test_random_ops_draw_float16_through_float32():
    draw = tf.random_uniform([1000], dtype=tf.float16, seed=3)
    normal = tf.random_normal([1000], dtype=tf.float16, seed=4)
    compiled = tf.Session().run([draw, normal])
    reference = interpret_graph([draw, normal])
    for c, r in zip(compiled, reference):
        assert c.dtype == np.float16
        np.testing.assert_array_equal(c, r)
    assert 0 <= compiled[0].min() and compiled[0].max() <= 1


def test_convolution_and_pooling_gradients_of_half():
    # Conv2DBackpropInput/Filter, MaxPoolGrad, AvgPoolGrad and the sparse cross-entropy on float16.
    rng = np.random.default_rng(2)
    images = tf.placeholder(tf.float16, [2, 8, 8, 3])
    filters = tf.constant((0.3 * rng.normal(size=(3, 3, 3, 4))).astype(np.float16))
    conv = tf.nn.conv2d(images, filters, [1, 1, 1, 1], "SAME")
    pooled = tf.nn.avg_pool(tf.nn.max_pool(conv, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [1, 2, 2, 1],
                            [1, 2, 2, 1], "VALID")
    logits = tf.reshape(pooled, [2, 16])
    loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[3, 7], logits=logits))
    fetches = [loss] + tf.gradients(loss, [images, filters])
    feeds = {images: rng.normal(size=(2, 8, 8, 3)).astype(np.float16)}
    compiled = tf.Session().run(fetches, feeds)
    reference = interpret_graph(fetches, feeds)
    for c, r in zip(compiled, reference):
        assert_same_half(np.asarray(c), np.asarray(r))
    assert np.abs(compiled[1]).max() > 0 and np.abs(compiled[2]).max() > 0


def test_float16_mlp_trains_compiled():
    # Forward, backward and SGD on half variables: every GEMM, the softmax cross-entropy and its
    # gradient run through float32 kernels; the compiled step matches the reference interpreter's.
    rng = np.random.default_rng(0)
    x, labels = tf.placeholder(tf.float16, [16, 8]), tf.placeholder(tf.float16, [16, 3])
    w1 = tf.Variable((0.5 * rng.normal(size=(8, 12))).astype(np.float16))
    w2 = tf.Variable((0.5 * rng.normal(size=(12, 3))).astype(np.float16))
    b1 = tf.Variable(np.zeros(12, np.float16))
    hidden = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=tf.matmul(hidden, w2)))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    assert loss.dtype == tf.float16
    xs = rng.normal(size=(16, 8)).astype(np.float16)
    ys = np.eye(3, dtype=np.float16)[(xs[:, 0] > 0).astype(int) + (xs[:, 1] > 0)]
    feeds = {x: xs, labels: ys}
    variables = [w1, w2, b1]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(variables)
        first = sess.run(loss, feeds)
        sess.run(train, feeds)
        after = sess.run(variables)
        for _ in range(30):
            sess.run(train, feeds)
        last = sess.run(loss, feeds)
    assert all(v.dtype == np.float16 for v in after)
    assert last < 0.5 * first, (first, last)
    # One step through the interpreter, from the same starting variables, gives the same update.
    step = [tf.assign_sub(v, 0.5 * g) for v, g in zip(variables, tf.gradients(loss, variables))]
    names = {v.op.name: value for v, value in zip(variables, before)}
    interpreted = interpret_graph(step, feeds, variables=names)
    for a, b in zip(after, interpreted):
        assert_same_half(a, b)


def test_dump_shows_the_casts(tmp_path):
    program = tmp_path / "half_matmul.py"
    program.write_text('import numpy as np\nimport graphc as tf\n'
                       'x = tf.placeholder(tf.float16, [2, 3], name="x")\n'
                       'y = tf.matmul(x, tf.ones([3, 4], tf.float16), name="product")\n'
                       'tf.Session().run(y, {x: np.ones((2, 3))})\n')
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", str(program), "--stage", "ir"],
                            capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert ("  %2:f32[2,3] = cast %0 {dtype=f32}  # product\n"
            "  %3:f32[3,4] = cast %1 {dtype=f32}  # product\n"
            "  %4:f32[2,4] = matmul %2, %3 {transpose_a=false, transpose_b=false}  # product\n"
            "  %5:f16[2,4] = cast %4 {dtype=f16}  # product\n") in result.stdout
