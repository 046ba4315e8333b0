"""tf.nn.rnn_cell and the recurrent drivers: each cell against a NumPy implementation of TF1's formulas
(gate order i, j, f, o; forget_bias 1.0), against TensorFlow's own cells with the same weights (when
TF is installed), TF1's variable names, gradients against the reference interpreter and finite
differences, and the drivers' masking of finished sequences.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import graphc as tf
from tests.helpers import interpret_graph
from tests.tf_oracle import run_tensorflow

BATCH, STEPS, DEPTH, UNITS = 3, 4, 5, 6
LENGTHS = [4, 1, 0]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- NumPy implementations of TF 1.15's cells (rnn_cell_impl.py) -------------------------------------


def _basic_rnn(w, x, h):
    h = np.tanh(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"])
    return h, h


def _basic_lstm(w, x, state):
    c, h = state
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * _sigmoid(o)
    return h, (c, h)


def _full_lstm(w, x, state, cell_clip=0.8, proj_clip=0.5):
    c, m = state
    i, j, f, o = np.split(np.concatenate([x, m], 1) @ w["kernel"] + w["bias"], 4, axis=1)
    c = _sigmoid(f + 1.0 + w["w_f_diag"] * c) * c + _sigmoid(i + w["w_i_diag"] * c) * np.tanh(j)
    c = np.clip(c, -cell_clip, cell_clip)
    m = _sigmoid(o + w["w_o_diag"] * c) * np.tanh(c)
    m = np.clip(m @ w["projection/kernel"], -proj_clip, proj_clip)
    return m, (c, m)


def _gru(w, x, h):
    r, u = np.split(_sigmoid(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"]), 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ w["candidate/kernel"] + w["candidate/bias"])
    h = u * h + (1 - u) * c
    return h, h


def _numpy_rnn(step, weights, inputs, state, lengths):
    """dynamic_rnn in NumPy: outputs zero and state copied through past each row's length."""
    outputs = []
    for t in range(inputs.shape[1]):
        output, new_state = step(weights, inputs[:, t], state)
        live = (t < np.asarray(lengths))[:, None]
        outputs.append(np.where(live, output, 0.0))
        state = (tuple(np.where(live, n, s) for n, s in zip(new_state, state)) if isinstance(state, tuple)
                 else np.where(live, new_state, state))
    return np.stack(outputs, 1), state


# name -> (cell builder taking the module as tf, NumPy step, zero state, variable names under rnn/<cell>/)
CELLS = {
    "basic_rnn": (lambda tf: tf.nn.rnn_cell.BasicRNNCell(UNITS), _basic_rnn, lambda: np.zeros((BATCH, UNITS)),
                  "basic_rnn_cell", ["kernel", "bias"]),
    "basic_lstm": (lambda tf: tf.nn.rnn_cell.BasicLSTMCell(UNITS), _basic_lstm,
                   lambda: (np.zeros((BATCH, UNITS)),) * 2, "basic_lstm_cell", ["kernel", "bias"]),
    "lstm_peepholes_clip_projection": (
        lambda tf: tf.nn.rnn_cell.LSTMCell(UNITS, use_peepholes=True, cell_clip=0.8, num_proj=4, proj_clip=0.5),
        _full_lstm, lambda: (np.zeros((BATCH, UNITS)), np.zeros((BATCH, 4))), "lstm_cell",
        ["kernel", "bias", "w_f_diag", "w_i_diag", "w_o_diag", "projection/kernel"]),
    "gru": (lambda tf: tf.nn.rnn_cell.GRUCell(UNITS), _gru, lambda: np.zeros((BATCH, UNITS)), "gru_cell",
            ["gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias"]),
}


def _inputs():
    return np.random.RandomState(7).uniform(-1, 1, (BATCH, STEPS, DEPTH)).astype(np.float32)


def _weights(variables) -> dict:
    """Random values for each variable, by name (biases and peepholes too, so that every term counts)."""
    rng = np.random.RandomState(3)
    return {v.op.name: rng.uniform(-0.6, 0.6, v.shape.as_list()).astype(np.float32) for v in variables}


def _build_dynamic(tf, make_cell):
    x = tf.placeholder(tf.float32, [None, STEPS, DEPTH], name="x")
    lengths = tf.placeholder(tf.int32, [None], name="lengths")
    cell = make_cell(tf)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    return x, lengths, outputs, state


def _run_with_weights(tf, fetches, feeds, weights):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for v in tf.global_variables():
            v.load(weights[v.op.name], sess)
        return sess.run(fetches, feeds)


