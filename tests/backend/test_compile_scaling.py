"""Compile work grows linearly with the graph (issue 12, item 9): counted here, never timed.

Long chains compile and compute what NumPy computes; no function given to
LLVM grows with the program; the passes that were quadratic (plan_memory's
offsets, place_free_computations's keys, fusion's searches) and codegen's
bookkeeping execute a number of Python lines linear in the program's size.
"""

import random
import sys

import numpy as np

import graphc as tf
from graphc.backend import codegen
from graphc.compiler.lower import lower
from graphc.ir.memory_plan import ALIGNMENT
from graphc.ir import program as ir_program
from graphc.passes import eliminate_common_subexpressions, fuse, place_free_computations, plan_memory
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types

LINEAR = 2.3  # doubling the program may at most about double the work (quadratic work would quadruple it)


def _matmul_chain(layers: int, distinct: bool = False):
    """(output, feeds) of `layers` x @ w + b then tanh; with `distinct`, each layer of another width."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [4, 8], name="x")
    h, reference, width = x, rng.rand(4, 8).astype(np.float32), 8
    feeds = {x: reference}
    for layer in range(layers):
        out = 8 + layer % 24 if distinct else 8
        w = (np.eye(width, out) * 0.5 + 0.01).astype(np.float32)
        b = np.full(out, 0.01, np.float32)
        h = tf.tanh(tf.matmul(h, tf.constant(w)) + tf.constant(b))
        reference = np.tanh(reference @ w + b)
        width = out
    return h, feeds, reference


def _tanh_gradient(length: int):
    x = tf.placeholder(tf.float64, [16], name="x")
    h = x
    for _ in range(length):
        h = tf.tanh(h)
    return tf.gradients(tf.reduce_sum(h), x)[0], x


def _training_step(layers: int):
    """(lowered program, feeds) of a GradientDescent step over `layers` dense tanh layers, two variables each."""
    x = tf.placeholder(tf.float32, [4, 8], name="x")
    h = x
    for _ in range(layers):
        h = tf.tanh(tf.matmul(h, tf.Variable(np.eye(8, dtype=np.float32))) + tf.Variable(np.zeros(8, np.float32)))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(h))
    feeds = {x: np.ones((4, 8), np.float32)}
    initialized = frozenset(v.op.name for v in tf.global_variables())
    return lower([train], feed_types(feeds), initialized).program, feeds


def _planned(fetches, feeds):
    return run_pipeline(lower(fetches, feed_types(feeds)).program)


def _lines_executed(function, modules) -> dict:
    """Module name -> how many of its Python lines run while `function()` runs (generator steps included)."""
    names = {module.__file__: module.__name__ for module in modules}
    counts = dict.fromkeys(names.values(), 0)

    def tracer(name):
        def trace_lines(frame, event, arg):
            counts[name] += event == "line"
            return trace_lines
        return trace_lines

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: tracer(names[frame.f_code.co_filename])
                 if frame.f_code.co_filename in names else None)
    try:
        function()
    finally:
        sys.settrace(previous)
    return counts


def _assert_linear(small: dict, large: dict) -> None:
    """Each module's count for twice the program is at most LINEAR times its count for the program."""
    assert all(large[name] < LINEAR * small[name] for name in small), (small, large)


def test_a_2000_op_chain_compiles_and_computes_what_numpy_computes():
    h, feeds, reference = _matmul_chain(667)
    assert len(tf.get_default_graph().get_operations()) > 2000
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(h, feeds), reference, rtol=1e-5, atol=1e-6)


def test_the_gradient_of_a_2000_op_tanh_chain():
    gradient, x = _tanh_gradient(1000)
    values = np.linspace(-2, 2, 16)
    expected, forward = np.ones(16), values
    for _ in range(1000):  # d tanh(u) = 1 - tanh(u)^2, along the chain
        forward = np.tanh(forward)
        expected *= 1 - forward ** 2
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(gradient, {x: values}), expected, rtol=1e-9)


def test_fusion_bounds_the_size_of_a_kernel():
    gradient, x = _tanh_gradient(500)
    program = _planned([gradient], {x: np.zeros(16)})
    sizes = {}
    for inst in program.instructions:
        if inst.kernel is not None:
            sizes[inst.kernel] = sizes.get(inst.kernel, 0) + 1
    assert max(sizes.values()) <= fuse.MAX_KERNEL_INSTRUCTIONS < len(program.instructions) // 4


def test_no_function_given_to_llvm_grows_with_the_program():
    def largest_function(layers):
        tf.reset_default_graph()
        h, feeds, _ = _matmul_chain(layers, distinct=True)
        program = _planned([h], feeds)
        return max(sum(len(block.instructions) for block in function.blocks)
                   for module, _ in codegen.emit_modules(program) for function in module.functions)

    assert largest_function(1600) <= 1.05 * largest_function(400)


