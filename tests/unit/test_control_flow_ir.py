"""Control flow in the IR, no LLVM: while/cond lowered to structured instructions with regions, their text
round-trip, the verifier, every pass on programs with loops, and the reference interpreter running them."""

import collections

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.core import dtypes
from graphc.ir.interpreter import interpret
from graphc.ir.memory_plan import Place
from graphc.ir.parser import parse
from graphc.ir.printer import print_program
from graphc.ir.program import Instruction, IRType, Program, walk
from graphc.ir.verifier import VerificationError, verify
from graphc.passes.pipeline import PIPELINE, run_pipeline
from tests.helpers import interpret_graph


def _lowered(fetches, feeds):
    types = collections.OrderedDict((t, IRType(t.dtype, np.shape(v))) for t, v in feeds.items())
    return lower(fetches, types).program


def _loop_program():
    """A loop whose body computes the same thing twice, folds constants and leaves dead code."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [4], name="x")

        def body(i, y):
            scale = tf.constant(2.0) * tf.constant(3.0)  # folded to 6.0 in the body
            # tanh(y) twice: CSE merges them; * 1.0 is simplified away, leaving its constant dead
            return i + 1, (tf.tanh(y) * scale + tf.tanh(y)) * tf.constant(1.0)

        _, y = tf.while_loop(lambda i, y: i < 3, body, [tf.constant(0), x])
        c = tf.cond(tf.reduce_sum(y) > 0.0, lambda: y * 2.0, lambda: y - x)
        return _lowered([y, c], {x: np.zeros(4, np.float32)})


def _body(program: Program):
    loop = next(inst for inst in program.instructions if inst.op == "while")
    return loop.regions[1]


def test_lowering_makes_one_structured_instruction_per_loop_and_cond():
    program = verify(_loop_program())
    structured = [inst for inst in program.instructions if inst.regions]
    assert [inst.op for inst in structured] == ["while", "cond"]
    loop, branch = structured
    assert [r.name for r in loop.regions] == ["cond", "body"]
    assert [r.name for r in branch.regions] == ["then", "else"]
    assert loop.attrs["carried"] == 3 and len(loop.outputs) == 3 and loop.result is None  # the counter first
    params = [inst for inst in loop.regions[1].instructions if inst.op == "param"]
    assert [p.attrs["index"] for p in params] == [0, 1, 2]


def test_text_round_trips_with_regions_before_and_after_the_pipeline():
    program = _loop_program()
    for stage in (program, run_pipeline(program).replace(memory_plan=None)):
        text = print_program(stage, full=True)
        assert print_program(parse(text), full=True) == text
        verify(parse(text))
    assert "    body:\n" in print_program(program)
    assert "yield" in print_program(program)


def test_parsed_program_computes_what_the_lowered_one_does():
    program = _loop_program()
    feeds = {"x:0": np.array([0.5, -1.0, 2.0, 0.0], np.float32)}
    expected, _ = interpret(program, feeds, {})
    again, _ = interpret(parse(print_program(program, full=True)), feeds, {})
    for a, b in zip(expected, again):
        np.testing.assert_array_equal(a, b)


def _with_body(program, change):
    loop = next(inst for inst in program.instructions if inst.op == "while")
    changed = loop.replace(regions=(loop.regions[0], change(loop.regions[1])))
    return program.replace(instructions=tuple(changed if i is loop else i for i in program.instructions))


def test_verifier_refuses_a_region_using_an_outside_value():
    program = _loop_program()
    feed = program.instructions[0].result  # defined outside the loop
    program, value = program.new_value(feed.type)
    outside_use = Instruction("tanh", value, (feed,))
    broken = _with_body(program, lambda body: body.replace(instructions=body.instructions + (outside_use,)))
    with pytest.raises(VerificationError, match="before it is defined"):
        verify(broken)


def test_verifier_refuses_a_body_yielding_the_wrong_type():
    broken = _with_body(_loop_program(), lambda body: body.replace(results=body.results[:1] * 3))
    with pytest.raises(VerificationError, match="body yields"):
        verify(broken)


def test_passes_fold_merge_and_drop_dead_code_inside_a_loop_body():
    program = _loop_program()
    body_ops = [inst.op for inst in _body(program).instructions]
    assert body_ops.count("tanh") == 2 and body_ops.count("mul") == 3
    optimized = run_pipeline(program)
    verify(optimized)
    body = _body(optimized)
    ops = [inst.op for inst in body.instructions]
    assert ops.count("tanh") == 1, ops  # CSE inside the body
    assert ops.count("mul") == 1, ops  # 2 * 3 folded, * 1 simplified away
    constants = [float(inst.attrs["value"]) for inst in body.instructions
                 if inst.op == "constant" and inst.result.type.dtype is dtypes.float32]
    assert 6.0 in constants and 1.0 not in constants and 2.0 not in constants  # folded; the dead ones dropped


def test_fusion_forms_kernels_inside_regions_with_program_wide_numbers():
    optimized = run_pipeline(_loop_program())
    kinds = optimized.kernels
    assert "while" in kinds.values() and "cond" in kinds.values()
    numbers = [inst.kernel for inst in walk(optimized.instructions) if inst.kernel is not None]
    assert set(numbers) == set(kinds)
    body = _body(optimized).instructions
    body_kernels = {inst.kernel for inst in body if inst.kernel is not None}
    assert body_kernels and all(kinds[k] == "loop" for k in body_kernels)
    # tanh, mul and add of the body are one fused loop kernel (the two counters' adds are scalar kernels)
    tanh_kernel = next(inst.kernel for inst in body if inst.op == "tanh")
    assert sorted(inst.op for inst in body if inst.kernel == tanh_kernel) == ["add", "mul", "tanh"]


def test_memory_plan_gives_params_the_buffers_of_loop_variables_and_captures():
    optimized = run_pipeline(_loop_program())
    plan = optimized.memory_plan
    loop = next(inst for inst in optimized.instructions if inst.op == "while")
    for region in loop.regions:
        for param in (i for i in region.instructions if i.op == "param"):
            index = param.attrs["index"]
            source = loop.outputs[index] if index < loop.attrs["carried"] else loop.operands[index]
            assert plan.locations[param.result.id] == plan.locations[source.id]
            assert plan.aliases[param.result.id] == source.id


def test_each_pass_keeps_the_program_computing_the_same():
    program = _loop_program()
    feeds = {"x:0": np.array([0.5, -1.0, 2.0, 0.0], np.float32)}
    expected, _ = interpret(program, feeds, {})
    for name, run_pass in PIPELINE:
        program = run_pass(program)
        verify(program)
        got, _ = interpret(program, feeds, {})
        for a, b in zip(expected, got):
            np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)


def test_unused_saved_rows_are_dropped():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, y * 2.0), [0, x], maximum_iterations=5)
        program = _lowered([y], {x: np.zeros(2, np.float32)})
    loop = next(inst for inst in program.instructions if inst.op == "while")
    assert loop.attrs["saved"] == (1, 2) and len(loop.outputs) == 5  # counter, i, y, then rows of i and y
    optimized = run_pipeline(program)
    loop = next(inst for inst in optimized.instructions if inst.op == "while")
    assert "saved" not in loop.attrs and len(loop.outputs) == 3


def test_interpreter_runs_loops_in_loops_and_conds_in_loops():
    with tf.Graph().as_default():
        n = tf.placeholder(tf.int32, [], name="n")

        def outer(j, acc):
            inner = tf.while_loop(lambda k, s: k < j, lambda k, s: (k + 1, s + tf.cast(k, tf.float32)), [0, 0.0])[1]
            return j + 1, tf.cond(j % 2 > 0, lambda: acc + inner, lambda: acc - inner)

        _, total = tf.while_loop(lambda j, a: j < n, outer, [0, 0.0])
        expected = sum((1 if j % 2 else -1) * sum(range(j)) for j in range(6))
        assert interpret_graph([total], {n: 6})[0] == pytest.approx(expected)


def test_while_loop_returns_tf1_structures():
    with tf.Graph().as_default():
        Pair = collections.namedtuple("Pair", "a b")
        result = tf.while_loop(lambda p, q: p.a < 4, lambda p, q: (Pair(p.a + 1, p.b * 2.0), [q[0] + 1.0]),
                               [Pair(tf.constant(0), tf.constant(1.0)), [tf.constant(0.0)]])
        assert isinstance(result[0], Pair) and isinstance(result[1], list)
        values = interpret_graph([result[0].a, result[0].b, result[1][0]])
        assert [float(v) for v in values] == [4.0, 16.0, 4.0]
        single = tf.while_loop(lambda v: v < 10, lambda v: v + 3, tf.constant(1))
        assert isinstance(single, tf.Tensor) and interpret_graph([single])[0] == 10
        one = tf.while_loop(lambda v: v < 10, lambda v: [v + 3], [tf.constant(1)])
        assert isinstance(one, tf.Tensor)  # TF1: one loop variable comes back alone


def test_shape_changing_loop_variable_needs_shape_invariants():
    with tf.Graph().as_default():
        x = tf.ones([2])
        with pytest.raises(ValueError, match="shape_invariants"):
            tf.while_loop(lambda v: tf.reduce_sum(v) < 10, lambda v: tf.concat([v, v], 0), [x])
        limit = tf.placeholder(tf.float32, [])  # a trip count known when the run starts only: not expanded
        grown = tf.while_loop(lambda v: tf.reduce_sum(v) < limit, lambda v: tf.concat([v, v], 0), [x],
                              shape_invariants=[tf.TensorShape([None])])
        assert grown.shape.as_list() == [None]
        with pytest.raises(tf.errors.UnimplementedError, match="one buffer of one shape"):
            lower([grown], {limit: IRType(tf.float32, ())})


def test_cond_takes_captured_tensors_and_nested_structures():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3], name="x")
        out = tf.cond(x[0] > 0, lambda: {"a": x * 2.0, "b": (x[1], 1.0)}, lambda: {"a": -x, "b": (x[2], 2.0)},
                      name="pick")
        assert set(out) == {"a", "b"} and out["a"].op.name == "pick/If"
        values = interpret_graph([out["a"], out["b"][0], out["b"][1]], {x: [1.0, 2.0, 3.0]})
        np.testing.assert_array_equal(values[0], [2.0, 4.0, 6.0])
        assert (float(values[1]), float(values[2])) == (2.0, 1.0)
        values = interpret_graph([out["a"], out["b"][0]], {x: [-1.0, 2.0, 3.0]})
        np.testing.assert_array_equal(values[0], [1.0, -2.0, -3.0])
        assert float(values[1]) == 3.0


def test_cond_refuses_what_tf_refuses():
    with tf.Graph().as_default():
        with pytest.raises(TypeError):
            tf.cond(tf.constant(1), lambda: 1.0, lambda: 2.0)
        with pytest.raises(ValueError):
            tf.cond(tf.constant([True, False]), lambda: 1.0, lambda: 2.0)
        with pytest.raises(ValueError):
            tf.cond(tf.constant(True), lambda: (1.0, 2.0), lambda: 1.0)
        with pytest.raises(TypeError):
            tf.cond(tf.constant(True), 1.0, lambda: 1.0)


def test_case_picks_the_first_true_predicate_else_the_default():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [], name="x")
        r = tf.case([(tf.equal(x, 1), lambda: tf.constant(10)), (tf.greater(x, 0), lambda: tf.constant(20))],
                    default=lambda: tf.constant(30))
        assert [int(interpret_graph([r], {x: v})[0]) for v in (1, 2, -1)] == [10, 20, 30]


def test_row_read_fails_for_an_index_out_of_range():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3, 2], name="x")
        i = tf.placeholder(tf.int32, [], name="i")
        np.testing.assert_array_equal(interpret_graph([x[i]], {x: np.arange(6.0).reshape(3, 2), i: 2})[0], [4, 5])
        with pytest.raises(tf.errors.InvalidArgumentError):
            interpret_graph([x[i]], {x: np.zeros((3, 2)), i: 3})


def test_program_types_are_static():
    program = _loop_program()
    loop = next(inst for inst in program.instructions if inst.op == "while")
    assert loop.outputs[2].type == IRType(dtypes.float32, (4,))  # after the counter and i


def test_a_cond_on_a_constant_predicate_folds_to_the_branch_taken():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3], name="x")
        training = tf.constant(False)
        y = tf.cond(training, lambda: tf.nn.relu(x), lambda: x * 0.5)
        program = _lowered([y], {x: np.zeros(3, np.float32)})
    folded = run_pipeline(program)
    assert not any(inst.regions for inst in folded.instructions)
    assert [inst.op for inst in folded.instructions if inst.kernel is not None] == ["mul"]
    got, _ = interpret(folded, {"x:0": np.array([1.0, -2.0, 4.0], np.float32)}, {})
    np.testing.assert_array_equal(got[0], [0.5, -1.0, 2.0])


def test_nested_conds_on_constants_fold_through_each_other():
    with tf.Graph().as_default():
        r = tf.case([(tf.constant(False), lambda: tf.constant(1)), (tf.constant(True), lambda: tf.constant(2))],
                    default=lambda: tf.constant(3))
        folded = run_pipeline(_lowered([r], {}))
    verify(folded)
    assert not any(inst.regions for inst in folded.instructions)
    assert int(interpret(folded, {}, {})[0][0]) == 2


def test_a_loop_without_a_gradient_drops_its_unused_counter():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        y = tf.while_loop(lambda v: tf.reduce_sum(v) < 100.0, lambda v: v * 2.0, [x])
        program = _lowered([y], {x: np.ones(2, np.float32)})
    assert next(i for i in program.instructions if i.op == "while").attrs["carried"] == 2
    optimized = verify(run_pipeline(program))
    loop = next(i for i in optimized.instructions if i.op == "while")
    assert loop.attrs["carried"] == 1 and len(loop.outputs) == 1
    got, _ = interpret(optimized, {"x:0": np.array([1.0, 2.0], np.float32)}, {})
    np.testing.assert_array_equal(got[0], [64.0, 128.0])


def test_a_variable_made_in_a_loop_body_lives_outside_once_with_tf1s_name():
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [5, 2, 3], name="x")

        def body(t, h):
            with tf.variable_scope("cell", reuse=tf.AUTO_REUSE):
                w = tf.get_variable("kernel", [6, 3], initializer=tf.ones_initializer())
            return t + 1, tf.tanh(tf.matmul(tf.concat([x[t], h], 1), w))

        with tf.variable_scope("rnn"):
            tf.while_loop(lambda t, h: t < 5, body, [0, tf.zeros([2, 3])])
        (variable,) = tf.global_variables()
        assert variable.name == "rnn/cell/kernel:0" and variable.graph is graph


def _tanh_matmul_loop(with_gradient: bool):
    """y <- tanh(y @ w), 3 times: the gradient reads tanh's result and the loop's y of each iteration."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 3], name="x")
        w = tf.constant(np.full((3, 3), 0.1, np.float32))
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.tanh(tf.matmul(y, w))), [0, x],
                             maximum_iterations=3)
        fetches = [y] + (tf.gradients(tf.reduce_sum(y), [x]) if with_gradient else [])
        return run_pipeline(_lowered(fetches, {x: np.zeros((2, 3), np.float32)}))