def _parts(state) -> list:
    """A state's arrays: the two of an LSTM's (c, h), or the one."""
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_matches_numpy_formulas_of_tf1(name):
    make_cell, step, zero_state, cell_scope, variable_names = CELLS[name]
    x, lengths, outputs, state = _build_dynamic(tf, make_cell)
    assert [v.op.name for v in tf.global_variables()] == [f"rnn/{cell_scope}/{n}" for n in variable_names]
    weights = _weights(tf.global_variables())
    feeds = {x: _inputs(), lengths: LENGTHS}
    got_outputs, got_state = _run_with_weights(tf, [outputs, state], feeds, weights)
    local = {k.split("/", 2)[2]: v.astype(np.float64) for k, v in weights.items()}
    want_outputs, want_state = _numpy_rnn(step, local, _inputs().astype(np.float64), zero_state(), LENGTHS)
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-5, atol=1e-6)
    for got, want in zip(_parts(got_state), _parts(want_state)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


_TF_SCRIPT = """
import json, sys
import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.python.keras.layers.legacy_rnn import rnn_cell_impl
tf.disable_v2_behavior()
# TF 2.21 exports tf.compat.v1.nn.rnn_cell from Keras 2 only; its TF1 cells ship with TF as legacy_rnn.
tf.nn.rnn_cell = rnn_cell_impl
sys.path.insert(0, ".")
from tests.e2e.test_rnn import CELLS, LENGTHS, _build_dynamic, _inputs, _parts
answers = {}
for name in CELLS:
    weights = dict(np.load(sys.argv[1] + "/" + name + ".npz"))
    tf.reset_default_graph()
    x, lengths, outputs, state = _build_dynamic(tf, CELLS[name][0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for v in tf.global_variables():
            v.load(weights[v.op.name], sess)
        out, st = sess.run([outputs, state], {x: _inputs(), lengths: LENGTHS})
    answers[name] = {"names": [v.op.name for v in tf.global_variables()], "outputs": out.tolist(),
                     "state": [np.asarray(s).tolist() for s in _parts(st)]}
print(json.dumps(answers))
"""


def test_cells_match_tensorflows_own_cells_with_the_same_weights(tmp_path: pathlib.Path):
    """TF's TF1 cells (tensorflow.python.keras.layers.legacy_rnn) and dynamic_rnn, run in one child process."""
    built = {}
    for name in sorted(CELLS):
        with tf.Graph().as_default():
            x, lengths, outputs, state = _build_dynamic(tf, CELLS[name][0])
            weights = _weights(tf.global_variables())
            np.savez(tmp_path / f"{name}.npz", **weights)
            names = [v.op.name for v in tf.global_variables()]
            built[name] = (names, _run_with_weights(tf, [outputs, state], {x: _inputs(), lengths: LENGTHS}, weights))
    answers = json.loads(run_tensorflow(_TF_SCRIPT, str(tmp_path)).strip().splitlines()[-1])
    for name, (names, (got_outputs, got_state)) in built.items():
        assert answers[name]["names"] == names, name  # checkpoints line up
        np.testing.assert_allclose(got_outputs, answers[name]["outputs"], rtol=1e-5, atol=1e-6, err_msg=name)
        for got, want in zip(_parts(got_state), answers[name]["state"]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_static_rnn_and_dynamic_rnn_time_major_agree_and_share_names():
    x = tf.placeholder(tf.float32, [STEPS, BATCH, DEPTH])
    cell = tf.nn.rnn_cell.BasicLSTMCell(UNITS)
    static_outputs, static_state = tf.nn.static_rnn(cell, tf.unstack(x), dtype=tf.float32)
    dynamic_outputs, dynamic_state = tf.nn.dynamic_rnn(cell, x, time_major=True, dtype=tf.float32)
    assert [v.op.name for v in tf.global_variables()] == ["rnn/basic_lstm_cell/kernel", "rnn/basic_lstm_cell/bias"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        s_out, d_out, s_state, d_state = sess.run([static_outputs, dynamic_outputs, static_state, dynamic_state],
                                                  {x: _inputs().transpose(1, 0, 2)})
    np.testing.assert_allclose(np.stack(s_out), d_out, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s_state.h, d_state.h, rtol=1e-6, atol=1e-7)


def test_multi_rnn_cell_and_bidirectional_variable_names_are_tf1s():
    x = tf.placeholder(tf.float32, [BATCH, STEPS, DEPTH])
    stacked = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(UNITS), tf.nn.rnn_cell.GRUCell(3)])
    outputs, state = tf.nn.dynamic_rnn(stacked, x, dtype=tf.float32)
    assert outputs.shape.as_list() == [BATCH, STEPS, 3] and state[0].c.shape.as_list() == [BATCH, UNITS]
    (fw, bw), _ = tf.nn.bidirectional_dynamic_rnn(tf.nn.rnn_cell.BasicRNNCell(2), tf.nn.rnn_cell.BasicRNNCell(2), x,
                                                  dtype=tf.float32)
    static_fw_bw, _, _ = tf.nn.static_bidirectional_rnn(tf.nn.rnn_cell.GRUCell(2), tf.nn.rnn_cell.GRUCell(2),
                                                        tf.unstack(x, axis=1), dtype=tf.float32, scope="static_bi")
    assert len(static_fw_bw) == STEPS and static_fw_bw[0].shape.as_list() == [BATCH, 4]
    assert [v.op.name for v in tf.global_variables()] == [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel", "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias",
        "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel", "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias",
        "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel", "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias",
        "bidirectional_rnn/fw/basic_rnn_cell/kernel", "bidirectional_rnn/fw/basic_rnn_cell/bias",
        "bidirectional_rnn/bw/basic_rnn_cell/kernel", "bidirectional_rnn/bw/basic_rnn_cell/bias",
        "static_bi/fw/gru_cell/gates/kernel", "static_bi/fw/gru_cell/gates/bias",
        "static_bi/fw/gru_cell/candidate/kernel", "static_bi/fw/gru_cell/candidate/bias",
        "static_bi/bw/gru_cell/gates/kernel", "static_bi/bw/gru_cell/gates/bias",
        "static_bi/bw/gru_cell/candidate/kernel", "static_bi/bw/gru_cell/candidate/bias"]


def test_bidirectional_backward_direction_reads_each_sequence_reversed_within_its_length():
    x = tf.placeholder(tf.float32, [BATCH, STEPS, DEPTH])
    lengths = tf.placeholder(tf.int32, [BATCH])
    cell_fw, cell_bw = tf.nn.rnn_cell.BasicRNNCell(UNITS), tf.nn.rnn_cell.BasicRNNCell(UNITS)
    (fw, bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(cell_fw, cell_bw, x, lengths, dtype=tf.float32)
    weights = _weights(tf.global_variables())
    got_bw, got_state_bw = _run_with_weights(tf, [bw, state_bw], {x: _inputs(), lengths: LENGTHS}, weights)
    local = {k.split("/")[-1]: v.astype(np.float64) for k, v in weights.items() if "/bw/" in k}
    reversed_inputs = np.stack([np.concatenate([row[:n][::-1], row[n:]]) for row, n in zip(_inputs(), LENGTHS)])
    want, want_state = _numpy_rnn(_basic_rnn, local, reversed_inputs.astype(np.float64), np.zeros((BATCH, UNITS)),
                                  LENGTHS)
    want = np.stack([np.concatenate([row[:n][::-1], row[n:]]) for row, n in zip(want, LENGTHS)])
    np.testing.assert_allclose(got_bw, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_state_bw, want_state, rtol=1e-5, atol=1e-6)


def test_lstm_gradients_compiled_match_the_reference_and_finite_differences():
    x = tf.placeholder(tf.float64, [2, 3, 2])
    lengths = tf.constant([3, 2])
    cell = tf.nn.rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2, initializer=tf.random_uniform_initializer(
        -0.5, 0.5, seed=1))
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64)
    loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(state.c)
    grads = tf.gradients(loss, [x] + tf.trainable_variables())
    values = np.random.RandomState(0).uniform(-1, 1, (2, 3, 2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        compiled = sess.run(grads, {x: values})
        variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
        reference = interpret_graph(grads, {x: values}, variables)
        for c, r in zip(compiled, reference):
            np.testing.assert_allclose(c, r, rtol=1e-9, atol=1e-12)
        step = 1e-6
        for i in [(0, 0, 0), (1, 1, 1), (0, 2, 1)]:
            shifted = [values.copy(), values.copy()]
            shifted[0][i] += step
            shifted[1][i] -= step
            numeric = (sess.run(loss, {x: shifted[0]}) - sess.run(loss, {x: shifted[1]})) / (2 * step)
            np.testing.assert_allclose(compiled[0][i], numeric, rtol=1e-6, atol=1e-8)
    assert np.all(compiled[0][1, 2] == 0)  # the step past the second sequence's length feeds nothing back


def test_unknown_number_of_steps_says_what_is_missing():
    x = tf.placeholder(tf.float32, [2, None, 3])
    with pytest.raises(tf.errors.UnimplementedError, match="number of time steps when the graph is built"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), x, dtype=tf.float32)


def test_dropout_wrapper_drops_inputs_and_outputs_and_keeps_the_lstm_cell_state():
    x = tf.placeholder(tf.float32, [BATCH, STEPS, DEPTH])
    base = tf.nn.rnn_cell.BasicLSTMCell(UNITS)
    dropped = tf.nn.rnn_cell.DropoutWrapper(base, output_keep_prob=0.5, state_keep_prob=0.5, seed=3)
    outputs, state = tf.nn.dynamic_rnn(dropped, x, dtype=tf.float32)
    kept = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(UNITS, name="plain"))
    plain_outputs, _ = tf.nn.dynamic_rnn(kept, x, dtype=tf.float32, scope="plain_rnn")
    assert dropped.state_size == (UNITS, UNITS) and dropped.output_size == UNITS
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first, second = (sess.run(outputs, {x: _inputs()}) for _ in range(2))
        assert 0.2 < np.mean(first == 0) < 0.8 and not np.array_equal(first, second)  # a fresh mask per run
        assert np.all(sess.run(plain_outputs, {x: _inputs()}) != 0)  # keep probabilities of 1 drop nothing


