"""Kernels that compute alike share one function (backend/kernel_signatures.py).

The signature must hold everything that decides a kernel's code: on whole
training steps, every two kernels with one key emit one LLVM text. And sharing
must pay: the layers of a deep network are one kernel each, and the step
computes what the reference interpreter computes.
"""

import itertools
import re

import numpy as np
import pytest

import graphc as tf
from graphc.backend import codegen, target
from graphc.backend.buffers import Buffers
from graphc.backend.kernel_signatures import Signatures, TableBuffers
from graphc.backend.lowering import FUSED_KERNELS, KERNELS
from graphc.compiler.lower import lower
from graphc.passes.pipeline import run_pipeline
from tests.helpers import feed_types, interpret_graph


def _program(fetches, feeds):
    step = lower(fetches, feed_types(feeds), frozenset(v.op.name for v in tf.global_variables()))
    return run_pipeline(step.program)


def _kernel_texts(program):
    """[(signature key, the kernel's LLVM text emitted alone)] of every kernel of `program`."""
    signatures = Signatures(Buffers(target.new_module("signatures"), program))
    texts = []
    for kernel, group in itertools.groupby(program.instructions, key=lambda inst: inst.kernel):
        members = list(group)
        kind = program.kernels.get(kernel)
        if kernel is None or kind == "copy":
            continue
        module = target.new_module("kernel")
        if kind in FUSED_KERNELS:
            signature = signatures.fused(kind, members)
            FUSED_KERNELS[kind](module, "kernel", members, TableBuffers(Buffers(module, program), signature))
            key = signature.key
        else:
            KERNELS[members[0].op](module, "kernel", members[0])
            key = signatures.opaque(members[0])
        texts.append((key, re.sub(r"const\d+", "const", str(module))))  # constants are named by value id
    return texts


def _deep_adam_step():
    """Six equal dense tanh layers trained by Adam: their kernels repeat, forward, backward and update."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [8, 16], name="x")
    y = tf.placeholder(tf.float32, [8, 16], name="y")
    h = x
    for _ in range(6):
        h = tf.tanh(tf.matmul(h, tf.Variable(rng.normal(0, 0.3, (16, 16)).astype(np.float32))) +
                    tf.Variable(np.zeros(16, np.float32)))
    loss = tf.reduce_mean(tf.square(h - y))
    train = tf.train.AdamOptimizer(0.01).minimize(loss)
    return [train, loss], {x: rng.rand(8, 16).astype(np.float32), y: rng.rand(8, 16).astype(np.float32)}


def _cnn_step():
    """Two equal convolutions with ReLU, a max-pool and a dense layer, trained by momentum SGD."""
    rng = np.random.RandomState(1)
    images = tf.placeholder(tf.float32, [2, 8, 8, 4], name="images")
    labels = tf.placeholder(tf.int32, [2], name="labels")
    h = images
    for _ in range(2):
        h = tf.nn.relu(tf.nn.conv2d(h, tf.Variable(rng.normal(0, 0.2, (3, 3, 4, 4)).astype(np.float32)),
                                    [1, 1, 1, 1], "SAME"))
    pooled = tf.reshape(tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [2, 64])
    logits = tf.matmul(pooled, tf.Variable(rng.normal(0, 0.2, (64, 10)).astype(np.float32)))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    return [train, loss], {images: rng.rand(2, 8, 8, 4).astype(np.float32), labels: np.array([3, 7], np.int32)}


def _checked_chain():
    """A chain whose every layer can fail alike, except for the op named in the message."""
    x = tf.placeholder(tf.int32, [4], name="x")
    h = x
    for _ in range(3):
        h = tf.floordiv(h + 7, x)
    return [h], {x: np.array([1, 2, 3, 4], np.int32)}


@pytest.mark.parametrize("build", [_deep_adam_step, _cnn_step, _checked_chain])
def test_kernels_with_one_signature_emit_one_text(build):
    fetches, feeds = build()
    texts = _kernel_texts(_program(fetches, feeds))
    by_key = {}
    for key, text in texts:
        by_key.setdefault(key, []).append(text)
    assert any(len(group) > 1 for group in by_key.values()), "nothing is shared: the test checks nothing"
    for group in by_key.values():
        assert all(text == group[0] for text in group)


def test_kernels_that_fail_naming_their_op_are_not_shared():
    fetches, feeds = _checked_chain()
    program = _program(fetches, feeds)
    signatures = Signatures(Buffers(target.new_module("signatures"), program))
    keys = [signatures.opaque(inst) if program.kernels[inst.kernel] not in FUSED_KERNELS else None
            for inst in program.instructions if inst.kernel is not None and inst.op == "floordiv"]
    assert len(keys) == 3 and len(set(keys)) == 3


def test_the_layers_of_a_deep_network_are_one_kernel():
    rng = np.random.RandomState(2)
    x = tf.placeholder(tf.float32, [4, 8], name="x")
    weights = [rng.normal(0, 0.5, (8, 8)).astype(np.float32) for _ in range(3)]
    h = x
    for layer in range(60):
        h = tf.tanh(tf.matmul(h, tf.constant(weights[layer % 3])) + 0.1)
    feeds = {x: rng.rand(4, 8).astype(np.float32)}
    program = _program([h], feeds)
    emitted = codegen.emit_modules(program)
    kernels = [f for m, _ in emitted for f in m.functions if f.blocks and re.fullmatch(r"k\d+_[a-z]+", f.name)]
    assert len(program.kernels) >= 60 and len(kernels) == 3  # one per weight matrix, whose data it holds
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(h, feeds), interpret_graph([h], feeds)[0], rtol=1e-5, atol=1e-6)
