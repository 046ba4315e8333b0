"""Horovod's tensor fusion compiled (graphc/horovod/ops.py `fused`, in a world of one process): the step
computes every gradient into its place in one buffer, allreduces it in place and updates from views of
it, with no concat, slice or reshape kernel, and makes the same updates as the step without fusion."""

import numpy as np

import graphc as tf
from graphc.backend import codegen
from graphc.compiler.lower import lower
from graphc.horovod import ops as hvd_ops
from graphc.ir.program import walk
from graphc.ops import collective_ops
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types, interpret_graph

rng = np.random.RandomState(3)
X = rng.normal(size=(6, 5)).astype(np.float32)
Y = rng.randint(0, 3, 6).astype(np.int32)


def _step(fuse: bool):
    """An MLP's SGD step, its gradients through fused(allreduce) or not; (train_op, feeds, variables)."""
    tf.set_random_seed(5)
    images, labels = tf.placeholder(tf.float32, [6, 5]), tf.placeholder(tf.int32, [6])
    hidden = tf.layers.dense(images, 4, activation=tf.nn.relu)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, tf.layers.dense(hidden, 3))
    optimizer = tf.train.GradientDescentOptimizer(0.3)
    grads, variables = zip(*optimizer.compute_gradients(loss))
    if fuse:  # halve the sum, as hvd.Average over two ranks would
        grads = hvd_ops.fused(list(grads), collective_ops.allreduce_sum, lambda summed: summed * 0.5)
    else:
        grads = [g * 0.5 for g in grads]
    return optimizer.apply_gradients(zip(grads, variables)), {images: X, labels: Y}, variables


def _trained(fuse: bool, steps: int = 3) -> list:
    with tf.Graph().as_default():
        train_op, feeds, variables = _step(fuse)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            for _ in range(steps):
                session.run(train_op, feeds)
            return session.run(list(variables))


def test_the_fused_step_updates_as_the_step_without_fusion():
    for fused, plain in zip(_trained(True), _trained(False)):
        np.testing.assert_array_equal(fused, plain)


def test_the_fused_step_agrees_with_the_reference_interpreter():
    with tf.Graph().as_default():
        train_op, feeds, variables = _step(True)
        with tf.control_dependencies([train_op]):
            after = [tf.identity(v) for v in variables]
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            start = session.run(list(variables))
            compiled = session.run(after, feeds)
        reference = interpret_graph(after, feeds, {v.op.name: value for v, value in zip(variables, start)})
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-5, atol=1e-6)


def test_the_fused_step_runs_no_concat_slice_or_reshape_kernel():
    with tf.Graph().as_default():
        train_op, feeds, _ = _step(True)
        program = run_pipeline(lower([train_op], feed_types(feeds)).program)
    plan = program.memory_plan
    layout = [inst for inst in walk(program.instructions) if inst.op in ("concat", "slice", "reshape")]
    assert len([inst for inst in layout if inst.op == "concat"]) == 1
    assert {inst.result.id for inst in layout} <= plan.elided
    (allreduce,) = [inst for inst in walk(program.instructions) if inst.op == "mpi_allreduce"]
    assert plan.locations[allreduce.result.id] == plan.locations[allreduce.operands[0].id]  # in place
    functions = [f.name for emitted in codegen.emit_modules(program) for f in emitted.module.functions]
    assert any("mpi_allreduce" in name for name in functions)
    assert not [name for name in functions if any(op in name for op in ("concat", "slice", "reshape"))]