def test_placement_keys_stay_short_along_a_chain_of_sunk_tensors():
    gradient, x = _tanh_gradient(1000)  # all of it is computed from the feed alone: every tensor sinks
    program = lower([gradient], feed_types({x: np.zeros(16)})).program
    keys = place_free_computations.placement_keys(program)
    assert max(map(len, keys.values())) <= 6


def _first_fit_reference(values):
    """The arena placement as it was: each value scans every value placed before it."""
    placed, offsets = [], {}
    for start, end, nbytes, key in sorted(values):
        size = -(-nbytes // ALIGNMENT) * ALIGNMENT
        offset = 0
        for busy_offset, busy_size in sorted((o, s) for o, s, b, e in placed if not (e < start or b > end)):
            if offset + size <= busy_offset:
                break
            offset = max(offset, busy_offset + busy_size)
        placed.append((offset, size, start, end))
        offsets[key] = offset
    return offsets


def test_arena_offsets_are_first_fit():
    rng = random.Random(0)
    for _ in range(200):
        values = []
        for key in range(rng.randint(1, 40)):
            start = rng.randint(0, 30)
            values.append((start, start + rng.randint(0, 10), rng.choice([0, 1, 4, 64, 100, 256, 1000]), key))
        locations = {}
        plan_memory._assign_offsets(values, locations)
        assert {key: location.offset for key, location in locations.items()} == _first_fit_reference(values)


def test_the_passes_take_linear_work_on_a_gradient():
    def lines(layers):
        tf.reset_default_graph()
        h, feeds, _ = _matmul_chain(layers)
        x, = feeds
        gradient = tf.gradients(tf.reduce_sum(h), x)[0]  # every layer's activation stays live for the backward pass
        program = lower([gradient], feed_types(feeds)).program
        return _lines_executed(lambda: run_pipeline(program), [plan_memory, place_free_computations, fuse])

    _assert_linear(lines(200), lines(400))


def test_emitting_distinct_kernels_takes_linear_work():
    def lines(layers):
        tf.reset_default_graph()
        h, feeds, _ = _matmul_chain(layers, distinct=True)
        program = _planned([h], feeds)
        return _lines_executed(lambda: codegen.emit_modules(program), [codegen])

    _assert_linear(lines(120), lines(240))


def test_the_passes_take_linear_work_on_a_training_step():
    # Every layer's update writes its variables: CSE forgot the reads of a variable by rebuilding its
    # table at each write, and fusion looked variables up by a search of the program's.
    def lines(layers):
        tf.reset_default_graph()
        program, _ = _training_step(layers)
        return _lines_executed(lambda: run_pipeline(program), [eliminate_common_subexpressions, fuse, ir_program])

    _assert_linear(lines(100), lines(200))


def test_the_parts_of_a_large_step_are_assembled_fast():
    # Long blocks of copies and calls took LLVM's optimizing code generator seconds (18 s for the
    # 2,000 copies of a 1,000-layer initializer); the parts are compiled at level 0, kernels at 3.
    tf.reset_default_graph()
    for _ in range(1200):  # an initializer of 1,200 copies: two parts
        tf.Variable(np.eye(8, dtype=np.float32))
    program = run_pipeline(lower([tf.global_variables_initializer()], {}).program)
    emitted = codegen.emit_modules(program)
    levels = {module.name: level for module, level in emitted}
    parts = [module.name for module, _ in emitted
             if any(f.name.startswith("graphc_step_part") for f in module.functions if f.blocks)]
    assert len(parts) >= 2 and {levels[name] for name in parts} == {codegen.PARTS_SPEED_LEVEL} == {0}
    assert {level for name, level in levels.items() if name not in parts} == {codegen.KERNEL_SPEED_LEVEL} == {3}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(tf.global_variables()[0]), np.eye(8, dtype=np.float32))


def test_fusion_takes_linear_work_with_many_losses():
    # Each softmax kernel looked for its partner among all kernels so far, and each variable update
    # among all the checks (the label checks of the losses) before it.
    def lines(heads):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [4, 8], name="x")
        labels = tf.placeholder(tf.int32, [4], name="labels")
        loss = 0.0
        for _ in range(heads):
            logits = tf.matmul(x, tf.Variable(np.ones((8, 3), np.float32)))
            loss += tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        feeds = {x: np.ones((4, 8), np.float32), labels: np.zeros(4, np.int32)}
        initialized = frozenset(v.op.name for v in tf.global_variables())
        program = lower([train], feed_types(feeds), initialized).program
        return _lines_executed(lambda: run_pipeline(program), [fuse])

    _assert_linear(lines(100), lines(200))