def _ops_in(region) -> collections.Counter:
    return collections.Counter(inst.op for inst in walk(region.instructions))


def test_the_gradient_loop_reads_the_values_the_forward_loop_stashes_instead_of_recomputing_them():
    program = _tanh_matmul_loop(with_gradient=True)
    forward, backward = [inst for inst in program.instructions if inst.op == "while"]
    assert forward.attrs["stashed"] == 1  # tanh's result, a row per iteration
    assert forward.outputs[-1].type == IRType(dtypes.float32, (3, 2, 3))
    assert _ops_in(forward.regions[1])["matmul"] == 1
    # The backward body multiplies the gradient by w (the loop variable's gradient) and by the saved y (w's
    # is not asked for): no forward matmul, no tanh computed again.
    body = _ops_in(backward.regions[1])
    assert body["tanh"] == 0 and body["row_read"] >= 1


def test_a_step_without_the_gradient_stashes_nothing():
    program = _tanh_matmul_loop(with_gradient=False)
    (loop,) = [inst for inst in program.instructions if inst.op == "while"]
    assert "stashed" not in loop.attrs and "saved" not in loop.attrs


def test_the_lstm_gradient_stashes_only_the_rows_it_reads():
    """BasicLSTMCell's gradient touches more forward values than it reads: the split's gradient and the
    TensorArray write's read only their shapes. Its row reads are in range by construction (`in_range`), so
    dead-code elimination drops the unused ones and the forward loop stashes nothing for them: the [x, h]
    concat, the three sigmoids, tanh(j) and tanh(c) (not the [batch, 4 units] gates, their four slices, the
    input row, h and the products f c and i j), plus the saved c."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3, 5, 4], name="x")
        _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(6), x, dtype=tf.float32)
        loss = tf.reduce_sum(state.h)
        gradients = tf.gradients(loss, [x] + tf.trainable_variables())
        program = run_pipeline(_lowered(gradients, {x: np.zeros((3, 5, 4), np.float32)}))
    forward, backward = [inst for inst in program.instructions if inst.op == "while"]
    assert forward.attrs["stashed"] == 6 and len(forward.attrs["saved"]) == 1
    used = {v.id for inst in walk(backward.regions[1].instructions) for v in inst.values}
    used |= {v.id for v in backward.regions[1].results}
    reads = [inst for inst in walk(backward.regions[1].instructions) if inst.op == "row_read"]
    assert all(inst.result.id in used for inst in reads)
    assert sum(1 for inst in reads if inst.attrs.get("in_range")) == 7  # the stashed rows and c's


def _lstm_gradient_program():
    """The pipeline's program of a small LSTM's (batch 3, 5 steps, 4 inputs, 6 units) weight gradients."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3, 5, 4], name="x")
        _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(6), x, dtype=tf.float32)
        gradients = tf.gradients(tf.reduce_sum(state.h), tf.trainable_variables())
        return run_pipeline(_lowered(gradients, {x: np.zeros((3, 5, 4), np.float32)}))


