"""Keras as TF2 has it: layers and models called on NumPy or eager tensors, eager optimizers.

The layers are graphc.keras's (so `tf.layers`' code) with two changes: weights
are eager variables, initialised when the layer is built, and a call is an
eager op (recorded in the current step; see graphc.eager). Optimizers update
variables in the current step: `apply_gradients` records every update and runs
them as one compiled call, with the tape's forward and gradient ops when a tape
holds that step.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes
from graphc.eager.context import Step, context, eager_function
from graphc.eager.variables import EagerVariable
from graphc.keras import layers as graph_layers
from graphc.keras import losses as graph_losses
from graphc.keras import models as graph_models
from graphc.ops import array_ops, math_ops


class EagerLayer:
    """Mixin making a graphc.keras layer an eager one."""

    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, **kwargs):
        """An eager variable `<layer>/<name>` initialised now (its initializer runs as its own step)."""
        if constraint is not None or regularizer is not None:
            raise ValueError(f"graphc's eager layers support no weight constraints or regularizers "
                             f"(layer {self.name}, weight {name})")
        trainable = True if trainable is None else trainable
        dtype = dtypes.as_dtype(dtype or self._dtype or dtypes.float32)
        init_step = Step(context())  # not the current step: a weight's creation is no part of it
        with init_step.graph.as_default():
            initial = initializer(tuple(shape.as_list() if hasattr(shape, "as_list") else shape), dtype=dtype)
        variable = EagerVariable(init_step.value_of(initial), trainable=trainable and self.trainable,
                                 name=f"{self.name}/{name}")
        (self._trainable_weights if trainable else self._non_trainable_weights).append(variable)
        return variable

    def __call__(self, inputs, *args, **kwargs):
        return eager_function(super().__call__, self.name, op_errors=False)(inputs, *args, **kwargs)


class Dense(EagerLayer, graph_layers.Dense):
    """`activation(inputs @ kernel + bias)`, eager."""


class Flatten(EagerLayer, graph_layers.Flatten):
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...), eager."""


class Dropout(EagerLayer, graph_layers.Dropout):
    """Dropout, eager (active when called with training=True)."""


class Model(EagerLayer, graph_models.Model):
    """`tf.keras.Model` in TF2: subclass it, define `call`, call it on NumPy or eager tensors."""

    def compile(self, *args, **kwargs):
        raise NotImplementedError("graphc's TF2 Keras models train with GradientTape loops: compile/fit/evaluate "
                                  "are not supported on them yet (graphc.keras, the TF1 namespace's, has them)")

    fit = evaluate = compile

    def predict(self, x, batch_size=None, verbose=0) -> np.ndarray:
        """The model's outputs for `x`, computed in batches of `batch_size` (32), as one array."""
        x = np.asarray(x, dtype=np.float32)
        size = batch_size or 32
        return np.concatenate([self(x[i:i + size]).numpy() for i in range(0, len(x), size)])


class Sequential(Model):
    """A stack of layers, each applied to the previous one's output."""

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        self._layers.append(layer)

    def call(self, inputs, training=None):
        for layer in self._layers:
            inputs = layer(inputs)
        return inputs


