"""The TF2 API (graphc.v2): eager ops recorded lazily and run compiled, GradientTape, eager Keras.

Oracles: NumPy for op values, the reference interpreter on the same graph for
gradients (it agrees with finite differences, tests/unit/test_autodiff.py),
finite differences directly for a tape's gradient, TF2's Adam formula in NumPy.
"""

import re

import numpy as np
import pytest

import graphc
import graphc.v2 as tf
from graphc import errors
from graphc.eager.context import context, eager_function
from tests import gradient_cases
from tests.gradient_cases import CASES, build
from tests.helpers import interpret_graph, numeric_gradient


def compilations():
    return context().session.compilations


def test_namespaces_follow_tensorflow():
    import graphc.compat.v2 as compat_v2

    assert not hasattr(tf, "placeholder") and not hasattr(tf, "Session")
    assert compat_v2.GradientTape is tf.GradientTape and tf.executing_eagerly()
    assert hasattr(graphc, "placeholder") and hasattr(graphc, "Session")  # `import graphc` stays TF1
    assert isinstance(graphc.constant(1.0), graphc.Tensor)  # a symbolic graph tensor, as in TF1
    graphc.compat.v1.disable_v2_behavior()
    graphc.compat.v1.disable_eager_execution()


def test_eager_ops_agree_with_numpy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = tf.constant(a)
    y = tf.matmul(x, a.T) + 1.0  # a NumPy array and a Python number wherever a tensor is
    np.testing.assert_allclose(y.numpy(), a @ a.T + 1.0)
    np.testing.assert_allclose(np.asarray(tf.reduce_sum(x * x, axis=1)), (a * a).sum(axis=1))
    assert float(tf.reduce_max(x)) == 5.0 and int(tf.shape(x)[-1]) == 3
    assert bool(tf.reduce_sum(x) > 10.0) and not bool(tf.reduce_sum(x) > 100.0)
    np.testing.assert_allclose((2.0 * x - x[1]).numpy(), 2 * a - a[1])
    assert y.shape.as_list() == [2, 2] and y.dtype == tf.float32
    assert [r.numpy().tolist() for r in x] == a.tolist()


def test_repr_and_print_like_tf2():
    x = tf.constant([1.0, 2.0])
    assert repr(x) == "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert str(x) == "tf.Tensor([1. 2.], shape=(2,), dtype=float32)"
    assert str(tf.constant(3)) == "tf.Tensor(3, shape=(), dtype=int32)"


def test_a_repeated_step_compiles_once():
    w = tf.Variable(np.ones((4, 3), np.float32))
    rng = np.random.RandomState(0)
    losses = []
    for i in range(6):
        x = rng.rand(5, 4).astype(np.float32)  # new NumPy inputs each step: feeds, not constants
        if i == 1:
            before = compilations()
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
            losses.append(loss.numpy())
        grad = tape.gradient(loss, w)
        w.assign_sub(0.1 * grad)
        expected = np.mean((x @ (w.numpy() + 0.1 * grad.numpy())) ** 2)
        np.testing.assert_allclose(losses[-1], expected, rtol=1e-5)
    assert compilations() == before  # steps 2..6 ran the libraries step 1 compiled


def test_variables_assign_and_read():
    v = tf.Variable([1.0, 2.0], name="v")
    assert v.trainable and v.dtype == tf.float32 and v.shape.as_list() == [2] and v.name.startswith("v")
    v.assign([3.0, 4.0])
    v.assign_add([1.0, 1.0])
    np.testing.assert_allclose(v.numpy(), [4.0, 5.0])
    v.assign_sub(tf.constant([0.5, 0.5]))
    np.testing.assert_allclose(v.read_value().numpy(), [3.5, 4.5])
    np.testing.assert_allclose((v * 2).numpy(), [7.0, 9.0])
    assert not tf.Variable(0, trainable=False).trainable


def test_tape_gradient_matches_finite_differences():
    x0 = np.array([0.3, -1.2, 2.0])
    w = tf.Variable(x0)

    def f(x):
        return np.sum(np.tanh(x) * x ** 2)

    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.tanh(w) * w ** 2)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), numeric_gradient(f, x0.copy()), rtol=1e-6)