def test_contrib_rnn_program_runs_unmodified_but_for_the_import():
    """The classic TF1 contrib program: unstack, contrib.rnn.BasicLSTMCell, static_rnn, last output, softmax."""
    x = tf.placeholder("float", [None, STEPS, DEPTH])
    labels = tf.placeholder("float", [None, 2])
    weights = tf.Variable(tf.random_normal([UNITS, 2], seed=1))
    cell = tf.contrib.rnn.BasicLSTMCell(UNITS, forget_bias=1.0)
    outputs, states = tf.contrib.rnn.static_rnn(cell, tf.unstack(x, STEPS, 1), dtype=tf.float32)
    assert isinstance(states, tf.contrib.rnn.LSTMStateTuple)
    logits = tf.matmul(outputs[-1], weights)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=labels))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    flat = tf.contrib.layers.flatten(x)
    assert flat.shape.as_list() == [None, STEPS * DEPTH]
    inputs = _inputs()
    targets = np.eye(2, dtype=np.float32)[(inputs.sum(axis=(1, 2)) > 0).astype(int)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: inputs, labels: targets})
        for _ in range(30):
            sess.run(train, {x: inputs, labels: targets})
        assert sess.run(loss, {x: inputs, labels: targets}) < first / 4
        np.testing.assert_array_equal(sess.run(flat, {x: inputs}), inputs.reshape(BATCH, -1))


