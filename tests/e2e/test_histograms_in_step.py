"""Histogram summaries counted in the compiled step (histogram_statistics): the same HistogramProto as
TensorFlow's (pinned, and asked when it is installed) and as the NumPy reference, with only the
statistics vector leaving the native code."""

import numpy as np
import pytest

import graphc as tf
from graphc.core import histograms
from graphc.ops import summary_serialization as serialization
from graphc.compiler import driver
from graphc.runtime import loader
from tests.tf_oracle import table_tests

# TF 2.21 overruns its bucket array for a value of DBL_MAX (std::upper_bound past the last limit:
# "malloc(): invalid size"); graphc counts it in the last bucket. So no case here holds one.
MIXED = [0.0, 1e-13, -1e-13, 1e-12, -1e-12, 2.5, -3.5, 2.5, 1e25, -1e25, 7.0, 0.0]


def histogram_of(values, dtype, shape=None):
    """`build(tf)`: the fields of the HistogramProto `tf.summary.histogram` gives for `values` fed."""

    def build(tf):
        data = np.asarray(values, dtype=dtype)
        x = tf.placeholder(getattr(tf, dtype), shape if shape is not None else data.shape)
        summary = tf.summary.histogram("h", x)
        with tf.Session() as session:
            (value,) = tf.Summary.FromString(session.run(summary, {x: data})).value
        h = value.histo
        return (h.min, h.max, h.num, h.sum, h.sum_squares, list(h.bucket_limit), list(h.bucket))

    return build


AS_TF = {
    "float32 mixed": (histogram_of(MIXED, "float32"),
        (-9.999999562023526e+24, 9.999999562023526e+24, 12.0, 7.0, 1.9999998248094143e+50,
         [-1.7976931348623157e+308, -9.920775621859783e+19, -3.8315657995195243, -3.48324163592684, -1e-12, 0.0,
          1e-12, 2.379100905625872, 2.6170109961884593, 6.7878525393626115, 7.466637793298873, 9.920775621859783e+19,
          1.7976931348623157e+308],
         [0.0, 1.0, 0.0, 1.0, 0.0, 2.0, 4.0, 0.0, 2.0, 0.0, 1.0, 0.0, 1.0])),
    "float64 extremes": (histogram_of([1e300, -1e300, 5e-324, 0.1], "float64"),
        (-1e+300, 1e+300, 4.0, 0.1, float("inf"),
         [-1.7976931348623157e+308, -9.920775621859783e+19, 0.0, 1e-12, 0.09312398815580714, 0.10243638697138786,
          9.920775621859783e+19, 1.7976931348623157e+308],
         [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0])),
    "int32": (histogram_of([[3, -2, 0], [1000000, 3, 7]], "int32"),
        (-2.0, 1000000.0, 6.0, 1000011.0, 1000000000071.0,
         [-2.1628190051144287, -1.9661990955585713, 0.0, 1e-12, 2.8787120958073054, 3.1665833053880363,
          6.7878525393626115, 7.466637793298873, 921351.5242693111, 1013486.6766962423, 1.7976931348623157e+308],
         [0.0, 1.0, 0.0, 1.0, 0.0, 2.0, 0.0, 1.0, 0.0, 1.0, 0.0])),
    "float16": (histogram_of([0.5, -0.25, 60000.0, 1e-4], "float16"),
        (-0.25, 60000.0, 4.0, 60000.250100016594, 3600000000.3125,
         [-0.2656936063469233, -0.24153964213356663, 9.745143431053419e-05, 0.00010719657774158762,
          0.47069243095356195, 0.5177616740489182, 58081.45523147019, 63889.60075461721, 1.7976931348623157e+308],
         [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])),
    "empty": (histogram_of(np.zeros((0, 3)), "float32", [None, 3]),
        (1.7976931348623157e+308, -1.7976931348623157e+308, 0.0, 0.0, 0.0, [1.7976931348623157e+308], [0.0])),
}
test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says = table_tests(
    __file__, "AS_TF", AS_TF)


def the_step_fetches(session) -> list:
    """The shapes of what the session's last compiled step fetches."""
    return [value.type.shape for value in list(session._steps.values())[-1].program.fetches]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "float16"])
