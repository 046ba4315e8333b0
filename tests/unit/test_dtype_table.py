"""`tf.as_dtype` and every dtype argument accept TF's spellings, and only those.

TF1 programs write dtypes many ways: `tf.placeholder("float", [None, 784])` (float32,
not NumPy's float64), `np.float32`, `np.dtype("int64")`, `float`. Each entry of the
table runs here with graphc and, in the oracle test, with TensorFlow (when it is
installed); the table pins TF 2.21's answer: the repr of the DType, or the class of
the error TF raises.
"""

from __future__ import annotations

import numpy as np
import pytest

import graphc as tf
from graphc.core import dtypes
from tests.tf_oracle import tensorflow_answers

REFUSED = "TypeError"

# spelling -> TF's answer (the DType's repr, or REFUSED)
SPELLINGS = {
    "'float'": ("float", "tf.float32"),
    "'float32'": ("float32", "tf.float32"),
    "'double'": ("double", "tf.float64"),
    "'float64'": ("float64", "tf.float64"),
    "'half'": ("half", "tf.float16"),
    "'float16'": ("float16", "tf.float16"),
    "'int'": ("int", REFUSED),
    "'long'": ("long", REFUSED),
    "'int8'": ("int8", "tf.int8"),
    "'int16'": ("int16", "tf.int16"),
    "'int32'": ("int32", "tf.int32"),
    "'int64'": ("int64", "tf.int64"),
    "'uint8'": ("uint8", "tf.uint8"),
    "'uint16'": ("uint16", "tf.uint16"),
    "'bool'": ("bool", "tf.bool"),
    "'string'": ("string", "tf.string"),
    "'str'": ("str", REFUSED),
    "'f32' (graphc's IR spelling)": ("f32", REFUSED),
    "'<f4'": ("<f4", REFUSED),
    "'f'": ("f", REFUSED),
    "None": (None, REFUSED),
    "float": (float, "tf.float32"),
    "int": (int, REFUSED),
    "bool": (bool, "tf.bool"),
    "str": (str, REFUSED),
    "bytes": (bytes, REFUSED),
    "complex": (complex, REFUSED),
    "object": (object, "tf.string"),
    "np.float16": (np.float16, "tf.float16"),
    "np.float32": (np.float32, "tf.float32"),
    "np.float64": (np.float64, "tf.float64"),
    "np.int8": (np.int8, "tf.int8"),
    "np.int16": (np.int16, "tf.int16"),
    "np.int32": (np.int32, "tf.int32"),
    "np.int64": (np.int64, "tf.int64"),
    "np.uint8": (np.uint8, "tf.uint8"),
    "np.uint16": (np.uint16, "tf.uint16"),
    "np.bool_": (np.bool_, "tf.bool"),
    "np.object_": (np.object_, "tf.string"),
    "np.bytes_": (np.bytes_, "tf.string"),
    "np.str_": (np.str_, "tf.string"),
    "np.dtype('float32')": (np.dtype("float32"), "tf.float32"),
    "np.dtype('int64')": (np.dtype("int64"), "tf.int64"),
    "np.dtype('S3')": (np.dtype("S3"), "tf.string"),
    "np.dtype('<U5')": (np.dtype("<U5"), "tf.string"),
    "DataType enum 1": (1, "tf.float32"),
    "DataType enum 19": (19, "tf.float16"),
    "tf.float32": ("tf.float32", "tf.float32"),  # a DType itself: the build looks it up by name
}


def _as_dtype_repr(tf, spelling):
    if isinstance(spelling, str) and spelling.startswith("tf."):
        spelling = getattr(tf, spelling[3:])
    return repr(tf.as_dtype(spelling))


AS_DTYPE = {name: ((lambda tf, s=spelling: _as_dtype_repr(tf, s)), answer)
            for name, (spelling, answer) in SPELLINGS.items()}