def test_bidirectional_dynamic_rnn_trains():
    """Which half of a sequence (within its length) holds more weight: a task that needs both directions."""
    rng = np.random.RandomState(0)
    values = rng.uniform(-1, 1, (16, 6, 2)).astype(np.float32)
    lengths = rng.randint(2, 7, 16)
    x = tf.placeholder(tf.float32, [None, 6, 2])
    n = tf.placeholder(tf.int32, [None])
    labels = tf.placeholder(tf.int32, [None])
    (fw, bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
        tf.nn.rnn_cell.BasicLSTMCell(8), tf.nn.rnn_cell.GRUCell(8), x, n, dtype=tf.float32)
    logits = tf.layers.dense(tf.concat([state_fw.h, state_bw], 1), 2)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    targets = [int(row[:k // 2].sum() > row[k // 2:k].sum()) for row, k in zip(values, lengths)]
    feeds = {x: values, n: lengths, labels: targets}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, feeds)
        for _ in range(60):
            sess.run(train, feeds)
        assert sess.run(loss, feeds) < first / 3
        assert np.all(sess.run(fw, feeds)[np.arange(6)[None, :] >= lengths[:, None]] == 0)  # zeros past lengths


def test_dynamic_rnn_is_one_native_loop_whose_gradient_is_a_loop():
    # dynamic_rnn is a While op (its body the cell once), not the cell unrolled per step; its outputs and
    # gradients equal static_rnn's (the unrolled steps) to rounding.
    values = np.random.RandomState(3).standard_normal((2, 6, 3)).astype(np.float32)
    results = []
    for driver in ("dynamic", "static"):
        with tf.Graph().as_default() as graph:
            tf.set_random_seed(1)
            x = tf.placeholder(tf.float32, [2, 6, 3])
            cell = tf.nn.rnn_cell.BasicLSTMCell(4)
            if driver == "dynamic":
                outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=[6, 4], dtype=tf.float32)
                assert [op.type for op in graph.get_operations()].count("While") == 1
            else:
                steps, state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), sequence_length=[6, 4], dtype=tf.float32)
                outputs = tf.stack(steps, axis=1)
            loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(state.c)
            gradients = tf.gradients(loss, [x] + tf.trainable_variables())
            if driver == "dynamic":  # and its gradient, a reverse loop
                assert [op.type for op in graph.get_operations()].count("While") == 2
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                weights = np.random.RandomState(4)
                for variable in tf.trainable_variables():  # the same weights in both graphs
                    variable.load(weights.uniform(-0.5, 0.5, variable.shape.as_list()).astype(np.float32), sess)
                results.append(sess.run([outputs, state.h] + gradients, {x: values}))
    for dynamic, static in zip(*results):
        np.testing.assert_allclose(dynamic, static, rtol=1e-5, atol=1e-6)
