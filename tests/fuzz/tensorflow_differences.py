"""Where graphc and TensorFlow 2.21 legitimately differ, in one place, each with the reason.

The TensorFlow oracle (tests/fuzz/tensorflow_oracle.py) holds graphc to TF's
answers everywhere else: values within float tolerance scaled by how well
conditioned each element is, NaN where TF has NaN, infinities and the signs of
zeros as TF gives them, and the same exception class.
"""

from __future__ import annotations

# Ops the fuzzer does not put into graphs that TensorFlow runs too.
NOT_IN_TENSORFLOW_GRAPHS: dict[str, str] = {
    **{name: "random numbers: graphc's counter-based Philox stream is deterministic and keyed by op seed and "
             "step, but it is not TF's bit stream (TF 2.21's RandomUniform(seed=3, seed2=0)[0] is 0.1274, "
             "graphc's 0.4620); both are checked against the reference interpreter"
       for name in ("random_uniform", "random_normal", "truncated_normal")},
    "log_uniform_sampled": "candidate sampling draws from graphc's Philox stream, not TF's, and is one op of "
                           "graphc's form (ids and the number of draws) where TF's LogUniformCandidateSampler "
                           "also computes expected counts",
    **{name: "Horovod's collectives: not TensorFlow's ops (checked on 2 MPI ranks against the reference "
             "interpreter by tests/e2e/test_data_parallel.py)"
       for name in ("mpi_allreduce", "mpi_allgather", "mpi_broadcast")},
    **{name: "control flow: a While's or If's functions do not travel in graph descriptions; TF's answers "
             "are pinned by tests/backend/test_control_flow_compiled.py"
       for name in ("while", "cond")},
}

# After a run that failed (a CheckNumerics or label check raised), TF1 has already run whichever
# assignments its executor scheduled before the failing op: the variables' state is a race. graphc
# runs the ops that may fail before the writes (a failed run leaves the variables as they were, which
# the reference oracle checks). So after a failed state-mode run only the exception class is compared
# with TF, and TF's later runs of that graph are not (their variables started elsewhere).
STATE_AFTER_A_FAILED_RUN = "TF1 leaves it to the executor's schedule; graphc keeps the variables as they were"

# TF 2.21's MirrorPadGrad kernel requires before + after < the size of every axis of its input, so it
# fails ("Total paddings must be less than the input dimension size: 0 was not less than 0") on an axis
# of size 0 even with no padding, including in the gradient tf.gradients builds for MirrorPad itself;
# graphc gives the empty result. TF-oracle graphs have no mirror_pad_grad of a tensor with an empty
# axis and, in gradient modes, no mirror_pad of one.
MIRROR_PAD_GRAD_OF_AN_EMPTY_AXIS = "TF's kernel rejects an empty axis; graphc returns the empty gradient"

# TF's CPU kernels run with the x86 flush-to-zero and denormals-are-zero modes on (its executor sets
# them for every op): a subnormal input counts as zero (sign(1e-45) is 0.0, 1e-45 > 0 is False) and a
# subnormal result becomes zero (1 / 3e38 is 0.0 in float32, floordiv(-1, 3e38) is -0.0, not -1).
# graphc computes with IEEE subnormals. So TF-oracle feeds have no subnormals and no values whose
# reciprocals or halves are (context.WIDE_SPECIALS), and graphc's subnormal results count as zeros of
# their sign when compared with TF's. A subnormal intermediate that a discontinuous op (floor, sign, a
# comparison) turns into a large difference can still show up; it is this difference, not a bug.
SUBNORMALS = "TF flushes them to zero; graphc keeps them"

# graphc's gradient rules build other (equally exact) graphs than TF's: a zero gradient may be -0.0 in
# one and +0.0 in the other (TF's SigmoidGrad of a +0 upstream gradient, graphc's product of a -0 one).
# The gradients' values, NaNs and infinities are compared; the signs of their zeros are not.
GRADIENT_ZERO_SIGNS = "different gradient graphs; the sign of a zero gradient carries no meaning"

# TF1 leaves a read of a variable and a write of it in one run unordered unless an edge orders them (a
# race); graphc orders the reads before the writes they do not depend on, and copies a fetched reference
# out after the run (compiler/lower.py). The TF worker adds those edges (each read is a Snapshot that the
# variable's assignments wait for) and answers a fetched read with the variable after the run, so TF
# computes what graphc promises rather than whatever its scheduler picks.
READS_BESIDE_WRITES = "TF1 races; the worker orders them as graphc does (tests/fuzz/tensorflow_worker.py)"

