"""The collective ops in a world of one process (no MPI): compiled == reference == the input, a step built for
another world size fails with InvalidArgumentError naming the op, and Horovod's API refuses what it must.
On 2 MPI ranks: tests/e2e/test_data_parallel.py."""

import numpy as np
import pytest

import graphc as tf
import graphc.horovod as hvd
from graphc import errors
from graphc.frontend.graph import apply_op
from graphc.ops import collective_ops
from tests.helpers import interpret_graph


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.int32, tf.int64])
def test_collectives_of_one_process_are_the_identity(dtype):
    x = tf.placeholder(dtype, [2, 3])
    fetches = [collective_ops.allreduce_sum(x), collective_ops.allgather(x), collective_ops.broadcast(x, 0),
               collective_ops.allreduce_sum(x * 2) + 1]
    value = np.arange(6).reshape(2, 3).astype(dtype.np_dtype) - 2
    compiled = tf.Session().run(fetches, {x: value})
    for result, reference, expected in zip(compiled, interpret_graph(fetches, {x: value}),
                                           [value, value, value, value * 2 + 1]):
        assert result.dtype == dtype.np_dtype
        np.testing.assert_array_equal(result, expected)
        np.testing.assert_array_equal(reference, expected)


@pytest.mark.parametrize("dims", [[2, 3], [None, 3], [None, None]])
def test_allgather_gradient_with_unknown_rows(dims):
    # Rows known only at run time: the gradient slices this process's rows by the input's dynamic shape
    # (a static slice of None rows failed while building; the fuzzer found it).
    x = tf.placeholder(tf.float64, dims)
    gathered = collective_ops.allgather(x * 3.0)
    gradient = tf.gradients(tf.reduce_sum(gathered * gathered), x)[0]
    value = np.arange(6.0).reshape(2, 3)
    compiled, reference = tf.Session().run(gradient, {x: value}), interpret_graph([gradient], {x: value})[0]
    np.testing.assert_allclose(compiled, 18.0 * value)
    np.testing.assert_allclose(reference, 18.0 * value)


def test_a_step_built_for_another_world_size_fails_naming_the_op():
    x = tf.placeholder(tf.float32, [2])
    gathered = apply_op("mpi_allgather", [x], {"size": 2}, name="gather_from_two")
    assert gathered.shape.as_list() == [4]
    with pytest.raises(errors.InvalidArgumentError, match="gather_from_two was built for a world of 2 processes, "
                                                          "but the MPI world has 1"):
        tf.Session().run(gathered, {x: [1.0, 2.0]})


def test_broadcast_root_outside_the_world_is_rejected_when_built():
    with pytest.raises(ValueError, match="root_rank 1 is not a rank of a world of 1 processes"):
        collective_ops.broadcast(tf.constant([1.0]), 1)


def test_horovod_api_before_init_raises_horovods_error():
    assert not hvd.is_initialized()
    for call in (hvd.size, hvd.rank, lambda: hvd.allreduce(tf.constant([1.0])),
                 lambda: hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1)),
                 lambda: hvd.broadcast_global_variables(0)):
        with pytest.raises(ValueError, match="Horovod has not been initialized; use hvd.init()"):
            call()


def test_what_graphc_horovod_does_not_offer_is_refused_by_name():
    with pytest.raises(errors.UnimplementedError, match="Average and Sum, not Adasum"):
        hvd.allreduce(tf.constant([1.0]), op=hvd.Adasum)
    with pytest.raises(errors.UnimplementedError, match="float16"):
        hvd.Compression.fp16.compress(tf.constant([1.0]))
    with pytest.raises(ValueError, match="supersedes average"):
        hvd.allreduce(tf.constant([1.0]), average=True, op=hvd.Sum)