def test_tape_sources_nested_watch_unconnected_and_persistent():
    c = tf.constant(3.0)
    u = tf.Variable(2.0)
    unused = tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        y = c * c * u
    grads = tape.gradient(y, {"c": c, "rest": [u, (unused,)]})
    assert float(grads["c"]) == 12.0 and float(grads["rest"][0]) == 9.0 and grads["rest"][1][0] is None
    assert float(tape.gradient(y, u)) == 9.0  # persistent: a second gradient
    with tf.GradientTape() as tape:
        y = c * c  # c not watched: no gradient, as in TF2
    assert tape.gradient(y, c) is None


def test_nested_tapes_give_second_derivatives_and_stop_recording_cuts():
    x = tf.Variable(1.5)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)
    assert float(dy) == pytest.approx(6.75) and float(outer.gradient(dy, x)) == pytest.approx(9.0)
    with tf.GradientTape() as tape:
        a = x * 3.0
        with tape.stop_recording():
            b = x * 5.0  # a constant to the tape
        z = a * b
    assert float(tape.gradient(z, x)) == pytest.approx(3.0 * 7.5)


def test_non_persistent_tape_refuses_a_second_gradient():
    v = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = v * v
    tape.gradient(y, v)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape"):
        tape.gradient(y, v)


def test_shape_mismatch_is_invalid_argument_naming_the_op():
    with pytest.raises(errors.InvalidArgumentError, match="matmul"):
        tf.matmul(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_eager_gradients_match_reference(case):
    """The registry's gradient cases, through a tape: the same rules as tf.gradients, run eagerly."""
    draws = gradient_cases.rng.get_state()  # a case may draw inputs (labels) when called: the same ones eagerly
    placeholders, loss = build(case)
    gradient_cases.rng.set_state(draws)
    reference = interpret_graph(graphc.gradients(loss, placeholders), dict(zip(placeholders, case[2])))
    weights = np.random.RandomState(1).uniform(-1, 1, loss.op.inputs[0].shape.as_list())
    xs = [tf.constant(a) for a in case[2]]
    with tf.GradientTape() as tape:
        tape.watch(xs)
        out = eager_function(case[1])(*xs)
        y = tf.reduce_sum(tf.cast(out, tf.float64) * weights)
    for got, expected in zip(tape.gradient(y, xs), reference):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9, atol=1e-12, err_msg=case[0])


def test_adam_follows_tf2s_update():
    opt = tf.keras.optimizers.Adam(learning_rate=0.1)
    v = tf.Variable([1.0, -2.0])
    m = s = np.zeros(2)
    value = np.array([1.0, -2.0])
    for t in range(1, 4):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v * v)
        opt.apply_gradients(zip([tape.gradient(loss, v)], [v]))
        g = 3 * value ** 2
        m, s = m + (g - m) * 0.1, s + (g * g - s) * 0.001
        value = value - 0.1 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(s) + 1e-7)
        np.testing.assert_allclose(v.numpy(), value, rtol=1e-5)
    assert int(opt.iterations.numpy()) == 3


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad"])
def test_other_optimizers_follow_tf2s_updates(name):
    opt = getattr(tf.keras.optimizers, name)(learning_rate=0.1)
    v = tf.Variable([1.0, -2.0])
    value, slot = np.array([1.0, -2.0]), np.full(2, 0.1 if name == "Adagrad" else 0.0)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(v * v * v)
        opt.apply_gradients(zip([tape.gradient(loss, v)], [v]))
        g = 3 * value ** 2
        if name == "SGD":
            value = value - 0.1 * g
        else:
            slot = 0.9 * slot + 0.1 * g * g if name == "RMSprop" else slot + g * g
            value = value - 0.1 * g / (np.sqrt(slot) + 1e-7)
        np.testing.assert_allclose(v.numpy(), value, rtol=1e-5)


def test_loss_classes_average_over_the_batch():
    y_pred = tf.nn.softmax(np.random.RandomState(0).rand(4, 3).astype(np.float32))
    y = np.array([0, 2, 1, 2], np.int32)
    sparse = tf.keras.losses.SparseCategoricalCrossentropy()(y, y_pred)
    dense = tf.keras.losses.CategoricalCrossentropy()(np.eye(3, dtype=np.float32)[y], y_pred)
    expected = -np.log(y_pred.numpy()[np.arange(4), y]).mean()
    assert float(sparse) == pytest.approx(expected, rel=1e-5) and float(dense) == pytest.approx(expected, rel=1e-5)