def test_the_lstm_gradients_elementwise_work_is_one_kernel():
    """The gradient body's row reads of the stashes are views placed right after their index
    (place_free_computations), so the elementwise work reading them fuses into one loop kernel."""
    program = _lstm_gradient_program()
    backward = [inst for inst in program.instructions if inst.op == "while"][1]
    body = backward.regions[1].instructions
    cell_kernels = {inst.kernel for inst in body if inst.kernel is not None and inst.result.type.shape == (3, 6)
                    and program.kernels[inst.kernel] == "loop"}
    assert len(cell_kernels) == 1
    # The four gate gradients are stored in place into their concat (OpDef.strided_pieces): no copy.
    (concat,) = [inst for inst in body if inst.op == "concat" and inst.result.type.shape == (3, 24)]
    assert concat.kernel in cell_kernels


def test_the_lstm_forward_gate_slices_and_their_work_are_one_loop_kernel():
    """The four column slices of the gates (OpDef.strided_read) copy nothing: they join one loop kernel
    with the cell's elementwise work, which reads them in place, and the plan keeps them in registers."""
    program = _lstm_gradient_program()
    forward = [inst for inst in program.instructions if inst.op == "while"][0]
    body = forward.regions[1].instructions
    slices = [inst for inst in body if inst.op == "slice"]
    assert len(slices) == 4 and {program.kernels[inst.kernel] for inst in slices} == {"loop"}
    cell_kernels = {inst.kernel for inst in body if inst.kernel is not None and inst.result.type.shape == (3, 6)}
    assert len(cell_kernels) == 1
    registers = {inst.result.id for inst in slices
                 if program.memory_plan.locations[inst.result.id].place is Place.REGISTER}
    assert registers == {inst.result.id for inst in slices}


