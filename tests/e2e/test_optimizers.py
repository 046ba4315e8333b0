"""Momentum, Adam, RMSProp and Adagrad: compiled steps against NumPy implementations of TF1's formulas."""

import numpy as np
import pytest

import graphc as tf

X = np.random.RandomState(0).rand(8, 4).astype(np.float32)
Y = np.random.RandomState(1).rand(8, 3).astype(np.float32)
W0 = np.random.RandomState(2).normal(0, 0.5, (4, 3)).astype(np.float32)
B0 = np.random.RandomState(3).normal(0, 0.5, (3,)).astype(np.float32)
STEPS = 5


def gradients(w, b):
    """d/dw, d/db of mean((X w + b - Y)^2), in float64."""
    d = 2 * (X @ w + b - Y) / Y.size
    return {"w": X.T @ d, "b": d.sum(axis=0)}


# NumPy versions of TF1's update kernels: (var, grad, slots, step t >= 1) -> new var; slots are updated in place.

def momentum_rule(lr, momentum, nesterov):
    def update(var, grad, slots, t):
        slots["momentum"] = slots["momentum"] * momentum + grad
        if nesterov:
            return var - (grad * lr + slots["momentum"] * momentum * lr)
        return var - slots["momentum"] * lr
    return {"momentum": 0.0}, update


def adam_rule(lr, beta1, beta2, epsilon):
    def update(var, grad, slots, t):
        lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        slots["m"] = slots["m"] + (grad - slots["m"]) * (1 - beta1)
        slots["v"] = slots["v"] + (grad * grad - slots["v"]) * (1 - beta2)
        return var - lr_t * slots["m"] / (np.sqrt(slots["v"]) + epsilon)
    return {"m": 0.0, "v": 0.0}, update


def rmsprop_rule(lr, decay, momentum, epsilon, centered):
    def update(var, grad, slots, t):
        slots["rms"] = slots["rms"] + (grad * grad - slots["rms"]) * (1 - decay)
        denominator = slots["rms"] + epsilon
        if centered:
            slots["mg"] = slots["mg"] + (grad - slots["mg"]) * (1 - decay)
            denominator = denominator - slots["mg"] ** 2
        slots["momentum"] = slots["momentum"] * momentum + lr * grad / np.sqrt(denominator)
        return var - slots["momentum"]
    initial = {"rms": 1.0, "momentum": 0.0}
    if centered:
        initial["mg"] = 0.0
    return initial, update


def adagrad_rule(lr, initial_accumulator_value):
    def update(var, grad, slots, t):
        slots["accumulator"] = slots["accumulator"] + grad * grad
        return var - lr * grad / np.sqrt(slots["accumulator"])
    return {"accumulator": initial_accumulator_value}, update


CASES = {
    "momentum": (lambda: tf.train.MomentumOptimizer(0.1, 0.9), momentum_rule(0.1, 0.9, False)),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True), momentum_rule(0.1, 0.9, True)),
    "adam": (lambda: tf.train.AdamOptimizer(0.05), adam_rule(0.05, 0.9, 0.999, 1e-8)),
    "adam_hyper": (lambda: tf.train.AdamOptimizer(0.02, beta1=0.5, beta2=0.9, epsilon=1e-3),
                   adam_rule(0.02, 0.5, 0.9, 1e-3)),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01), rmsprop_rule(0.01, 0.9, 0.0, 1e-10, False)),
    "rmsprop_momentum": (lambda: tf.train.RMSPropOptimizer(0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         rmsprop_rule(0.01, 0.8, 0.5, 1e-6, False)),
    "rmsprop_centered": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.3, centered=True),
                         rmsprop_rule(0.01, 0.9, 0.3, 1e-10, True)),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.1), adagrad_rule(0.1, 0.1)),
    "adagrad_initial": (lambda: tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.5),
                        adagrad_rule(0.1, 0.5)),
}


