"""The fuzzer's TensorFlow oracle, quickly: a handful of random graphs, a long sum and a state graph run by
TensorFlow 2.21 in a worker process and compared with graphc (`make fuzz-tf` runs it for 10 minutes).

Skips, saying `pip install tensorflow-cpu`, when TensorFlow is not installed; the comparison's own rules
are tested without it.
"""

import types

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import graphc as tf
from tests.fuzz import oracle, tensorflow_oracle
from tests.fuzz.context import GRADIENTS, STATE, VALUES
from tests.fuzz.generate import BuiltGraph
from tests.fuzz.oracle import ReferenceSession, check_graph, compare

requires_tensorflow = pytest.mark.skipif(not tensorflow_oracle.tensorflow_installed(),
                                         reason=f"TensorFlow is not installed ({tensorflow_oracle.INSTALL_HINT})")


@pytest.fixture(scope="module")
def worker():
    with tensorflow_oracle.TensorFlowWorker() as tensorflow:
        yield tensorflow


CASES = [(VALUES, tf.float64, 6), (GRADIENTS, tf.float32, 4), (STATE, tf.float32, 4)]


@requires_tensorflow
@pytest.mark.parametrize("mode, dtype, examples", CASES, ids=[f"{m}-{d.name}" for m, d, _ in CASES])
def test_random_graphs_agree_with_tensorflow(worker, mode, dtype, examples):
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        check_graph(data.draw, mode, dtype, tensorflow=worker)

    check()


def _long_sum_description(n: int) -> dict:
    nodes = [{"name": "x", "type": "Placeholder", "inputs": [], "control_inputs": [],
              "dtype_attrs": {"dtype": "float32"}, "attrs": {"shape": (n,)}, "shapes": [[n]]},
             {"name": "axes", "type": "Const", "inputs": [], "control_inputs": [], "dtype_attrs": {},
              "attrs": {"value": np.array([0], np.int32)}, "shapes": [[1]]},
             {"name": "sum", "type": "Sum", "inputs": [("x", 0), ("axes", 0)], "control_inputs": [],
              "dtype_attrs": {}, "attrs": {"keep_dims": False}, "shapes": [[]]}]
    return {"nodes": nodes, "fetches": [("sum", 0)], "loss": None, "wrt": [], "variables": {}, "state": False}


@requires_tensorflow
def test_a_long_float32_sum_is_as_accurate_as_tensorflows(worker):
    values = np.random.RandomState(0).uniform(1000.0, 1001.0, 1_000_000).astype(np.float32)
    exact = values.astype(np.float64).sum()
    answer = worker.run(_long_sum_description(values.size), [{"x": values}])["runs"][0]["values"][0]
    x = tf.placeholder(tf.float32, [values.size])
    compiled = tf.Session().run(tf.reduce_sum(x), {x: values})
    assert abs(answer - exact) <= 1e-6 * exact  # TF 2.21 sums to about 1e-7 of the exact value
    problem = tensorflow_oracle.compare("sum", compiled, answer, 0.0, long_reduction=True, truth=exact)
    assert problem is None, problem


def test_zeros_must_have_tensorflows_sign_except_in_gradients():
    assert tensorflow_oracle.compare("x", np.float32([0.0, 1.0]), np.float32([-0.0, 1.0]), 0.0) is not None
    assert tensorflow_oracle.compare("x", np.float32([0.0]), np.float32([-0.0]), 0.0, zero_signs=False) is None
    assert tensorflow_oracle.compare("x", np.float32([np.nan, np.inf]), np.float32([np.nan, np.inf]), 0.0) is None
    assert tensorflow_oracle.compare("x", np.float32([np.nan]), np.float32([1.0]), 0.0) is not None
    assert tensorflow_oracle.compare("x", np.float32([np.inf]), np.float32([-np.inf]), 0.0) is not None