def test_stashed_rows_round_trip_through_text_and_interpret_as_before():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 3], name="x")
        w = tf.constant(np.full((3, 3), 0.1, np.float32))
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.tanh(tf.matmul(y, w))), [0, x],
                             maximum_iterations=3)
        (g,) = tf.gradients(tf.reduce_sum(y), [x])
        program = _lowered([y, g], {x: np.zeros((2, 3), np.float32)})
    text = print_program(program, full=True)
    assert "stashed=" in text and print_program(parse(text), full=True) == text
    verify(parse(text))
    feeds = {"x:0": np.arange(6, dtype=np.float32).reshape(2, 3) / 6}
    (value, grad), _ = interpret(parse(text), feeds, {})
    expected, local = feeds["x:0"], []
    for _ in range(3):
        expected = np.tanh(expected @ np.full((3, 3), 0.1, np.float32))
        local.append(expected)
    upstream = np.ones((2, 3), np.float32)
    for t in reversed(local):
        upstream = (upstream * (1 - t * t)) @ np.full((3, 3), 0.1, np.float32).T
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(grad, upstream, rtol=1e-5)


def test_captured_values_no_region_needs_are_dropped():
    # The LSTM's gradient loop reads some gates only for their shapes: the forward loop must not stash them.
    with tf.Graph().as_default():
        p = tf.placeholder(tf.bool, [], name="p")
        x = tf.placeholder(tf.float32, [3], name="x")
        c = tf.cond(p, lambda: tf.zeros_like(x) + tf.cast(tf.size(x), tf.float32), lambda: tf.ones([3]))
        program = run_pipeline(_lowered([c], {p: np.array(True), x: np.zeros(3, np.float32)}))
    (branch,) = [inst for inst in program.instructions if inst.op == "cond"]
    assert len(branch.operands) == 1  # the predicate: x entered only for its shape
    verify(program)
    assert interpret(program, {"p:0": np.array(True), "x:0": np.zeros(3, np.float32)}, {})[0][0].tolist() == [3.0] * 3
    forward = next(inst for inst in _tanh_matmul_loop(with_gradient=True).instructions if inst.op == "while")
    assert len(forward.outputs) == forward.attrs["carried"] + len(forward.attrs.get("saved", ())) + 1