def test_in_step_statistics_equal_the_numpy_reference(dtype):
    """Random values of every kind of real tensor, bit for bit the HistogramProto of the NumPy reference
    (core/histograms.py: TF1's bucketing, sums in order); the step fetches the statistics, not the tensor."""
    rng = np.random.RandomState(7)
    exponents = (-6, 4) if dtype == "float16" else (-15, 15)
    values = (rng.standard_normal((60, 70)) * 10.0 ** rng.randint(*exponents, (60, 70))).astype(dtype) \
        if dtype.startswith("float") else rng.randint(0, 200, (60, 70)).astype(dtype)
    x = tf.placeholder(getattr(tf, dtype), [None, 70])
    summary = tf.summary.histogram("values", x)
    with tf.Session() as session:
        got = tf.Summary.FromString(session.run(summary, {x: values})).value[0].histo
        assert the_step_fetches(session) == [(histograms.STATISTICS_SIZE,)]
    assert got == serialization.histogram_proto(histograms.statistics(values))


def test_four_histograms_and_a_scalar_in_a_training_step():
    """The summaries of the weights fetched with the training op: of the weights as the run leaves them
    (a fetched variable is copied out at the end of the run: compiler/lower.py), as when the host
    computed them; and those of a several-steps call, its last step's."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.placeholder(tf.float32, [None, 1])
    w1, w2 = tf.Variable(rng.randn(8, 16).astype(np.float32)), tf.Variable(rng.randn(16, 1).astype(np.float32))
    hidden = tf.nn.relu(tf.matmul(x, w1))
    loss = tf.reduce_mean(tf.square(tf.matmul(hidden, w2) - y))
    for name, tensor in [("w1", w1), ("w2", w2), ("hidden", hidden), ("loss_values", tf.square(y))]:
        tf.summary.histogram(name, tensor)
    tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    xs, ys = rng.rand(3, 32, 8).astype(np.float32), rng.rand(3, 32, 1).astype(np.float32)
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        session.run(train, {x: xs[0], y: ys[0]}, steps=1)
        session.run(train, {x: xs[1], y: ys[1]})
        serialized, _ = session.run([merged, train], {x: xs[2], y: ys[2]})
        fetched_shapes = the_step_fetches(session)
        assert fetched_shapes.count((histograms.STATISTICS_SIZE,)) == 4 and (8, 16) not in fetched_shapes
        after = session.run([w1, w2])
        values = {v.tag: v for v in tf.Summary.FromString(serialized).value}
        assert values["w1"].histo == serialization.histogram_proto(histograms.statistics(after[0]))
        assert values["w2"].histo == serialization.histogram_proto(histograms.statistics(after[1]))
        assert values["loss_values"].histo == serialization.histogram_proto(histograms.statistics(ys[2] ** 2))
    with tf.Session() as session:
        session.run(tf.global_variables_initializer())
        serialized_n, _ = session.run([merged, train], {x: xs, y: ys}, steps=3)
    assert serialized_n == serialized


@pytest.mark.parametrize("bad, word", [(np.nan, "Nan"), (np.inf, "Infinity"), (-np.inf, "Infinity")])
def test_non_finite_values_fail_as_tf1s_summary_does(bad, word):
    x = tf.placeholder(tf.float32, [3])
    summary = tf.summary.histogram("spread", x)
    with tf.Session() as session:
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{word} in summary histogram for: spread"):
            session.run(summary, {x: [1.0, bad, 2.0]})


def test_every_bucket_limit_and_its_neighbours():
    """Each value exactly on a limit, and the doubles next to it on both sides (float32 ones too): the
    kernel's estimate from the exponent and its corrections give std::upper_bound's bucket for each."""
    limits = histograms.default_bucket_limits()
    with np.errstate(over="ignore"):  # past DBL_MAX and float32's range: infinities, dropped below
        values = np.concatenate([limits, np.nextafter(limits, np.inf), np.nextafter(limits, -np.inf),
                                 limits.astype(np.float32).astype(np.float64), [0.0, -0.0, 5e-324, -5e-324, 1e-310]])
    values = values[np.isfinite(values)]
    x = tf.placeholder(tf.float64, [None])
    statistics_op = tf.summary.histogram("limits", x)
    with tf.Session() as session:
        got = tf.Summary.FromString(session.run(statistics_op, {x: values})).value[0].histo
    expected = serialization.histogram_proto(histograms.statistics(values))
    assert list(got.bucket) == list(expected.bucket) and list(got.bucket_limit) == list(expected.bucket_limit)
    assert got == expected


def test_doubles_of_every_exponent_land_in_upper_bounds_bucket():
    """Random doubles of both signs over the whole exponent range, denormals included: the bucket the
    kernel finds from two compares above its estimate is std::upper_bound's for each (NumPy's searchsorted)."""
    rng = np.random.RandomState(19)
    values = rng.choice([-1.0, 1.0], 20000) * np.ldexp(rng.uniform(1.0, 2.0, 20000), rng.randint(-1074, 1024, 20000))
    values = values[np.isfinite(values)]
    x = tf.placeholder(tf.float64, [None])
    summary = tf.summary.histogram("exponents", x)
    with tf.Session() as session:
        got = tf.Summary.FromString(session.run(summary, {x: values})).value[0].histo
    assert got == serialization.histogram_proto(histograms.statistics(values))


def test_float32s_around_every_limit_land_in_upper_bounds_bucket():
    """float32 tensors find their bucket from their own bits (an int32 table): the float32s nearest each
    limit and three more on each side, both signs, zeros, denormals and the largest float32, all in
    std::upper_bound's bucket (NumPy's searchsorted on the doubles)."""
    limits = histograms.default_bucket_limits()
    finite = limits[np.abs(limits) <= np.finfo(np.float32).max]
    nearest = finite.astype(np.float32).view(np.int32).astype(np.int64)
    bits = (nearest[:, None] + np.arange(-3, 4)).reshape(-1)
    bits = bits[(bits & 0x7FFFFFFF) < 0x7F800000].astype(np.uint32)
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, np.finfo(np.float32).max,
                        -np.finfo(np.float32).max], np.float32)
    values = np.concatenate([bits.view(np.float32), special])
    got = histo_of(values)
    expected = serialization.histogram_proto(histograms.statistics(values))
    assert list(got.bucket) == list(expected.bucket) and list(got.bucket_limit) == list(expected.bucket_limit)
    assert got == expected


def test_float32s_of_every_exponent_land_in_upper_bounds_bucket():
    """Random float32 bit patterns of both signs over every finite exponent: upper_bound's bucket."""
    rng = np.random.RandomState(23)
    bits = rng.randint(0, 0x7F800000, 40000).astype(np.uint32) | (rng.randint(0, 2, 40000).astype(np.uint32) << 31)
    values = bits.view(np.float32)
    assert histo_of(values) == serialization.histogram_proto(histograms.statistics(values))


