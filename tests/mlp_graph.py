"""The tutorial MLP's training step as a Program, for IR and pass tests."""

import numpy as np

import graphc as tf
from graphc.compiler.lower import lower
from graphc.examples.tutorials.mnist import mnist
from tests.helpers import feed_types


def mlp_training_program(batch=4, initialized=True):
    """(program, feeds, variables) of one SGD step of mnist.py's network (small batch)."""
    tf.set_random_seed(0)
    images = tf.placeholder(tf.float32, (None, mnist.IMAGE_PIXELS), name="images")
    labels = tf.placeholder(tf.int32, (None,), name="labels")
    logits = mnist.inference(images, 16, 8)
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.01)
    rng = np.random.RandomState(0)
    feeds = {images: rng.rand(batch, 784).astype(np.float32), labels: rng.randint(0, 10, batch)}
    step = lower([train_op, loss], feed_types(feeds), frozenset(v.op.name for v in tf.global_variables()))
    variables = {v.op.name: rng.normal(0, 0.1, v.shape.as_list()).astype(v.dtype.np_dtype)
                 for v in tf.global_variables()}
    return step.program, {t.name: v for t, v in feeds.items()}, variables