# TF 2.21's float32 reductions over an outer axis accumulate sequentially: reduce_mean over axis 0 of
# [42858, 7] values in [1000, 1001] is off by 3.1e-4 of the exact mean ([142857, 7]: 4.4e-5; [1000, 1000]
# over axis 0: 4e-7; a whole [10^6] vector: 1e-8). Its float32 intermediates also overflow where graphc's
# do not (SigmoidGrad of y = -1e30; a cumprod of 5e37, -1e30 and 0 is NaN in TF, -0.0 in graphc, which multiplies
# in float64). So where graphc's finite float32 value is no further than TF's from the float64 reference (or
# near it where TF's is NaN), TF is the one that is off; a long reduction must be within 1e-6 of the exact
# value or no further from it than TF's (tensorflow_oracle.compare's truth). TF's vector code is also off
# by an ulp where graphc rounds correctly (1 / (sigmoid(-0.0) + 0.5) is 0.99999994 at a place of Eigen's
# vectors, 1.0 in its scalar tail), and a cancellation after it (SigmoidGrad's 1 - y) turns that ulp into any
# value: where graphc's value is exactly the float64 reference's, infinities included, it stands.
TENSORFLOW_LESS_ACCURATE = "TF's float32 column sums and intermediates; the float64 reference decides"

# The sign of a sum whose every term is -0.0: TF 2.21's reduce_sum starts from +0.0 and gives +0.0
# (reduce_sum of four -0.0 is 0.0) except where the reduction is a copy (reduce_sum of [-0.0] over its
# one element is -0.0). Its products do the same: a MatMul whose K products are all -0.0 gives +0.0 (3x3x3),
# a BatchMatMulV2 with K = 1 gives -0.0 (the product copied). graphc sums from -0.0 and gives IEEE
# addition's -0.0 everywhere. The signs of zero sums, means and products that are fetched (and of a gradient
# mode's loss, a sum of sums) are not compared; their values, NaNs and infinities are.
SUMS = ("Sum", "Mean", "MatMul", "BatchMatMulV2")
ZERO_SIGN_OF_SUMS = "TF's sign of an all -0.0 sum depends on whether it reduces or copies"

# TF's graph optimizer (grappler) rewrites what it runs: Log(Softmax(x)) becomes LogSoftmax(x) (-5e37 where
# the log of an underflowed softmax is -inf), x * 1 and x + 0 may go. graphc runs the ops as written, and so
# does the TF worker: it turns grappler off.
GRAPPLER = "TF rewrites graphs; the worker runs TF's ops as written"

# TF 2.21's Relu, Maximum and Minimum give a zero's sign by the element's place in Eigen's vectors: in a
# whole vector they order -0.0 below +0.0 (relu(-0.0) and maximum(-0.0, 0.0) are 0.0, minimum(0.0, -0.0)
# is -0.0); in the tail past the last whole vector a tie gives the first operand (relu(-0.0) is -0.0,
# maximum(-0.0, 0.0) is -0.0): float32 relu of [-0.0] * 9 is eight 0.0 and one -0.0, of [-0.0] * 7 seven
# -0.0. graphc gives the whole vectors' answer everywhere. reduce_max and reduce_min break a tie of zeros by
# the order they combine vector lanes in: of [-0.0] * 16 + [0.0] the maximum is 0.0, of [-0.0] * 8 + [0.0] +
# [-0.0] * 8 it is -0.0. The signs of these ops' fetched zeros are not compared, nor of the ops of one input
# that pass them on (selu(relu(x)): tests/fuzz/oracle._zero_sign_from).
PLACE_DEPENDENT_ZERO_SIGNS = ("Relu", "Maximum", "Minimum", "Max", "Min")

# Activation gradients whose zeros take their sign from their first input, the upstream gradient (it is
# passed on, or scaled by a positive factor): EluGrad(relu(x), y) passes relu's place-dependent -0.0 or 0.0
# on (a fuzz run found TF's -0.0 from the tail of a 21-element relu against graphc's 0.0), so the search
# for the op deciding a zero's sign goes on through their first input (tests/fuzz/oracle._zero_sign_from).
ZERO_SIGN_FROM_FIRST_INPUT = ("EluGrad", "SeluGrad", "LeakyReluGrad")

# TF 2.21's SigmoidGrad groups its product by the element's place in Eigen's vectors: dy * (y * (1 - y)) in
# a whole vector, (dy * y) * (1 - y) in the tail past the last one. Where y * (1 - y) overflows they differ:
# y = 1e30, dy = 0 is NaN in a whole vector and -0.0 in the tail. graphc gives the whole vectors' answer
# everywhere. In TF-oracle graphs a SigmoidGrad's y is bounded (|y| <= 3, where the groupings agree).
PLACE_DEPENDENT_GROUPING = "TF's SigmoidGrad vector and tail code group dy * y * (1 - y) differently"

# TF 2.21's float64 Erf is NaN at +-inf (its float32 Erf, TF 1.15's and C's erf give +-1); graphc gives +-1.
# tests/backend/test_ops_compiled.py pins graphc's answer; the edge-value table feeds TF no infinite float64 erf.
ERF_OF_INFINITIES = "TF 2.21's float64 Erf gives NaN at +-inf; graphc +-1, as C and TF 1.15"