def histo_of(values, dtype=tf.float32):
    """The HistogramProto the compiled step gives for `values` (one dimension, any length)."""
    x = tf.placeholder(dtype, [None])
    summary = tf.summary.histogram("h", x)
    with tf.Session() as session:
        return tf.Summary.FromString(session.run(summary, {x: values})).value[0].histo


def test_every_length_around_the_kernels_groups():
    """Lengths 0 to 70: whole groups of 8 values, a part group at the end, fewer groups than the kernel
    counts behind; bit for bit the NumPy reference (sums in order)."""
    rng = np.random.RandomState(5)
    data = (rng.standard_normal(70) * 10.0 ** rng.randint(-3, 3, 70)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None])
    summary = tf.summary.histogram("h", x)
    with tf.Session() as session:
        for length in range(71):
            got = tf.Summary.FromString(session.run(summary, {x: data[:length]})).value[0].histo
            assert got == serialization.histogram_proto(histograms.statistics(data[:length])), length


def in_order_extremes(values) -> tuple:
    """min and max as TF1's Histogram::Add keeps them, value by value: a value replaces them only when
    strictly below (above), so of equal values the first stays (+0.0 or -0.0)."""
    smallest, largest = np.finfo(np.float64).max, -np.finfo(np.float64).max
    for v in np.asarray(values, np.float64):
        smallest, largest = (v if v < smallest else smallest), (v if v > largest else largest)
    return smallest, largest


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("first_zero", [0.0, -0.0])
def test_a_zero_min_or_max_is_the_first_zero_in_order(sign, first_zero):
    """The kernel keeps min and max per lane of a group of 8 values and reduces the lanes at the end;
    its min and max are still TF1's in-order ones, the sign of a zero one included (the first zero):
    here the first zero sits in a later lane (5) than a zero of the other sign after it (lane 0 of the
    next group), and then zeros at random places."""
    rng = np.random.RandomState(11)
    data = sign * rng.uniform(1.0, 2.0, 61).astype(np.float32)
    data[[5, 8]] = [first_zero, -first_zero]
    cases = [data]
    for _ in range(4):
        data = data.copy()
        data[rng.choice(61, 5, replace=False)] = rng.choice([0.0, -0.0], 5)
        cases.append(data)
    for data in cases:
        histo = histo_of(data)
        expected = in_order_extremes(data)
        assert [np.signbit(histo.min), np.signbit(histo.max)] == list(np.signbit(expected)), data
        assert (histo.min, histo.max) == expected
        reference = histograms.statistics(data)[[histograms.MIN, histograms.MAX]]
        assert list(np.signbit(reference)) == list(np.signbit(expected))


