"""plan_memory's shared storage (passes/shared_storage.py): Horovod's fused gradient buffer without copies
(each gradient computed in its place in the buffer, the allreduce in place, the update reading views of
it), and the cases where sharing would be wrong and the copies stay."""

import numpy as np
import pytest

import graphc as tf
from graphc.compiler.lower import lower
from graphc.ir.memory_plan import Location, Place
from graphc.ir.parser import parse
from graphc.ir.program import walk
from graphc.passes.pipeline import PIPELINE, run_pipeline
from graphc.passes.plan_memory import plan_memory
from tests.helpers import feed_types

# Two gradients (a [3,4] GEMM result, a [4] reduction), flattened and concatenated, allreduced, sliced
# back and applied: the shape of hvd.DistributedOptimizer's step.
FUSED_STEP = """\
program step:
  var @w: f32[3,4]
  var @b: f32[4]
  %0:f32[2,3] = feed {tensor="x:0"}
  %1:f32[2,4] = feed {tensor="dy:0"}
  %2:f32[] = constant {value=0.5}
  kernel 0 gemm:
    %3:f32[3,4] = matmul %0, %1 {transpose_a=true, transpose_b=false}
  kernel 1 reduce:
    %4:f32[4] = reduce_sum %1 {axes=[0], keepdims=false}
  kernel 2 opaque:
    %5:f32[12] = reshape %3 {shape=[-1]}
  kernel 3 opaque:
    %6:f32[16] = concat %5, %4 {axis=0}
  kernel 4 opaque:
    %7:f32[16] = mpi_allreduce %6
  kernel 5 opaque:
    %8:f32[12] = slice %7 {begin=[0], size=[12]}
  kernel 6 opaque:
    %9:f32[3,4] = reshape %8 {shape=[3, 4]}
  %10:f32[3,4] = read @w
  kernel 7 loop:
    %11:f32[3,4] = mul %2, %9
    %12:f32[3,4] = sub %10, %11
    write @w, %12
  kernel 8 opaque:
    %13:f32[4] = slice %7 {begin=[12], size=[4]}
  %14:f32[4] = read @b
  kernel 9 loop:
    %15:f32[4] = mul %2, %13
    %16:f32[4] = sub %14, %15
    write @b, %16
  fetch
"""


def _offsets(plan, *value_ids):
    locations = [plan.locations[value_id] for value_id in value_ids]
    assert all(location.place is Place.ARENA for location in locations), locations
    return [location.offset for location in locations]


def test_gradients_are_computed_in_their_places_in_the_fused_buffer_which_is_reduced_in_place():
    plan = plan_memory(parse(FUSED_STEP)).memory_plan
    buffer, = _offsets(plan, 6)
    # The GEMM writes the first 48 bytes of the buffer, the reduction the 16 after them.
    assert _offsets(plan, 3, 5, 4) == [buffer, buffer, buffer + 48]
    assert _offsets(plan, 7, 8, 9, 13) == [buffer, buffer, buffer, buffer + 48]
    # No kernel for the reshapes, the concat and the slices: no byte of a gradient is copied.
    assert plan.elided == {5, 6, 8, 9, 13}
    assert "in place, no kernel: %5, %6, %8, %9, %13" in plan.describe()


def test_the_fused_buffer_holds_its_bytes_until_the_last_view_is_read():
    plan = plan_memory(parse(FUSED_STEP)).memory_plan
    buffer, = _offsets(plan, 6)
    # Everything else the step keeps in the arena lies outside the buffer's 64 bytes (its lifetime spans
    # them all, from the GEMM to the bias update).
    others = [location.offset for value_id, location in plan.locations.items()
              if location.place is Place.ARENA and value_id not in (3, 4, 5, 6, 7, 8, 9, 13)]
    assert all(offset >= buffer + 64 or offset + 64 <= buffer for offset in others)
    assert plan.arena_bytes >= buffer + 64


def test_no_in_place_allreduce_while_a_view_of_its_operand_is_read_afterwards():
    text = FUSED_STEP.replace("  fetch\n", """\
  kernel 10 loop:
    %17:f32[12] = neg %5
  fetch %17
""")
    plan = plan_memory(parse(text)).memory_plan
    assert plan.locations[7] != plan.locations[6]   # the allreduce writes a buffer of its own
    assert 6 in plan.elided                          # the gradients still go straight into the concat's
    assert _offsets(plan, 5)[0] == _offsets(plan, 6)[0]


@pytest.mark.parametrize("operands, fetches", [
    ("%1, %0", "%3"),   # a feed lives in the caller's buffer
    ("%1, %1", "%3"),   # one value cannot be in two places
    ("%1, %4", "%3, %1"),  # a fetched value is computed into its output buffer
])
def test_a_concat_copies_when_an_operand_cannot_be_computed_in_its_place(operands, fetches):
    plan = plan_memory(parse(f"""\
program step:
  %0:f32[4] = feed {{tensor="x:0"}}
  kernel 0 loop:
    %1:f32[4] = neg %0
    %4:f32[4] = exp %0
  kernel 1 opaque:
    %2:f32[8] = concat {operands} {{axis=0}}
  kernel 2 reduce:
    %3:f32[] = reduce_sum %2 {{axes=[0], keepdims=false}}
  fetch {fetches}
""")).memory_plan
    assert not plan.elided


