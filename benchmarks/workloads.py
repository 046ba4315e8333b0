"""The benchmarked training problems, as plain NumPy data every framework starts from.

A `Workload` holds the initial parameters (one `(weights, biases)` pair per
layer: dense weights [in, out], convolution filters HWIO), the batches, the learning rate and how many steps one timed
block runs, and the optimizer. Every framework gets the same arrays, so their losses can be
compared before anything is timed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc.datasets import mnist

SEED = 0
MLP_LAYER_SIZES = (784, 300, 100, 10)
MLP_BATCH_SIZE = 100
MLP_BATCH_COUNT = 20
MLP_LEARNING_RATE = 0.01
# The TF1 tutorial CNN: (kernel size, output channels, stride) per SAME convolution, then a 2x2/2
# max-pool, a dense ReLU layer and the logits.
CNN_CONVOLUTIONS = ((3, 32, 1), (3, 64, 2))
CNN_IMAGE_SHAPE = (28, 28, 1)
CNN_POOLED_FEATURES = 7 * 7 * 64
CNN_DENSE_SIZES = (CNN_POOLED_FEATURES, 64, 10)
# The tutorial's Adam with TF1's defaults: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t),
# var -= lr_t * m / (sqrt(v) + epsilon).
CNN_LEARNING_RATE = 0.001
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-8
# The classic LSTM over MNIST rows: 28 steps of 28 pixels, a BasicLSTMCell (gates i, j, f, o from one
# [input + hidden, 4 * hidden] kernel, forget bias 1.0), dense logits from the last h; Adam (1e-3).
LSTM_STEPS, LSTM_INPUTS, LSTM_UNITS = 28, 28, 128
LSTM_FORGET_BIAS = 1.0
LSTM_LEARNING_RATE = 0.001
TINY_HIDDEN_UNITS = 10
TINY_POINTS = 200
TINY_NOISE_STDDEV = 0.02
TINY_LEARNING_RATE = 0.1


@dataclass(frozen=True)
class Workload:
    """One training problem: what is trained, on what, and how it is timed."""

    title: str
    time_unit: str  # "ms" or "µs", the unit the table reports
    params: list  # [(weights, biases), ...], float32, one pair per layer
    batches: list  # [(inputs, targets), ...]
    learning_rate: float
    steps_per_block: int
    optimizer: str = "sgd"  # or "adam" (TF1's, see ADAM_*)


def mlp_workload(steps_per_block: int) -> Workload:
    """MLP 784-300-100-10 on real MNIST batches of 100 (pixels in [0, 1], integer labels)."""
    rng = np.random.default_rng(SEED)
    return Workload(title="MLP step (784-300-100-10, batch 100)", time_unit="ms",
                    params=_mlp_params(rng), batches=_mnist_batches(rng), learning_rate=MLP_LEARNING_RATE,
                    steps_per_block=steps_per_block)


def cnn_workload(steps_per_block: int) -> Workload:
    """The TF1 tutorial CNN on real MNIST batches of 100 as NHWC images [100, 28, 28, 1]."""
    rng = np.random.default_rng(SEED)
    params, channels = [], CNN_IMAGE_SHAPE[2]
    for kernel, out_channels, _ in CNN_CONVOLUTIONS:
        fan_in = kernel * kernel * channels
        params.append((rng.normal(0.0, 1.0 / np.sqrt(fan_in), (kernel, kernel, channels, out_channels))
                       .astype(np.float32), np.zeros(out_channels, np.float32)))
        channels = out_channels
    params += _dense_params(rng, CNN_DENSE_SIZES)
    batches = [(images.reshape((-1,) + CNN_IMAGE_SHAPE), labels) for images, labels in _mnist_batches(rng)]
    return Workload(title="CNN step (conv 3x3x32, conv 3x3x64 s2, max-pool, dense 64, batch 100)", time_unit="ms",
                    params=params, batches=batches, learning_rate=CNN_LEARNING_RATE,
                    steps_per_block=steps_per_block, optimizer="adam")


def lstm_workload(steps_per_block: int) -> Workload:
    """The LSTM over MNIST rows on real batches of 100 as sequences [100, 28, 28]: params are the cell's
    (kernel [28 + 128, 4 * 128] in TF's gate order i, j, f, o; bias) and the dense layer's."""
    rng = np.random.default_rng(SEED)
    kernel = rng.uniform(-1.0, 1.0, (LSTM_INPUTS + LSTM_UNITS, 4 * LSTM_UNITS)) * np.sqrt(
        6.0 / (LSTM_INPUTS + LSTM_UNITS + 4 * LSTM_UNITS))  # Glorot uniform, TF1's default
    params = [(kernel.astype(np.float32), np.zeros(4 * LSTM_UNITS, np.float32))]
    params += _dense_params(rng, (LSTM_UNITS, 10))
    batches = [(images.reshape(-1, LSTM_STEPS, LSTM_INPUTS), labels) for images, labels in _mnist_batches(rng)]
    return Workload(title="LSTM step (28 steps x 28 inputs, 128 units, batch 100)", time_unit="ms", params=params,
                    batches=batches, learning_rate=LSTM_LEARNING_RATE, steps_per_block=steps_per_block,
                    optimizer="adam")


def tiny_workload(steps_per_block: int) -> Workload:
    """The TF1 tutorials' 1-10-1 tanh regression of y = x^2 + noise on 200 points."""
    rng = np.random.default_rng(SEED)
    inputs = np.linspace(-0.5, 0.5, TINY_POINTS, dtype=np.float32)[:, None]
    targets = (np.square(inputs) + rng.normal(0.0, TINY_NOISE_STDDEV, inputs.shape)).astype(np.float32)
    params = [(rng.normal(size=(1, TINY_HIDDEN_UNITS)).astype(np.float32),
               np.zeros((1, TINY_HIDDEN_UNITS), np.float32)),
              (rng.normal(size=(TINY_HIDDEN_UNITS, 1)).astype(np.float32), np.zeros((1, 1), np.float32))]
    return Workload(title="tiny step (1-10-1 tanh regression, 200 points)", time_unit="µs", params=params,
                    batches=[(inputs, targets)], learning_rate=TINY_LEARNING_RATE, steps_per_block=steps_per_block)


def _mlp_params(rng: np.random.Generator) -> list:
    return _dense_params(rng, MLP_LAYER_SIZES)


def _dense_params(rng: np.random.Generator, sizes) -> list:
    """Normal weights with stddev 1/sqrt(fan_in) (as the TF1 tutorial's), zero biases."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        weights = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out)).astype(np.float32)
        params.append((weights, np.zeros(fan_out, np.float32)))
    return params


def _mnist_batches(rng: np.random.Generator) -> list:
    """MLP_BATCH_COUNT batches of randomly chosen MNIST training images: float32 in [0, 1] and int32 labels."""
    (images, labels), _ = mnist.load_data()
    chosen = rng.permutation(len(images))[:MLP_BATCH_COUNT * MLP_BATCH_SIZE]
    pixels = images[chosen].reshape(len(chosen), -1).astype(np.float32) / np.float32(255.0)
    chosen_labels = labels[chosen].astype(np.int32)
    return [(pixels[start:start + MLP_BATCH_SIZE].copy(), chosen_labels[start:start + MLP_BATCH_SIZE].copy())
            for start in range(0, len(chosen), MLP_BATCH_SIZE)]