def test_the_gradient_loop_computes_no_gradient_for_inputs_no_x_reaches():
    # dynamic_rnn's inputs are a placeholder: tf.gradients for the cell's variables tells the loop's
    # gradient (Operation.skip_input_indices) not to sum their gradient, nor concat's to slice it out.
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 4, 3], name="x")
        _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(5), x, dtype=tf.float32)
        grads = tf.gradients(tf.reduce_sum(state.h), tf.trainable_variables())
        (grad_x,) = tf.gradients(tf.reduce_sum(state.h), [x])
        program = run_pipeline(_lowered(grads, {x: np.zeros((2, 4, 3), np.float32)}))
        with_x = run_pipeline(_lowered(grads + [grad_x], {x: np.zeros((2, 4, 3), np.float32)}))
    x_rows = IRType(dtypes.float32, (4, 2, 3))  # the time-major input's gradient, a row per step
    backward = [inst for inst in program.instructions if inst.op == "while"][1]
    assert x_rows not in [v.type for v in backward.outputs]
    # dh only: the product with the kernel's h rows (sliced once, before the loop), not d[x, h] sliced.
    body = list(walk(backward.regions[1].instructions))
    assert not any(inst.op == "slice" for inst in body)
    assert sorted(inst.result.type.shape for inst in body if inst.op == "matmul") == [(2, 5), (8, 20)]
    backwards = [inst for inst in with_x.instructions if inst.op == "while"][1:]  # one per tf.gradients
    assert any(x_rows in [v.type for v in backward.outputs] for backward in backwards)