def build_problem():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 3], name="y")
    w = tf.Variable(W0, name="w")
    b = tf.Variable(B0, name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    return x, y, w, b, loss


@pytest.mark.parametrize("case", sorted(CASES))
def test_updates_match_tf1_formulas(case):
    make_optimizer, (initial_slots, update) = CASES[case]
    x, y, w, b, loss = build_problem()
    optimizer = make_optimizer()
    global_step = tf.train.get_or_create_global_step()
    train_op = optimizer.minimize(loss, global_step=global_step)
    variables = {"w": w, "b": b}
    expected = {"w": W0.astype(np.float64), "b": B0.astype(np.float64)}
    slots = {name: {s: np.full(expected[name].shape, v) for s, v in initial_slots.items()} for name in expected}
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for t in range(1, STEPS + 1):
        grads = gradients(expected["w"], expected["b"])
        for name in expected:
            expected[name] = update(expected[name], grads[name], slots[name], t)
        sess.run(train_op, {x: X, y: Y})
        for name, var in variables.items():
            np.testing.assert_allclose(sess.run(var), expected[name], rtol=2e-4, atol=1e-6, err_msg=f"{name} step {t}")
            for slot_name, value in slots[name].items():
                np.testing.assert_allclose(sess.run(optimizer.get_slot(var, slot_name)), value, rtol=2e-4,
                                           atol=1e-6, err_msg=f"slot {slot_name} of {name} at step {t}")
    assert sess.run(global_step) == STEPS


@pytest.mark.parametrize("make_optimizer, slot_names, slot_variables", [
    (lambda: tf.train.MomentumOptimizer(0.1, 0.9), ["momentum"], ["w/Momentum", "b/Momentum"]),
    (lambda: tf.train.AdamOptimizer(), ["m", "v"], ["beta1_power", "beta2_power", "w/Adam", "w/Adam_1", "b/Adam",
                                                      "b/Adam_1"]),
    (lambda: tf.train.RMSPropOptimizer(0.1), ["momentum", "rms"], ["w/RMSProp", "w/RMSProp_1", "b/RMSProp",
                                                                     "b/RMSProp_1"]),
    (lambda: tf.train.RMSPropOptimizer(0.1, centered=True), ["mg", "momentum", "rms"],
     ["w/RMSProp", "w/RMSProp_1", "w/RMSProp_2", "b/RMSProp", "b/RMSProp_1", "b/RMSProp_2"]),
    (lambda: tf.train.AdagradOptimizer(0.1), ["accumulator"], ["w/Adagrad", "b/Adagrad"]),
])
def test_slot_variables_are_named_as_in_tf1(make_optimizer, slot_names, slot_variables):
    *_, w, b, loss = build_problem()
    optimizer = make_optimizer()
    optimizer.minimize(loss)
    assert optimizer.get_slot_names() == slot_names
    assert [v.op.name for v in tf.global_variables()] == ["w", "b"] + slot_variables
    assert [v.op.name for v in tf.trainable_variables()] == ["w", "b"]
    assert sorted(v.op.name for v in optimizer.variables()) == sorted(slot_variables)
    assert optimizer.get_slot(w, slot_names[0]).shape == w.shape
    assert optimizer.get_slot(w, "no such slot") is None


def test_centered_rmsprop_slot_order_follows_tf1():
    *_, w, b, loss = build_problem()
    optimizer = tf.train.RMSPropOptimizer(0.1, centered=True)
    optimizer.minimize(loss)
    names = {slot: optimizer.get_slot(w, slot).op.name for slot in optimizer.get_slot_names()}
    assert names == {"rms": "w/RMSProp", "mg": "w/RMSProp_1", "momentum": "w/RMSProp_2"}


def test_adam_beta_powers_advance_each_step():
    x, y, w, b, loss = build_problem()
    optimizer = tf.train.AdamOptimizer(0.01, beta1=0.8, beta2=0.7)
    train_op = optimizer.minimize(loss)
    beta1_power, beta2_power = (v for v in tf.global_variables() if v.op.name.endswith("_power"))
    assert not beta1_power.trainable and beta1_power.dtype is tf.float32
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    for _ in range(3):
        sess.run(train_op, {x: X, y: Y})
    np.testing.assert_allclose(sess.run([beta1_power, beta2_power]), [0.8 ** 4, 0.7 ** 4], rtol=1e-6)


def test_learning_rate_may_be_a_fed_tensor():
    x, y, w, b, loss = build_problem()
    learning_rate = tf.placeholder(tf.float32, [], name="learning_rate")
    train_op = tf.train.MomentumOptimizer(learning_rate, 0.9).minimize(loss, var_list=[b])
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train_op, {x: X, y: Y, learning_rate: 0.5})
    np.testing.assert_allclose(sess.run(b), B0 - 0.5 * gradients(W0, B0)["b"], rtol=1e-5)
    sess.run(train_op, {x: X, y: Y, learning_rate: 0.0})
    np.testing.assert_allclose(sess.run(b), B0 - 0.5 * gradients(W0, B0)["b"], rtol=1e-5)


def test_optimizers_update_float64_variables():
    v = tf.Variable(np.array([1.0, -2.0]), name="v")
    loss = tf.reduce_sum(tf.square(v))
    train_op = tf.train.AdamOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(train_op)
    # First Adam step: m = 0.1 g, v = 0.001 g^2, lr_t = 0.1 sqrt(0.001) / 0.1: var -= 0.1 * sign(g) (nearly).
    np.testing.assert_allclose(sess.run(v), [0.9, -1.9], rtol=1e-6)


def test_adagrad_rejects_non_positive_initial_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
