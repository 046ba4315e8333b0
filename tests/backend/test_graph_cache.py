"""Compiled steps found by their graph's key (compiler/step_records.py): a hit skips lowering, the passes and
LLVM and computes what a compiled step computes, bit for bit; any change to the graph misses; a record the
cache's rules refuse, or whose library is gone, is compiled again."""

import os

import numpy as np
import pytest

import graphc as tf
from graphc.compiler import driver, step_records
from graphc.compiler.graph_key import graph_key
from graphc.ir.program import IRType


@pytest.fixture
def cache_dir(tmp_path, setenv):
    driver.load_runtime()  # from the usual cache: only the steps go to this one
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    setenv("GRAPHC_CACHE_DIR", str(directory))
    return directory


def _training_program(learning_rate=0.1):
    """A tanh layer trained by momentum, in a graph of its own: (graph, x, loss, train, init)."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        w = tf.Variable(tf.random_normal([4, 3], seed=1), name="w")
        loss = tf.reduce_mean(tf.square(tf.tanh(tf.matmul(x, w)) - 0.5))
        train = tf.train.MomentumOptimizer(learning_rate, 0.9).minimize(loss)
        init = tf.global_variables_initializer()
    return graph, x, loss, train, init


def _stages(step) -> list:
    return [name for name, _ in step.stage_seconds]


def _train(program, steps=5):
    graph, x, loss, train, init = program
    batch = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        losses = [sess.run([train, loss], {x: batch})[1] for _ in range(steps)]
        return losses, sess.run(graph.get_tensor_by_name("w:0"))


def _compile(x, fetches, rows=2):
    return driver.compile_step(fetches, {x: IRType(tf.float32, (rows, 4))})


def test_a_step_compiled_before_from_the_same_graph_is_loaded_without_compiling(cache_dir):
    _, x, loss, train, _ = _training_program()
    first = _compile(x, [train, loss])
    assert "lowered" in _stages(first) and "record" in _stages(first)
    _, x, loss, train, _ = _training_program()  # the same program, built again
    second = _compile(x, [train, loss])
    assert _stages(second) == ["graph", "graph cache", "load"]
    assert second.lowered.feed_tensors == (x,)
    assert second.lowered.variables["w"] is x.graph.get_operation_by_name("w")
    assert second.plan.describe() == first.plan.describe()


def test_restored_steps_train_bit_for_bit_as_compiled_ones(cache_dir, monkeypatch):
    compiled = _train(_training_program())
    restored_stages = []
    compile_step = driver.compile_step

    def spy(*args, **kwargs):
        step = compile_step(*args, **kwargs)
        restored_stages.append(_stages(step))
        return step

    monkeypatch.setattr(driver, "compile_step", spy)
    restored = _train(_training_program())
    assert restored_stages and all(stages == ["graph", "graph cache", "load"] for stages in restored_stages)
    np.testing.assert_array_equal(compiled[0], restored[0])
    np.testing.assert_array_equal(compiled[1], restored[1])


def test_a_changed_graph_or_signature_is_compiled_again(cache_dir):
    _, x, loss, train, _ = _training_program()
    _compile(x, [train, loss])
    _, x, loss, train, _ = _training_program(learning_rate=0.2)
    assert "lowered" in _stages(_compile(x, [train, loss]))  # another constant
    assert "lowered" in _stages(_compile(x, [train, loss], rows=3))  # another feed shape
    assert "lowered" in _stages(_compile(x, [loss]))  # other fetches


def _record_path(cache_dir, x, fetches):
    key = graph_key(fetches, {x: IRType(tf.float32, (2, 4))}, frozenset(), False)
    return cache_dir / step_records.record_name(key)


def test_a_damaged_record_is_compiled_again_not_loaded(cache_dir):
    _, x, loss, _, _ = _training_program()
    _compile(x, [loss])
    record = _record_path(cache_dir, x, [loss])
    record.write_bytes(record.read_bytes()[:-1] + b"!")  # its checksum no longer matches: never unpickled
    _, x, loss, _, _ = _training_program()
    assert "lowered" in _stages(_compile(x, [loss]))
    _, x, loss, _, _ = _training_program()
    assert _stages(_compile(x, [loss])) == ["graph", "graph cache", "load"]  # replaced by a sound one


def test_a_symbolic_link_in_place_of_a_record_is_not_followed(cache_dir, tmp_path):
    _, x, loss, _, _ = _training_program()
    _compile(x, [loss])
    record = _record_path(cache_dir, x, [loss])
    elsewhere = tmp_path / "elsewhere.step"
    record.rename(elsewhere)
    record.symlink_to(elsewhere)
    _, x, loss, _, _ = _training_program()
    assert "lowered" in _stages(_compile(x, [loss]))
    assert not record.is_symlink()


def test_a_record_whose_library_was_evicted_is_compiled_again(cache_dir):
    _, x, loss, _, _ = _training_program()
    _compile(x, [loss])
    for library in cache_dir.glob("*.so"):
        os.unlink(library)
    _, x, loss, _, _ = _training_program()
    step = _compile(x, [loss])
    assert "objects" in _stages(step)
    _, x, loss, _, _ = _training_program()
    assert _stages(_compile(x, [loss])) == ["graph", "graph cache", "load"]