def test_an_lstm_step_fetching_the_last_h_only_carries_no_tensor_array():
    """The outputs' TensorArray nothing reads goes (its writes at the counter are in range:
    passes/bound_counter_rows.py), and so does its gradient, zeros from start to end
    (passes/constant_loop_variables.py)."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3, 5, 4], name="x")
        _, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(6), x, dtype=tf.float32)
        gradients = tf.gradients(tf.reduce_sum(state.h), [x] + tf.trainable_variables())
        program = run_pipeline(_lowered(gradients, {x: np.zeros((3, 5, 4), np.float32)}))
    forward, backward = [inst for inst in program.instructions if inst.op == "while"]
    rows = [v.type.shape for loop in (forward, backward) for v in loop.outputs[:loop.attrs["carried"]]]
    assert (5, 3, 6) not in rows
    # The row writes left build dx, in the gradient loop.
    assert not any(inst.op == "row_write" and inst.result.type.shape == (5, 3, 6) for inst in walk(program.instructions))


def test_a_row_write_outside_loops_keeps_its_gradients_bounds_checks():
    """Outside a loop's gradient nothing orders the forward write (whose check would fail first) before
    its gradient's row read and write: they keep their checks."""
    from graphc.ops.control_flow_ops import write_row
    with tf.Graph().as_default():
        buffer = tf.placeholder(tf.float32, [4, 2], name="buffer")
        value = tf.placeholder(tf.float32, [2], name="value")
        index = tf.placeholder(tf.int32, [], name="index")
        written = write_row(buffer, index, value)
        gradients = tf.gradients(tf.reduce_sum(written * written), [buffer, value])
        program = _lowered(gradients, {buffer: np.zeros((4, 2), np.float32), value: np.zeros(2, np.float32),
                                       index: np.int32(1)})
    rows = [inst for inst in walk(program.instructions) if inst.op in ("row_read", "row_write")]
    assert len(rows) == 3 and not any(inst.attrs.get("in_range") for inst in rows)