class Optimizer:
    """Base of the eager optimizers: `apply_gradients(zip(grads, vars))` and the `iterations` count."""

    def __init__(self, name: str):
        self.name = name
        self._iterations = None
        self._slots: dict = {}

    @property
    def iterations(self) -> EagerVariable:
        if self._iterations is None:
            self._iterations = EagerVariable(np.int64(0), trainable=False, name=f"{self.name}/iter")
        return self._iterations

    def slot(self, variable: EagerVariable, name: str, initial: float = 0.0) -> EagerVariable:
        """The optimizer's `name` slot of `variable` (`initial` everywhere at first)."""
        key = (id(variable), name)
        if key not in self._slots:
            self._slots[key] = EagerVariable(np.full(variable.shape.as_list(), initial, variable.dtype.np_dtype),
                                             trainable=False, name=f"{variable.store_name}/{self.name}/{name}")
        return self._slots[key]

    def apply_gradients(self, grads_and_vars, name=None, **kwargs):
        """Updates each variable from its gradient (pairs with a None gradient are skipped), as one step."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        iterations = self.iterations
        with context().updating() as step, step.graph.as_default():
            self._update(step, pairs, math_ops.cast(iterations + 1, dtypes.float32))
            iterations.assign_add(np.int64(1))
        return iterations

    def _update(self, step, pairs, local_step):
        """Records the updates of `pairs` [(gradient, variable)] at iteration `local_step` (1-based)."""
        raise NotImplementedError


class SGD(Optimizer):
    """var -= learning_rate * gradient."""

    def __init__(self, learning_rate=0.01, name="SGD"):
        super().__init__(name)
        self.learning_rate = learning_rate

    def _update(self, step, pairs, local_step):
        for gradient, variable in pairs:
            variable.assign_sub(self.learning_rate * step_tensor(step, gradient))


class Adam(Optimizer):
    """TF2's Adam: m += (g - m)(1 - β1), v += (g² - v)(1 - β2), var -= lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Adam"):
        super().__init__(name)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def _update(self, step, pairs, local_step):
        beta_1_power = math_ops.pow(self.beta_1, local_step)
        beta_2_power = math_ops.pow(self.beta_2, local_step)
        lr = self.learning_rate * math_ops.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)
        for gradient, variable in pairs:
            g = step_tensor(step, gradient)
            m, v = self.slot(variable, "m"), self.slot(variable, "v")
            m.assign_add((g - step.variable_tensor(m)) * (1.0 - self.beta_1))
            v.assign_add((math_ops.square(g) - step.variable_tensor(v)) * (1.0 - self.beta_2))
            m_t, v_t = step.variable_tensor(m), step.variable_tensor(v)
            variable.assign_sub(lr * m_t / (math_ops.sqrt(v_t) + self.epsilon))


class RMSprop(Optimizer):
    """TF2's RMSprop (no momentum, not centered): ms = ρ·ms + (1 - ρ)·g², var -= lr · g / (√ms + ε)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="RMSprop"):
        if momentum or centered:
            raise NotImplementedError("graphc's eager RMSprop has no momentum or centered variant yet")
        super().__init__(name)
        self.learning_rate, self.rho, self.epsilon = learning_rate, rho, epsilon

    def _update(self, step, pairs, local_step):
        for gradient, variable in pairs:
            g = step_tensor(step, gradient)
            ms = self.slot(variable, "rms")
            ms.assign(self.rho * step.variable_tensor(ms) + (1.0 - self.rho) * math_ops.square(g))
            variable.assign_sub(self.learning_rate * g / (math_ops.sqrt(step.variable_tensor(ms)) + self.epsilon))


class Adagrad(Optimizer):
    """TF2's Adagrad: acc += g² (from `initial_accumulator_value`), var -= lr · g / (√acc + ε)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="Adagrad"):
        super().__init__(name)
        self.learning_rate, self.initial, self.epsilon = learning_rate, initial_accumulator_value, epsilon

    def _update(self, step, pairs, local_step):
        for gradient, variable in pairs:
            g = step_tensor(step, gradient)
            accumulator = self.slot(variable, "accumulator", self.initial)
            accumulator.assign_add(math_ops.square(g))
            variable.assign_sub(self.learning_rate * g /
                                (math_ops.sqrt(step.variable_tensor(accumulator)) + self.epsilon))


class SparseCategoricalCrossentropy(graph_losses.SparseCategoricalCrossentropy):
    """The loss averaged over the batch, eager."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError("graphc's eager Keras losses take no sample_weight yet")
        return eager_function(super().__call__, self.name)(y_true, y_pred)


class CategoricalCrossentropy(SparseCategoricalCrossentropy):
    """Cross-entropy against one-hot (or soft) labels, averaged over the batch, eager."""

    def __init__(self, from_logits: bool = False, name: str = "categorical_crossentropy"):
        graph_losses.Loss.__init__(self, graph_losses.categorical_crossentropy, name, from_logits=from_logits)


def step_tensor(step: Step, value):
    """A gradient (eager tensor or array) as a tensor of `step`."""
    return context().convert(value) if not hasattr(value, "op") else value