def test_a_slice_is_a_view_only_when_contiguous():
    # A slice of a matrix's column is not one contiguous run: it stays a copy; a row is a view.
    plan = plan_memory(parse("""\
program step:
  %0:f32[3,4] = feed {tensor="x:0"}
  kernel 0 loop:
    %1:f32[3,4] = neg %0
  kernel 1 opaque:
    %2:f32[3,1] = slice %1 {begin=[0, 2], size=[3, 1]}
  kernel 2 opaque:
    %3:f32[1,4] = slice %1 {begin=[2, 0], size=[1, 4]}
  kernel 3 loop:
    %4:f32[3,4] = mul %2, %3
  fetch %4
""")).memory_plan
    assert plan.elided == {3}
    assert _offsets(plan, 3)[0] == _offsets(plan, 1)[0] + 32


def test_a_slice_of_single_elements_then_whole_rows_is_a_view_at_its_byte_offset():
    plan = plan_memory(parse("""\
program step:
  %0:f32[3,4,5] = feed {tensor="x:0"}
  kernel 0 loop:
    %1:f32[3,4,5] = neg %0
  kernel 1 opaque:
    %2:f32[1,2,5] = slice %1 {begin=[1, 2, 0], size=[1, 2, 5]}
  kernel 2 opaque:
    %3:f32[1,1,3] = slice %1 {begin=[2, 3, 1], size=[1, 1, 3]}
  kernel 3 opaque:
    %4:f32[2,1,5] = slice %1 {begin=[0, 1, 0], size=[2, 1, 5]}
  kernel 4 loop:
    %5:f32[1,2,5] = mul %2, %3
    %6:f32[2,2,5] = add %5, %4
  fetch %6
""")).memory_plan
    assert plan.elided == {2, 3}  # %4 takes rows 1 of two matrices: not one run
    base = _offsets(plan, 1)[0]
    assert _offsets(plan, 2, 3) == [base + 4 * (1 * 20 + 2 * 5), base + 4 * (2 * 20 + 3 * 5 + 1)]


def test_a_reshaped_feed_is_the_callers_array_and_a_slice_of_it_past_its_start_a_copy():
    plan = plan_memory(parse("""\
program step:
  %0:f32[2,12] = feed {tensor="x:0"}
  kernel 0 opaque:
    %1:f32[2,3,4] = reshape %0 {shape=[2, 3, 4]}
  kernel 1 opaque:
    %2:f32[1,12] = slice %0 {begin=[1, 0], size=[1, 12]}
  kernel 2 reduce:
    %3:f32[2,3] = reduce_sum %1 {axes=[2], keepdims=false}
  kernel 3 reduce:
    %4:f32[1] = reduce_sum %2 {axes=[1], keepdims=false}
  fetch %3, %4
""")).memory_plan
    assert plan.locations[1] == plan.locations[0] == Location(Place.FEED, 0)
    assert plan.elided == {1}
    assert plan.locations[2].place is Place.ARENA


# -- epilogues in place (OpDef.epilogue_in_place): a GEMM's or convolution's bias + ReLU in the product's buffer

def _planned(fetches, feeds):
    return run_pipeline(lower(fetches, feed_types(feeds)).program)


def _instruction_of(program, op: str, nth: int = 0):
    return [inst for inst in walk(program.instructions) if inst.op == op][nth]


def _result_of(program, op: str, nth: int = 0):
    return _instruction_of(program, op, nth).result


def _dense():
    x, w, b = (tf.placeholder(tf.float32, shape) for shape in ([8, 16], [16, 32], [32]))
    product = tf.matmul(x, w)
    return product, {x: np.zeros([8, 16]), w: np.zeros([16, 32]), b: np.zeros([32])}, b


def _convolution():
    x, w, b = (tf.placeholder(tf.float32, shape) for shape in ([2, 8, 8, 16], [3, 3, 16, 16], [16]))
    product = tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    return product, {x: np.zeros([2, 8, 8, 16]), w: np.zeros([3, 3, 16, 16]), b: np.zeros([16])}, b


@pytest.mark.parametrize("build", [_dense, _convolution])
def test_an_epilogue_computes_its_value_in_the_products_buffer(build):
    product, feeds, b = build()
    activation = tf.nn.relu(product + b)
    program = _planned([tf.reduce_sum(activation, axis=0)], feeds)  # read by the next kernel: in memory
    plan = program.memory_plan
    product_id = _result_of(program, "matmul" if product.op.type == "MatMul" else "conv2d").id
    relu_id = _result_of(program, "relu").id
    assert plan.locations[relu_id].place is Place.ARENA
    assert plan.locations[relu_id] == plan.locations[product_id]  # one buffer, not two