# Every dtype argument goes through as_dtype: "float" is float32 wherever TF1 takes a dtype.
ARGUMENTS = {
    "placeholder('float')": (lambda tf: repr(tf.placeholder("float", [None, 784]).dtype), "tf.float32"),
    "cast(x, 'float')": (lambda tf: repr(tf.cast(tf.constant([1, 2]), "float").dtype), "tf.float32"),
    "constant(1, 'float')": (lambda tf: repr(tf.constant(1, "float").dtype), "tf.float32"),
    "constant(1, np.float16)": (lambda tf: repr(tf.constant(1, np.float16).dtype), "tf.float16"),
    "zeros([2], 'float')": (lambda tf: repr(tf.zeros([2], "float").dtype), "tf.float32"),
    "ones([2], 'double')": (lambda tf: repr(tf.ones([2], "double").dtype), "tf.float64"),
    "fill of a 'half' constant": (lambda tf: repr(tf.fill([2], tf.constant(1, "half")).dtype), "tf.float16"),
    "zeros_like(x, 'int8')": (lambda tf: repr(tf.zeros_like(tf.ones([2]), "int8").dtype), "tf.int8"),
    "Variable(dtype='float')": (lambda tf: repr(tf.Variable([1, 2], dtype="float").dtype.base_dtype), "tf.float32"),
    "get_variable(dtype='float')": (lambda tf: repr(tf.get_variable("v", [2], "float").dtype.base_dtype),
                                    "tf.float32"),
    "random_normal(dtype='double')": (lambda tf: repr(tf.random_normal([2], dtype="double").dtype), "tf.float64"),
    "random_uniform(dtype=np.float32)": (lambda tf: repr(tf.random_uniform([2], dtype=np.float32).dtype),
                                         "tf.float32"),
    "truncated_normal(dtype=float)": (lambda tf: repr(tf.truncated_normal([2], dtype=float).dtype), "tf.float32"),
    "zeros_initializer(dtype='float')": (lambda tf: repr(tf.zeros_initializer(dtype="float")([2]).dtype),
                                         "tf.float32"),
    "argmax(output_type='int32')": (lambda tf: repr(tf.argmax(tf.ones([2]), 0, output_type="int32").dtype),
                                    "tf.int32"),
    "shape(out_type=np.int64)": (lambda tf: repr(tf.shape(tf.ones([2]), out_type=np.int64).dtype), "tf.int64"),
    "one_hot(dtype='double')": (lambda tf: repr(tf.one_hot([0, 1], 2, dtype="double").dtype), "tf.float64"),
    "placeholder('int')": (lambda tf: repr(tf.placeholder("int", [2]).dtype), REFUSED),
    "cast(x, int)": (lambda tf: repr(tf.cast(tf.constant([1.5]), int).dtype), REFUSED),
}

TABLE = {**AS_DTYPE, **ARGUMENTS}


def _graphc_answer(build):
    try:
        return build(tf)
    except TypeError as e:
        return REFUSED, str(e)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_graphc_answers_as_the_table_says(name):
    build, expected = TABLE[name]
    tf.reset_default_graph()
    answer = _graphc_answer(build)
    if expected == REFUSED:
        assert answer[0] == REFUSED
    else:
        assert answer == expected


@pytest.fixture(scope="module")
def tf_answers():
    return tensorflow_answers(__file__, "TABLE")


@pytest.mark.parametrize("name", sorted(TABLE))
def test_tensorflow_2_21_answers_as_the_table_says(name, tf_answers):
    kind, value = tf_answers[name]
    expected = TABLE[name][1]
    assert (kind if expected == REFUSED else value) == (REFUSED if expected == REFUSED else repr(expected))


def test_refusals_name_the_value_as_tf1_does():
    # TF 1.15's text; TF 2.21 words it "Cannot convert the argument `type_value`: 'int' to a TensorFlow DType."
    with pytest.raises(TypeError, match=r"^Cannot convert value 'int' to a TensorFlow DType\.$"):
        tf.as_dtype("int")
    with pytest.raises(TypeError, match="Cannot convert value <class 'int'> to a TensorFlow DType"):
        tf.placeholder(int)


def test_dtypes_tf_has_and_graphc_does_not_are_named():
    with pytest.raises(TypeError, match="graphc does not support the TensorFlow DType 'complex64'"):
        tf.as_dtype("complex64")
    with pytest.raises(TypeError, match="graphc does not support the NumPy type complex128"):
        tf.as_dtype(np.complex128)


def test_the_ir_spells_types_its_own_way():
    assert [dtypes.from_ir_name(d.ir_name) for d in dtypes.ALL_DTYPES] == list(dtypes.ALL_DTYPES)
    assert tf.half is tf.float16 and tf.as_dtype(tf.uint8.as_datatype_enum) is tf.uint8


def test_kernels_of_their_own_handle_the_core_dtypes_unless_their_entry_says_more():
    from graphc.core import registry

    assert registry.get("add").compiles_for(tf.float16) and registry.get("reduce_sum").compiles_for(tf.uint8)
    assert registry.get("matmul").compiles_for(tf.float32) and not registry.get("matmul").compiles_for(tf.float16)
    assert registry.get("concat").compiles_for(tf.uint16)  # a copy: its entry lists every dtype
    for op in registry.all_ops():
        assert op.compiled_dtypes is None or set(op.compiled_dtypes) <= set(dtypes.ALL_DTYPES), op.name