def test_eager_models_predict_in_batches():  # fit and evaluate: tests/e2e/test_keras_v2_fit.py
    model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    x = np.random.RandomState(0).rand(70, 4).astype(np.float32)
    predicted = model.predict(x, batch_size=32)
    assert predicted.shape == (70, 2)
    np.testing.assert_allclose(predicted, x @ model.weights[0].numpy() + model.weights[1].numpy(), rtol=1e-5)


def test_categorical_crossentropy_of_one_hot_equals_the_sparse_form():
    rng = np.random.RandomState(0)
    y_pred = tf.nn.softmax(rng.rand(6, 4).astype(np.float32))
    y = rng.randint(0, 4, 6).astype(np.int32)
    sparse = tf.keras.losses.sparse_categorical_crossentropy(y_true=y, y_pred=y_pred)
    dense = tf.keras.losses.categorical_crossentropy(y_true=tf.one_hot(y, depth=tf.shape(y_pred)[-1]), y_pred=y_pred)
    np.testing.assert_allclose(dense.numpy(), sparse.numpy(), rtol=1e-6)
    np.testing.assert_allclose(sparse.numpy(), -np.log(y_pred.numpy()[np.arange(6), y]), rtol=1e-5)


def test_the_seed_program_trains_eagerly():
    """examples/keras_mlp_eager.py: the seed's TF2 program, `import graphc.v2 as tf` its only change."""
    from tests.e2e.test_examples import run_example

    output = run_example("keras_mlp_eager.py", GRAPHC_EXAMPLE_EPOCHS="0.05")  # 60 batches of the seed's 6000
    losses = [float(v) for v in re.findall(r"batch \d+: loss ([\d.]+)", output)]
    assert len(losses) == 60 and np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    assert float(re.findall(r"test accuracy: ([\d.]+)", output)[-1]) > 0.75  # chance is 0.1


def test_tf_function_traces_once_per_signature_and_runs_compiled():
    w = tf.Variable(np.ones((3, 2), np.float32))
    opt = tf.keras.optimizers.SGD(learning_rate=0.5)

    @tf.function
    def train_step(x, scale):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.matmul(x, w)) * scale
        opt.apply_gradients(zip([tape.gradient(loss, w)], [w]))
        return loss

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected_w = np.ones((3, 2))
    for i in range(4):
        loss = train_step(x + i, 2.0)
        assert float(loss) == pytest.approx(2.0 * ((x + i) @ expected_w).sum())
        expected_w -= 0.5 * 2.0 * np.repeat((x + i).sum(axis=0)[:, None], 2, axis=1)
        np.testing.assert_allclose(w.numpy(), expected_w)
        if i == 0:
            after_first = compilations()
            current = context().step()
            size = len(current.graph.get_operations())
    assert train_step.trace_count == 1 and compilations() == after_first
    assert context().step() is current and len(current.graph.get_operations()) == size  # calls add no ops to it
    train_step(x[:1], 2.0)  # a new shape: a new trace
    train_step(x, 3.0)  # a new Python value: a new trace
    assert train_step.trace_count == 3


def test_tf_function_with_an_input_signature_traces_once_for_every_batch_size():
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([], tf.float32)])
    def scaled_sums(x, scale):
        return tf.reduce_sum(x, axis=1) * scale

    for rows in (1, 3, 5):
        x = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
        np.testing.assert_allclose(scaled_sums(x, 2.0).numpy(), x.sum(axis=1) * 2.0)
    assert scaled_sums.trace_count == 1
    with pytest.raises(ValueError, match="incompatible with input_signature"):
        scaled_sums(np.ones((2, 3), np.float32), 2.0)


def test_tf_function_errors_as_tf2():
    @tf.function
    def makes_a_variable(x):
        return x * tf.Variable(2.0)

    assert makes_a_variable(np.float32(1.5) * np.ones(2, np.float32)).numpy().tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="singleton tf.Variables created on the first call"):
        makes_a_variable(np.ones(3, np.float32))

    @tf.function
    def peeks(x):
        return x.numpy()

    with pytest.raises(AttributeError, match="'input:0' is symbolic inside a tf.function"):
        peeks(np.ones(2, np.float32))