def test_a_nan_from_tensorflow_is_off_only_where_graphc_is_near_the_float64_truth():
    # TF's float32 cumprod of [5e37, -1e30, 0] overflows to NaN; graphc's float64 product is -0.0, the truth.
    truth = np.float64([-0.0])
    assert tensorflow_oracle.compare("x", np.float32([-0.0]), np.float32([np.nan]), 0.0, truth=truth) is None
    assert tensorflow_oracle.compare("x", np.float32([1.0]), np.float32([np.nan]), 0.0, truth=truth) is not None
    assert tensorflow_oracle.compare("x", np.float32([-0.0]), np.float32([np.nan]), 0.0) is not None


def test_a_long_reduction_allows_no_conditioning_slack():
    answer = np.float32(1000500.0)
    assert tensorflow_oracle.compare("sum", np.float32(answer * (1 + 2e-7)), answer, 1e3) is None
    assert tensorflow_oracle.compare("sum", np.float32(answer * (1 + 2e-7)), answer, 1e3, long_reduction=True,
                                     truth=answer) is None
    assert tensorflow_oracle.compare("sum", np.float32(answer * (1 + 5e-6)), answer, 1e3, long_reduction=True,
                                     truth=answer)


def test_where_tensorflow_is_further_from_the_float64_value_graphc_is_not_wrong():
    # TF 2.21's float32 mean over axis 0 of [42858, 7] values in [1000, 1001] is off by 3e-4.
    compiled, answer, exact = np.float32([5555.39]), np.float32([5553.74]), np.float64([5555.40])
    assert tensorflow_oracle.compare("mean", compiled, answer, 0.0) is not None
    assert tensorflow_oracle.compare("mean", compiled, answer, 0.0, truth=exact) is None
    assert tensorflow_oracle.compare("mean", answer, compiled, 0.0, truth=exact) is not None
    # An intermediate of TF's overflowed; graphc's finite value is right. The other way round it is not.
    assert tensorflow_oracle.compare("g", np.float32([3e27]), np.float32([np.inf]), 0.0, truth=[3e27]) is None
    assert tensorflow_oracle.compare("g", np.float32([np.inf]), np.float32([3e27]), 0.0, truth=[3e27])


def test_where_graphc_is_the_float64_value_exactly_an_infinite_one_stands():
    # The fuzz-tf finding: -1.38 / SigmoidGrad(1 / (sigmoid(-0.0) + 0.5), -5e37). The reciprocal of 1.0 is 1.0 in
    # graphc and both references, so SigmoidGrad's 1 - y is 0 and the quotient inf; TF's vector code gives
    # 0.99999994 there and 4.6e-31 at the end.
    graphc, tensorflow = np.float32([np.inf, 2.0]), np.float32([4.6185027e-31, 2.0])
    assert tensorflow_oracle.compare("q", graphc, tensorflow, 0.0) is not None
    assert tensorflow_oracle.compare("q", graphc, tensorflow, 0.0, truth=np.float64([np.inf, 2.0])) is None
    # The other way round, or against a finite truth, graphc's infinity is wrong.
    assert tensorflow_oracle.compare("q", graphc, tensorflow, 0.0, truth=np.float64([4.6e-31, 2.0])) is not None
    assert tensorflow_oracle.compare("q", tensorflow, graphc, 0.0, truth=np.float64([np.inf, 2.0])) is not None


