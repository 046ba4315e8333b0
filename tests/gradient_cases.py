"""Differentiable ops with inputs in their domain: shared by the interpreter and compiled gradient tests.

Each case: (name, function of the input tensors, list of input arrays).
"""

import numpy as np

import graphc as tf
from graphc.ops import collective_ops

rng = np.random.RandomState(0)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def signed(*shape):
    """Values away from 0 so kinks (relu, abs, max) are not straddled by finite differences."""
    values = rng.uniform(0.2, 1.5, shape)
    return values * rng.choice([-1.0, 1.0], shape)


def labels(n, classes):
    return rng.randint(0, classes, n)


def _conv_square_grads(x, w):
    """d/dx and d/dw of sum(conv2d(x, w)^2): their gradients exercise the gradients of
    Conv2DBackpropInput and Conv2DBackpropFilter."""
    return tf.gradients(tf.reduce_sum(tf.square(tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME"))), [x, w])


CASES = [
    ("neg", lambda x: -x, [signed(3, 4)]),
    ("square", tf.square, [signed(3, 4)]),
    ("sqrt", tf.sqrt, [positive(5)]),
    ("rsqrt", tf.rsqrt, [positive(5)]),
    ("exp", tf.exp, [signed(2, 3)]),
    ("log", tf.log, [positive(2, 3)]),
    ("abs", tf.abs, [signed(6)]),
    ("tanh", tf.tanh, [signed(6)]),
    ("sigmoid", tf.sigmoid, [signed(6)]),
    ("reciprocal", tf.reciprocal, [positive(4)]),
    ("relu", tf.nn.relu, [signed(3, 3)]),
    ("sin", tf.sin, [signed(5)]),
    ("cos", tf.cos, [signed(5)]),
    ("tan", tf.tan, [signed(5)]),
    ("atan2_broadcast", tf.atan2, [signed(3, 4), signed(4)]),
    ("erf", tf.erf, [signed(5)]),
    ("log1p", tf.log1p, [positive(5) - 0.4]),
    ("expm1", tf.expm1, [signed(5)]),
    ("floormod_broadcast", tf.floormod, [positive(2, 3) * 3, signed(3) + np.array([0.05, 0.1, 0.15])]),
    ("softplus", tf.nn.softplus, [signed(6) * 10]),
    ("elu", tf.nn.elu, [signed(6)]),
    ("selu", tf.nn.selu, [signed(6)]),
    ("leaky_relu", lambda x: tf.nn.leaky_relu(x, alpha=0.3), [signed(6)]),
    ("log_sigmoid", tf.log_sigmoid, [signed(6)]),
    ("clip_by_norm", lambda x: tf.clip_by_norm(x, 1.5, axes=[1]), [signed(3, 4)]),
    ("clip_by_global_norm", lambda x, y: tf.clip_by_global_norm([x, None, y], 2.0)[0][2], [signed(3), signed(2, 2)]),
    ("global_norm", lambda x, y: tf.global_norm([x, y]), [signed(3), signed(2, 2)]),
    ("add_broadcast", lambda x, y: x + y, [signed(3, 4), signed(4)]),
    ("sub_broadcast", lambda x, y: x - y, [signed(3, 1), signed(1, 4)]),
    ("mul_broadcast", lambda x, y: x * y, [signed(2, 3), signed(2, 1)]),
    ("div_broadcast", lambda x, y: x / y, [signed(2, 3), positive(3)]),
    ("maximum", tf.maximum, [signed(5), signed(5)]),
    ("minimum", tf.minimum, [signed(5), signed(5)]),
    ("pow", tf.pow, [positive(4), signed(4)]),
    ("where", lambda x, y: tf.where(x > y, x, y * 2.0), [signed(5), signed(5)]),
    ("add_n", lambda x, y: tf.add_n([x, y, x]), [signed(3), signed(3)]),
    ("matmul", tf.matmul, [signed(3, 4), signed(4, 2)]),
    ("matmul_ta", lambda a, b: tf.matmul(a, b, transpose_a=True), [signed(4, 3), signed(4, 2)]),
    ("matmul_tb", lambda a, b: tf.matmul(a, b, transpose_b=True), [signed(3, 4), signed(2, 4)]),
    ("matmul_tab", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True), [signed(4, 3), signed(2, 4)]),
    ("batch_matmul", tf.matmul, [signed(2, 3, 4), signed(2, 4, 2)]),
    ("batch_matmul_broadcast", tf.matmul, [signed(2, 1, 3, 4), signed(3, 4, 2)]),
    ("batch_matmul_matrix_first_adjoint", lambda a, b: tf.matmul(a, b, adjoint_a=True, adjoint_b=True),
     [signed(4, 3), signed(2, 2, 4)]),
    ("batch_matmul_adjoint_b", lambda a, b: tf.matmul(a, b, transpose_b=True), [signed(2, 3, 4), signed(1, 5, 4)]),
    ("tensordot", lambda a, b: tf.tensordot(a, b, [[0, 2], [2, 0]]), [signed(2, 3, 4), signed(4, 2, 2)]),
    ("einsum_batch_contraction", lambda a, b: tf.einsum("bij,jk->bki", a, b), [signed(2, 3, 4), signed(4, 2)]),
    ("einsum_sum_and_diagonal", lambda a, b: tf.einsum("iij,jk->k", a, b), [signed(3, 3, 2), signed(2, 4)]),
    ("reduce_sum", lambda x: tf.reduce_sum(x, axis=1), [signed(3, 4)]),
    ("reduce_sum_all", tf.reduce_sum, [signed(2, 3, 2)]),
    ("reduce_mean", lambda x: tf.reduce_mean(x, axis=[0, 2], keepdims=True), [signed(2, 3, 2)]),
    ("reduce_max", lambda x: tf.reduce_max(x, axis=0), [signed(4, 3)]),
    ("reduce_min", lambda x: tf.reduce_min(x, axis=-1), [signed(4, 3)]),
    ("reduce_prod", lambda x: tf.reduce_prod(x, axis=[0, 2]), [signed(2, 3, 2)]),
    ("reduce_prod_with_zeros", lambda x: tf.reduce_prod(x, axis=1, keepdims=True),
     [np.array([[0.0, 1.5, -0.7], [0.0, 0.0, 1.2], [0.4, -1.1, 0.9]])]),
    ("reduce_prod_all", tf.reduce_prod, [signed(2, 3)]),
    ("reduce_logsumexp", lambda x: tf.reduce_logsumexp(x, axis=1), [signed(3, 4)]),
    ("cumsum", lambda x: tf.cumsum(x, axis=1), [signed(2, 4, 3)]),
    ("cumsum_exclusive_reverse", lambda x: tf.cumsum(x, axis=-1, exclusive=True, reverse=True), [signed(3, 4)]),
    ("cumprod", lambda x: tf.cumprod(x, axis=0), [signed(4, 3)]),
    ("cumprod_exclusive_reverse", lambda x: tf.cumprod(x, axis=1, exclusive=True, reverse=True), [signed(2, 5)]),
    ("moments", lambda x: tf.stack(tf.nn.moments(x, [0, 2])), [signed(3, 2, 4)]),
    ("batch_normalization", lambda x, offset, scale: tf.nn.batch_normalization(x, *tf.nn.moments(x, [0]), offset,
                                                                               scale, 1e-3),
     [signed(5, 3), signed(3), signed(3)]),
    ("top_k", lambda x: tf.nn.top_k(x, 3).values, [signed(2, 3, 5)]),
    ("reshape", lambda x: tf.reshape(x, [-1, 2]), [signed(3, 4)]),
    ("transpose", lambda x: tf.transpose(x, [2, 0, 1]), [signed(2, 3, 4)]),
    ("broadcast_to", lambda x: tf.broadcast_to(x, [3, 4]), [signed(1, 4)]),
    ("cast", lambda x: tf.cast(x, tf.float32), [signed(3)]),
    ("softmax", tf.nn.softmax, [signed(3, 5)]),
    ("log_softmax", tf.nn.log_softmax, [signed(3, 5)]),
    ("sparse_xent", lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(labels(4, 5)), logits=x), [signed(4, 5)]),
    ("dense_xent", lambda x, y: tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.nn.softmax(y), logits=x),
     [signed(3, 4), signed(3, 4)]),
    ("bias_add", tf.nn.bias_add, [signed(2, 3, 4), signed(4)]),
    ("concat", lambda x, y: tf.concat([x, y, x], axis=1), [signed(2, 3), signed(2, 1)]),
    ("stack", lambda x, y: tf.stack([x, y], axis=1), [signed(2, 3), signed(2, 3)]),
    ("unstack", lambda x: tf.unstack(x, axis=1)[1] * tf.unstack(x)[0][1], [signed(2, 3)]),
    ("slice", lambda x: tf.slice(x, [1, 0, 2], [1, -1, 2]), [signed(3, 2, 4)]),
    ("getitem", lambda x: x[1:, ::-2, 0], [signed(3, 4, 2)]),
    ("getitem_newaxis", lambda x: x[..., None, 1:3], [signed(2, 4)]),
    ("squeeze", lambda x: tf.squeeze(x, axis=[1]), [signed(3, 1, 2)]),
    ("expand_dims", lambda x: tf.expand_dims(x, -1), [signed(3, 2)]),
    ("pad", lambda x: tf.pad(x, [[1, 0], [2, 3]], constant_values=2.0), [signed(2, 3)]),
    ("mirror_pad_reflect", lambda x: tf.pad(x, [[1, 0], [2, 3]], mode="REFLECT") ** 2, [signed(2, 4)]),
    ("mirror_pad_symmetric", lambda x: tf.pad(x, [[2, 1], [0, 3]], mode="symmetric") ** 2, [signed(2, 3)]),
    ("mirror_pad_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.pad(x, [[1, 2]], mode="REFLECT") ** 3), x)[0],
     [signed(4)]),
    ("clip_by_value", lambda x: tf.clip_by_value(x, -0.9, 1.1), [signed(3, 4)]),
    ("check_numerics", lambda x: tf.check_numerics(x * x, "x squared"), [signed(4)]),
    # Collectives in a world of one process (2 MPI ranks: tests/e2e/test_data_parallel.py).
    ("mpi_allreduce", lambda x: collective_ops.allreduce_sum(x * x), [signed(2, 3)]),
    ("mpi_allgather", lambda x: collective_ops.allgather(x * x), [signed(2, 3)]),
    ("mpi_broadcast", lambda x: collective_ops.broadcast(x * x, 0), [signed(3)]),
    ("identity", lambda x: tf.identity(x) * 2.0, [signed(3)]),
    ("strided_slice_grad_grad", lambda x: tf.gradients(tf.reduce_sum(x[::2] * x[::2]), x)[0], [signed(5)]),
    ("conv2d_same", lambda x, w: tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), [signed(1, 4, 5, 2), signed(3, 3, 2, 2)]),
    ("conv2d_same_stride2", lambda x, w: tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME"),
     [signed(1, 5, 4, 2), signed(3, 3, 2, 3)]),
    ("conv2d_valid_stride_over_kernel", lambda x, w: tf.nn.conv2d(x, w, [1, 3, 3, 1], "VALID"),
     [signed(2, 5, 5, 1), signed(2, 2, 1, 2)]),
    ("conv2d_dilated", lambda x, w: tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", dilations=[1, 2, 2, 1]),
     [signed(1, 5, 5, 1), signed(2, 2, 1, 2)]),
    ("max_pool_same", lambda x: tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"), [signed(2, 5, 6, 2)]),
    ("max_pool_valid", lambda x: tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [signed(1, 4, 5, 3)]),
    ("avg_pool_same", lambda x: tf.nn.avg_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"), [signed(2, 5, 6, 2)]),
    ("avg_pool_valid_stride_over_kernel", lambda x: tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 3, 3, 1], "VALID"),
     [signed(1, 5, 5, 2)]),
    ("conv2d_input_grad_grad", lambda x, w: _conv_square_grads(x, w)[0], [signed(1, 4, 4, 2), signed(2, 2, 2, 2)]),
    ("conv2d_filter_grad_grad", lambda x, w: _conv_square_grads(x, w)[1], [signed(1, 4, 4, 2), signed(2, 2, 2, 2)]),
    ("avg_pool_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.square(tf.nn.avg_pool(
        x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"))), x)[0], [signed(1, 3, 5, 2)]),
    ("tanh_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.tanh(x) * x), x)[0], [signed(4)]),
    ("sigmoid_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.sigmoid(x) * x), x)[0], [signed(4)]),
    ("sqrt_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.sqrt(x) * x), x)[0], [positive(4)]),
    ("relu_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.nn.relu(x) * x), x)[0], [signed(4)]),
    ("elu_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.nn.elu(x) * x), x)[0], [signed(6)]),
    ("selu_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.nn.selu(x) * x), x)[0], [signed(6)]),
    ("leaky_relu_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.nn.leaky_relu(x) * x), x)[0], [signed(6)]),
    ("gather_repeated_rows", lambda x: tf.gather(x, [[2, 0], [2, 2]]), [signed(3, 4)]),
    ("gather_axis_1", lambda x: tf.gather(x, [3, 0, 3], axis=1), [signed(2, 4, 3)]),
    ("gather_nd", lambda x: tf.gather_nd(x, [[1, 0], [1, 0], [0, 2]]), [signed(2, 3, 2)]),
    ("unsorted_segment_sum", lambda x: tf.unsorted_segment_sum(x, [2, -1, 0, 2], 3), [signed(4, 2)]),
    ("gather_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.gather(x, [1, 1, 0]) ** 3), x)[0], [signed(2, 3)]),
    ("embedding_lookup_mod_shards", lambda x, y: tf.nn.embedding_lookup([x, y], [[4, 1], [0, 3]]),
     [signed(3, 2), signed(2, 2)]),
    ("tile", lambda x: tf.tile(x, [2, 1, 3]), [signed(2, 3, 1)]),
    ("reverse", lambda x: tf.reverse(x, [0, -1]), [signed(3, 4)]),
    ("conv2d_transpose_valid", lambda x, w: tf.nn.conv2d_transpose(x, w, [2, 5, 7, 2], [1, 2, 3, 1], "VALID"),
     [signed(2, 2, 2, 3), signed(3, 2, 2, 3)]),
    ("reverse_sequence", lambda x: tf.reverse_sequence(x, [2, 3], seq_axis=1, batch_axis=0), [signed(2, 4, 3)]),
    ("xent_grad_grad", lambda x: tf.gradients(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([1, 0, 2]), logits=x)), x)[0], [signed(3, 3)]),
]


def build(case):
    """Placeholders for a case's inputs, and a scalar loss: sum(f(inputs) * fixed weights)."""
    name, fn, arrays = case
    placeholders = [tf.placeholder(tf.float64, a.shape, name=f"x{i}") for i, a in enumerate(arrays)]
    out = fn(*placeholders)
    weights = np.random.RandomState(1).uniform(-1, 1, out.shape.as_list())
    loss = tf.reduce_sum(tf.cast(out, tf.float64) * weights)
    return placeholders, loss