def test_long_tensors_with_a_nan_or_an_infinity_fail_as_tf1s_summary_does():
    """Past the first groups, and with a NaN and an infinity both (TF names the NaN first)."""
    data = np.linspace(-1.0, 1.0, 100).astype(np.float32)
    for position, bad, word in [(50, np.inf, "Infinity"), (97, np.nan, "Nan"), (3, -np.inf, "Infinity")]:
        values = data.copy()
        values[position] = bad
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{word} in summary histogram for: h"):
            histo_of(values)
    values = data.copy()
    values[[10, 90]] = [np.inf, np.nan]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: h"):
        histo_of(values)


@pytest.fixture
def restore_threads():
    yield
    loader.set_num_threads(0)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_large_tensor_on_one_or_more_threads(threads, restore_threads):
    """A tensor of 40,003 values: the statistics bit for bit the reference's whatever the thread count,
    zeros' signs, the part group at the end and a NaN included."""
    driver.load_runtime()
    loader.set_num_threads(threads)
    rng = np.random.RandomState(3)
    data = (rng.standard_normal(40003) * 10.0 ** rng.randint(-8, 8, 40003)).astype(np.float32)
    data[[20001, 20002, 30000]] = [0.0, -0.0, 0.0]
    relu = np.maximum(data, 0)
    relu[:3] = [-0.0, 1.0, 0.0]
    x = tf.placeholder(tf.float32, [None])
    summary = tf.summary.histogram("h", x)
    with tf.Session() as session:
        for values in (data, relu, -relu):
            histo = tf.Summary.FromString(session.run(summary, {x: values})).value[0].histo
            assert histo == serialization.histogram_proto(histograms.statistics(values))
            assert [np.signbit(histo.min), np.signbit(histo.max)] == list(np.signbit(in_order_extremes(values)))
        data[39999] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: h"):
            session.run(summary, {x: data})


def test_the_same_protos_on_one_two_and_three_threads(restore_threads):
    """Lengths around the kernel's chunks (2,048 values; the pool from 4 chunks on, each counted by
    whichever task claims it): on 1, 2 and 3 threads the same bytes, the NumPy reference's."""
    driver.load_runtime()
    rng = np.random.RandomState(23)
    data = (rng.standard_normal(4 * 2048 + 11) * 10.0 ** rng.randint(-6, 6, 4 * 2048 + 11)).astype(np.float32)
    data[rng.choice(data.size, 40, replace=False)] = rng.choice([0.0, -0.0], 40)
    lengths = [3 * 2048 + 8, 4 * 2048 - 8, 4 * 2048 - 1, 4 * 2048, 4 * 2048 + 3, 4 * 2048 + 11]
    x = tf.placeholder(tf.float32, [None])
    summary = tf.summary.histogram("h", x)
    answers = []
    for threads in (1, 2, 3):
        loader.set_num_threads(threads)
        with tf.Session() as session:
            answers.append([session.run(summary, {x: data[:length]}) for length in lengths])
    assert answers[0] == answers[1] == answers[2]
    for serialized, length in zip(answers[0], lengths):
        histo = tf.Summary.FromString(serialized).value[0].histo
        assert histo == serialization.histogram_proto(histograms.statistics(data[:length])), length


@pytest.mark.parametrize("dtype", ["float64", "int32", "float16"])
def test_other_dtypes_on_the_pool(dtype, restore_threads):
    """Past the pool's threshold (4 chunks of 2,048 values), the helpers convert as task 0 does."""
    driver.load_runtime()
    loader.set_num_threads(2)
    rng = np.random.RandomState(29)
    values = (rng.standard_normal(4 * 2048 + 5) * 100).astype(dtype)
    assert histo_of(values, getattr(tf, dtype)) == serialization.histogram_proto(histograms.statistics(values))