def test_an_epilogue_keeps_a_buffer_of_its_own_while_the_product_is_read_after_its_kernel():
    product, feeds, b = _dense()
    activation = tf.nn.relu(product + b)
    program = _planned([tf.reduce_sum(activation, axis=0), tf.reduce_sum(product, axis=1)], feeds)
    plan = program.memory_plan
    assert plan.locations[_result_of(program, "relu").id] != plan.locations[_result_of(program, "matmul").id]


def test_only_an_epilogue_value_of_the_products_element_size_and_only_one_takes_its_buffer():
    product, feeds, b = _dense()
    biased = product + b
    wide = tf.cast(product, tf.float64)  # 8 bytes an element: it would overwrite elements not yet read
    program = _planned([tf.reduce_sum(biased, axis=0), tf.reduce_sum(tf.nn.relu(biased), axis=0),
                        tf.reduce_sum(wide, axis=0)], feeds)
    plan = program.memory_plan
    locations = [plan.locations[_result_of(program, op).id] for op in ("matmul", "add", "relu", "cast")]
    assert locations[1] == locations[0]
    assert len(set(locations)) == 3  # relu and the cast in buffers of their own


def test_a_fetched_product_is_not_overwritten():
    product, feeds, b = _dense()
    activation = tf.nn.relu(product + b)
    program = _planned([tf.reduce_sum(activation, axis=0), product], feeds)
    plan = program.memory_plan
    assert plan.locations[_result_of(program, "matmul").id].place is Place.OUTPUT
    assert plan.locations[_result_of(program, "relu").id].place is Place.ARENA


def test_a_fetched_epilogue_value_has_the_product_computed_in_its_output_buffer():
    product, feeds, b = _dense()
    program = _planned([tf.nn.relu(product + b)], feeds)
    plan = program.memory_plan
    assert plan.locations[_result_of(program, "matmul").id] == plan.locations[_result_of(program, "relu").id] == \
        Location(Place.OUTPUT, 0)
    assert plan.arena_bytes == 0


def test_the_deep_mnist_evaluation_at_batch_10000_needs_a_fifth_of_the_arena():
    """TensorFlow's "Deep MNIST for Experts" evaluated on the 10,000 test images in one batch: its
    arena was 2,038 MB (conv1's 1,003.5 MB product and its bias + ReLU output both live in the conv
    kernel, and a 31 MB copy of the images reshaped), then 1,254 MB with the ReLU in the product's
    buffer and the reshaped images the fed array itself. With each convolution, its bias and ReLU and
    the max-pool after them one kernel (passes/fuse.py's conv_max_pool: nothing else reads the ReLU in
    evaluation), no product has a buffer: the peak is the two pools' outputs, live together in the
    second convolution's kernel, and its blocks."""
    batch = 10_000
    x, y_ = tf.placeholder(tf.float32, [None, 784]), tf.placeholder(tf.float32, [None, 10])
    keep_prob = tf.placeholder(tf.float32)

    def weights(*shape):
        return tf.Variable(tf.truncated_normal(shape, stddev=0.1))

    def layer(h, kernel_shape):
        convolved = tf.nn.conv2d(h, weights(*kernel_shape), [1, 1, 1, 1], "SAME")
        return tf.nn.max_pool(tf.nn.relu(convolved + weights(kernel_shape[-1])), [1, 2, 2, 1], [1, 2, 2, 1], "SAME")

    h_pool2 = layer(layer(tf.reshape(x, [-1, 28, 28, 1]), [5, 5, 1, 32]), [5, 5, 32, 64])
    h_fc1 = tf.nn.relu(tf.matmul(tf.reshape(h_pool2, [-1, 7 * 7 * 64]), weights(7 * 7 * 64, 1024)) + weights(1024))
    y_conv = tf.matmul(tf.nn.dropout(h_fc1, keep_prob=keep_prob), weights(1024, 10)) + weights(10)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1)), tf.float32))
    feeds = {x: np.empty([batch, 784], np.float32), y_: np.empty([batch, 10], np.float32), keep_prob: 1.0}
    program = lower([accuracy], feed_types(feeds), frozenset(v.op.name for v in tf.global_variables())).program
    for name, run_pass in PIPELINE:
        if not name.startswith("check_"):  # shapes only: no need for the machine to hold 2 GB
            program = run_pass(program)
    plan = program.memory_plan
    for nth in (0, 1):
        assert program.kernels[_instruction_of(program, "conv2d", nth).kernel] == "conv_max_pool"
        assert not plan.in_memory(_result_of(program, "conv2d", nth).id)
        assert not plan.in_memory(_result_of(program, "relu", nth).id)
    pool1_bytes, pool2_bytes = batch * 14 * 14 * 32 * 4, batch * 7 * 7 * 64 * 4
    # 376.3 MB and conv2's blocks and padded images (16 tasks: 0.8 MB and 0.2 MB): 0.30 of the 1,254 MB before.
    assert pool1_bytes + pool2_bytes <= plan.arena_bytes < pool1_bytes + pool2_bytes + 2_000_000
