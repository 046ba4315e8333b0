"""A compile leaves no LLVM module for Python's collector to find.

The emitted llvmlite modules are cycles of objects that only the collector frees. The driver
frees them in the collector's youngest generation right after printing them (compiler/driver.py
`_emit_llvm`); left to the collector, they reached its oldest generation and set off a full
collection, 90-100 ms of walking every object of the process, in the CNN step's first run.
"""

import gc

import llvmlite.ir as ir
import numpy as np

import graphc as tf
from graphc.compiler import driver


def _llvm_modules() -> int:
    return sum(isinstance(o, ir.Module) for o in gc.get_objects())


def test_a_compile_leaves_no_llvm_module_to_the_collector(tmp_path, setenv):
    driver.load_runtime()  # from the usual cache: only the step's library goes to this one
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # nothing cached: the step is emitted
    x = tf.placeholder(tf.float32, [None, 4])
    w = tf.Variable(tf.ones([4, 3]))
    y = tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)))
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    gc.collect()
    before = _llvm_modules()
    enabled = gc.isenabled()
    gc.disable()  # no collection of its own may free them by chance
    try:
        assert float(sess.run(y, {x: np.ones([2, 4], np.float32)})) == 24
        assert _llvm_modules() == before
    finally:
        if enabled:
            gc.enable()
