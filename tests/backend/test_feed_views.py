"""A reshaped feed is a view of the caller's array (passes/shared_storage.py): no kernel copies it, and
the step reads the batch each run's feed pointer points at, also N runs in one call (`steps=`)."""

import numpy as np

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.memory_plan import Place
from graphc.ir.program import walk
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types


def test_a_reshaped_feed_is_read_in_place_run_after_run():
    x = tf.placeholder(tf.float32, [2, 12])
    images = tf.reshape(x, [2, 3, 4])
    total = tf.Variable(0.0)
    update = tf.assign_add(total, tf.reduce_sum(tf.reduce_max(images, axis=2) * [[1.0, 2.0, 3.0]]))
    batches = np.random.RandomState(7).normal(size=[5, 2, 12]).astype(np.float32)
    program = run_pipeline(lower([update], feed_types({x: batches[0]}), frozenset([total.op.name])).program)
    (reshape,) = [inst for inst in walk(program.instructions) if inst.op == "reshape"]
    assert program.memory_plan.locations[reshape.result.id].place is Place.FEED
    assert reshape.result.id in program.memory_plan.elided
    expected = sum(float((batch.reshape(2, 3, 4).max(axis=2) * [1.0, 2.0, 3.0]).sum()) for batch in batches)
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        session.run(update, {x: batches}, steps=5)
        np.testing.assert_allclose(session.run(total), expected, rtol=1e-5)
        for batch in batches:
            session.run(update, {x: batch})
        np.testing.assert_allclose(session.run(total), 2 * expected, rtol=1e-5)
        np.testing.assert_array_equal(session.run(images, {x: batches[3]}), batches[3].reshape(2, 3, 4))