# TF's top_k orders NaN by where its sort happens to put it (a NaN compares false both ways); graphc puts NaN
# last. TF-oracle graphs give top_k inputs without NaN (NaN replaced by 0, exactly).
TOP_K_OF_NAN = "TF's place for NaN in top_k's order is its sort's; graphc sorts NaN last"

# TF's gradient of top_k reshapes the indices to [-1, k] and steps a range by the row length: with k = 0 or
# rows of length 0 it raises InvalidArgumentError ("Requires delta != 0"); graphc returns the (empty or zero)
# gradient, which is the derivative. TF-oracle gradient graphs take k >= 1 of non-empty rows.
TOP_K_GRADIENT_OF_EMPTY_ROWS = "TF's top_k gradient fails for k = 0 or empty rows; graphc gives the gradient"

# TF's gradient of gather_nd with one index tuple (1-D indices: tf.gather_nd(p, [1])) scatters the gradient with
# indices of shape [k] into ScatterNd, which refuses them ("Shape must be at least rank 1 but is rank 0", or
# "Dimensions [0,1) of indices[shape=[1]] must match ..."); graphc gives the derivative. TF-oracle gradient
# graphs take a batch of tuples (indices of rank 2), into params with elements (into empty params TF's
# gradient refuses to build: "Indices and updates specified for empty input"; graphc's forward raises TF's
# run-time error there).
GATHER_ND_GRADIENT_OF_ONE_TUPLE = "TF's gather_nd gradient fails for 1-D indices; graphc gives the gradient"

# TF's gather gradient is IndexedSlices; densified (the worker's tf.convert_to_tensor, or any op after it) for
# params with an empty dimension, its UnsortedSegmentSum fails ("data.shape = [1,4,7,0] does not start with
# segment_ids.shape = [0]"); graphc's dense scatter-add gives the (empty) gradient. TF-oracle gradient graphs
# gather from params without an empty dimension.
GATHER_GRADIENT_OF_EMPTY_PARAMS = "TF's densified gather gradient fails for empty params; graphc's is empty"

# TF's gradient of TanhGrad multiplies the incoming gradient by a Python float (`grad * -2.0`): when that
# gradient is a gather's IndexedSlices, building the gradient graph raises "TypeError: unsupported operand
# type(s) for *: 'IndexedSlices' and 'float'" (every other gradient function multiplies it by a tensor, which
# densifies it). graphc's gather gradient is dense, so it builds. TF-oracle gradient graphs do not gather from
# a TanhGrad.
TANH_GRAD_GRADIENT_OF_INDEXED_SLICES = "TF's TanhGrad gradient cannot take a gather's IndexedSlices"

# graphc's matmuls and convolutions multiply and add in one rounding (fused multiply-adds): a product that
# overflows on its own (-1e30 * 1e300 in float64) does not inside one, so a sum that is already +inf stays
# +inf, where the references and TF round the product to -inf first and give NaN (inf - inf). Which one a sum
# gives depends on where the infinite term comes in its order, so graphc's +inf is not wrong: where the
# reference has NaN, the oracle reruns it with exact products (oracle.run_with_exact_products: a contraction's
# operands widened, float64 to long double) and graphc's infinity stands where that run gives it.
CONTRACTIONS = ("MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
FUSED_MULTIPLY_ADD = "an overflowing product inside a fused multiply-add does not overflow"

# TF 2.21 reports an integer TruncateDiv or TruncateMod by zero as an InternalError ("Unexpected error in
# binary operator"); TF 1.15 raised InvalidArgumentError "Integer division by zero", as TF 2.21 still does for
# FloorDiv and FloorMod. graphc raises TF 1.15's (tests/e2e/test_bad_input.py pins both).
def truncated_division_by_zero(error: Exception, tensorflow_error) -> bool:
    """Whether graphc's `error` and TF's (class name, message) are this difference."""
    return ("Integer division by zero" in str(error) and tuple(tensorflow_error[:1]) == ("InternalError",)
            and "Unexpected error in binary operator" in tensorflow_error[1])

# A float cast to an integer type that cannot hold it (-1.09 or 1e30 to uint16, 1e30 or NaN to int8) is
# undefined behaviour in C++, and TF 2.21's Cast kernel answers by its code path: its vector loop saturates
# (-1.09 -> 0 in uint16, 1e30 and NaN -> -128 in int8) and its scalar tail truncates an int32 (-2.3 -> 65534
# in uint16, NaN -> 0 in int8) - both in one tensor of 40 elements. graphc converts through int32 or int64
# and keeps the low bits, as TF's scalar path. TF-oracle graphs clip floats into a narrow integer type's
# range, NaN to 0, before casting to it.
FLOAT_TO_INTEGER_OUT_OF_RANGE = "undefined in TF's C++; its vector and scalar paths disagree"