@pytest.mark.parametrize("dtype, huge", [(tf.float64, 1e300), (tf.float32, 1e30)])
def test_an_infinity_from_a_fused_multiply_add_is_explained_only_by_exact_products(dtype, huge):
    # The fuzz finding: a float64 conv summed 1e-30 * inf = +inf and -1e30 * 1e300, which overflows to -inf on its
    # own (the reference and TF: NaN) but not inside graphc's fused multiply-add (+inf stays).
    graph = tf.Graph()
    with graph.as_default():
        a, b = tf.placeholder(dtype, [1, 2]), tf.placeholder(dtype, [2, 2])
        y = tf.matmul(a, b)
    context = types.SimpleNamespace(variables=[], float_dtype=dtype)
    session = ReferenceSession(BuiltGraph(graph=graph, context=context, fetches=[y]))
    np_dtype = dtype.np_dtype
    feeds = {a: np.array([[1e-30, -1e30]], np_dtype), b: np.array([[np.inf, 1.0], [huge, 2.0]], np_dtype)}
    (reference,) = session.run(feeds)
    (exact,), _ = session.run_with_exact_products(feeds)
    assert np.isnan(reference[0, 0]) and exact[0, 0] == np.inf and exact[0, 1] == reference[0, 1]
    graphc = np.array([[np.inf, reference[0, 1]]], np_dtype)
    assert oracle.compare("y", graphc, reference, reference) is not None
    excused = oracle.explained_by_exact_products(reference, exact, graphc)
    assert excused.tolist() == [[True, False]]
    assert oracle.compare("y", graphc, reference, reference, excused=excused) is None
    wrong = np.array([[-np.inf, reference[0, 1]]], np_dtype)
    assert not oracle.explained_by_exact_products(reference, exact, wrong).any()


def test_a_cancelling_float64_sum_always_moves_under_the_perturbation():
    # The fuzz finding: the mean of [1e30, small values, -1e30] is 0 or the small values' mean by its order;
    # moves of a few float64 ulps rounded 1e30 and -1e30 to exact negatives in 22% of the perturbed runs.
    values = np.array([[1e30, -1.17, -0.0], [0.90, -0.0, -4.17], [-0.30, -1.00, -1e30]])
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float64, [3, 3])
        mean = tf.reduce_mean(tf.reshape(x, [9, 1]), [0], keepdims=True)
    context = types.SimpleNamespace(variables=[], float_dtype=tf.float64, leaves=[types.SimpleNamespace(tensor=x)])
    built = BuiltGraph(graph=graph, context=context, fetches=[mean])
    for seed in range(100):
        conditioning = oracle._Conditioning(built, built, [[values]], seed)
        (movement,) = conditioning.movements([("mean", None, np.zeros((1, 1)), np.zeros((1, 1)))], [],
                                             conditioning.run_perturbed(0))
        assert movement[0, 0] > 1.0, seed


def test_a_long_sums_rounding_is_allowed_where_a_later_op_amplifies_it():
    # The fuzz-tf finding: cos(mean(x)) of 100,000 float32 values in [1000, 1001]. graphc's mean was 2 ulps (1.2e-4)
    # from the exact one, NumPy's pairwise mean nearer; the cosine near 0.098 turned that into 1.2e-3 relative.
    # Moving only the feeds moved the float64 mean by ~1e-8: the sum's own rounding was not allowed for.
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float64, [100000])
        y = tf.cos(tf.reduce_mean(x, [0], keepdims=True))
    context = types.SimpleNamespace(variables=[], float_dtype=tf.float32, leaves=[types.SimpleNamespace(tensor=x)])
    built = BuiltGraph(graph=graph, context=context, fetches=[y])
    values = (1000 + np.random.RandomState(0).random_sample(100000)).astype(np.float32)
    exact_mean = np.mean(values.astype(np.float64), keepdims=True)
    reference = np.cos(exact_mean).astype(np.float32)
    two_ulps_off = np.cos(exact_mean + 2 * np.spacing(np.float32(1000.5)))
    for seed in range(5):
        conditioning = oracle._Conditioning(built, built, [[values]], seed)
        (movement,) = conditioning.movements([("y", None, reference, np.cos(exact_mean))], [],
                                             conditioning.run_perturbed(0))
        assert compare("y", two_ulps_off.astype(np.float32), reference, reference, movement) is None, seed
        far_off = np.cos(exact_mean + 40 * np.spacing(np.float32(1000.5)))
        assert compare("y", far_off.astype(np.float32), reference, reference, movement) is not None, seed


def test_ill_conditioned_elements_get_their_perturbations_movement():
    # 1e30 + 1 - 1e30 is 0 or 1 depending on the order; moving 1e30 by an ulp moves the result by 1e23.
    moved = tensorflow_oracle.movement(np.array([0.0, 2.0]), np.array([1e23, 2.0]))
    assert moved[0] >= 1e23 and moved[1] == 0.0
    assert np.isinf(tensorflow_oracle.movement(np.array([np.nan]), np.array([1.0]))).all()


