"""TF2 Keras `compile` / `fit` / `evaluate` / `predict` (graphc.v2): Sequential and subclassed models,
'accuracy' and SparseCategoricalAccuracy, validation data, History — each batch a compiled tf.function.

`eager_programs/keras_fit.py` runs under graphc and, when installed, TensorFlow 2 from the same weights:
both must print the same numbers (TF 2.21's output pinned).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graphc.v2 as tf
from graphc.eager.context import context
from tests import tf_oracle

PROGRAM = Path(__file__).parent / "eager_programs" / "keras_fit.py"

TF_OUTPUT = """\
sequential {'accuracy': [0.1867, 0.2933, 0.5667], 'loss': [1.4156, 1.3147, 1.2284], 'val_accuracy': [0.36, 0.5, 0.58], 'val_loss': [1.3461, 1.2734, 1.2079]}
sequential evaluate [1.1823, 0.635]
sequential predict [[0.2569, 0.2636, 0.1916, 0.2878], [0.3763, 0.2275, 0.1778, 0.2184]]
subclassed {'loss': [1.3572, 1.0866, 0.9079], 'sparse_categorical_accuracy': [0.36, 0.5667, 0.64], 'val_loss': [1.3121, 1.1833, 0.9964], 'val_sparse_categorical_accuracy': [0.52, 0.52, 0.54]}
subclassed evaluate [0.8364, 0.64]
subclassed predict [[0.3536, 0.2489, 0.1727, 0.2248], [0.8458, 0.0858, 0.0541, 0.0143]]
"""


test_graphc_prints_what_tensorflow_2_21_prints, test_tensorflow_2_21_prints_the_pinned_output = \
    tf_oracle.program_tests(PROGRAM, TF_OUTPUT)


def test_fit_compiles_a_step_per_batch_shape_and_reuses_it():
    x = np.random.default_rng(1).normal(size=(130, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = tf.keras.Sequential([tf.keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=50, epochs=1, verbose=0)  # batches of 50, 50 and 30: two traces
    before = context().session.compilations
    history = model.fit(x, y, batch_size=50, epochs=2, verbose=0)
    assert context().session.compilations == before  # the same steps, run again
    assert sorted(history.history) == ["accuracy", "loss"] and len(history.history["loss"]) == 2
    assert model._compiled.train_step.trace_count == 2


def test_compile_errors_are_keras():
    model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="No loss to compute"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        model.compile(optimizer=object(), loss="mse")
    with pytest.raises(RuntimeError, match="must compile your model"):
        model.fit(np.zeros((2, 3), np.float32), np.zeros(2, np.int32), verbose=0)