def test_a_zero_sign_set_by_a_flushed_subnormal_is_explained_only_where_flushing_gives_tensorflows_answer():
    # The fuzz-tf finding: leaky_relu(-3e-37) is the subnormal -3e-39, so elu(sin(.)) is exp(x) - 1 = +0.0
    # in graphc and the reference; TF flushes the subnormal to -0.0 first and answers elu(-0.0) = -0.0.
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [3])
        y = tf.nn.elu(tf.sin(tf.nn.leaky_relu(x, alpha=0.01)))
    context = types.SimpleNamespace(variables=[], float_dtype=tf.float32)  # a graph with no variables
    session = ReferenceSession(BuiltGraph(graph=graph, context=context, fetches=[y]))
    feeds = {x: np.float32([-3e-37, 1.0, -0.0])}
    (reference,) = session.run(feeds)
    (flushed,), _ = session.run_flushing_subnormals(feeds)
    assert not np.signbit(reference[0]) and np.signbit(flushed[0]), (reference, flushed)
    answer = np.float32([-0.0, reference[1], -0.0])  # TF 2.21's answer
    compiled = reference
    assert tensorflow_oracle.compare("y", compiled, answer, 0.0) is not None
    excused = tensorflow_oracle.explained_by_subnormals(reference, flushed, answer, 0.0)
    assert excused.tolist() == [True, False, False]
    assert tensorflow_oracle.compare("y", compiled, answer, 0.0, excused=excused) is None
    # Flushing explains nothing where TF's answer is another value.
    wrong = np.float32([1.0, reference[1], -0.0])
    assert not tensorflow_oracle.explained_by_subnormals(reference, flushed, wrong, 0.0).any()


def test_an_infinity_is_close_only_to_itself():
    # An infinite reference (and twin) made the tolerance infinite: -inf passed for inf.
    assert compare("x", np.float32([-np.inf]), np.float32([np.inf]), np.float64([np.inf])) is not None
    assert compare("x", np.float32([3e38]), np.float32([np.inf]), np.float64([np.inf])) is not None
    assert compare("x", np.float32([np.inf, 1.0]), np.float32([np.inf, 1.0]), np.float64([np.inf, 1.0])) is None


def _node(name, kind, inputs=(), dtype_attrs=None, **attrs):
    return {"name": name, "type": kind, "inputs": [(i, 0) for i in inputs], "control_inputs": [],
            "dtype_attrs": dtype_attrs or {}, "attrs": attrs, "shapes": [[]]}


@requires_tensorflow
def test_tensorflow_reads_variables_in_graphcs_order(worker):
    # v = 1; fetch [assign(v, x) + v, v * 1, v]: the sum depends on the write and sees it (graphc's rule,
    # TF 2.21's answer in tests/e2e/test_read_write_order.py), the product reads before it, the reference
    # is copied out after the run.
    nodes = [_node("v", "VariableV2"), _node("v/read", "Identity", ["v"]),
             _node("x", "Placeholder", dtype_attrs={"dtype": "float32"}, shape=()),
             _node("assign", "Assign", ["v", "x"]), _node("sum", "AddV2", ["assign", "v/read"]),
             _node("one", "Const", value=np.float32(1.0)), _node("product", "Mul", ["v/read", "one"]),
             _node("again", "Identity", ["v/read"])]
    description = {"nodes": nodes, "fetches": [("sum", 0), ("product", 0), ("v/read", 0), ("again", 0)],
                   "loss": None, "wrt": [], "variables": {"v": np.float32(1.0)}, "state": True}
    runs = worker.run(description, [{"x": np.float32(5.0)}, {"x": np.float32(7.0)}])["runs"]
    # An identity of the read shares the variable's buffer too (it was answered with the value before).
    assert [[float(v) for v in run["values"]] for run in runs] == [[10.0, 1.0, 5.0, 5.0], [14.0, 5.0, 7.0, 7.0]]
