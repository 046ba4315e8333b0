"""Eager optimizers: the updates of `apply_gradients(zip(grads, vars))` recorded into the current step.

An optimizer records every variable's update (and its slots') into the open
step and runs them as one compiled call, with the tape's forward and gradient
ops when a tape holds that step. Two families share the base: TF2 Keras's
(`SGD`, `Adam`, `RMSprop`, `Adagrad`, for `graphc.v2`) and TF1's `tf.train`
optimizers with TF1's formulas and defaults (for a TF1 program after
`tf.enable_eager_execution()`), whose `minimize` takes the loss as a callable.
"""

from __future__ import annotations

import numpy as np

from graphc.core import dtypes
from graphc.eager.context import Step, context
from graphc.eager.tape import GradientTape
from graphc.eager.variables import EagerVariable
from graphc.ops import array_ops, math_ops


class Optimizer:
    """Base of the eager optimizers: `apply_gradients(zip(grads, vars))` and the `iterations` count.

    A subclass defines `_update(step, pairs, local_step)`, recording the updates of
    `pairs` [(gradient tensor of `step`, variable)] at iteration `local_step` (1-based).
    """

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

    def apply_gradients(self, grads_and_vars, name=None, global_step=None, **kwargs):
        """Updates each variable from its gradient (pairs with a None gradient are skipped), as one step.

        `global_step` (TF1's), a variable, is incremented in the same step.
        """
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        iterations = self.iterations
        with context().updating() as step:
            step.call((Optimizer.apply_gradients, self._settings()), (pairs, global_step),
                      lambda: self._build_update(step, pairs, iterations, global_step))
        return iterations

    def _settings(self) -> tuple:
        """The optimizer's public attributes (name, hyperparameters): an update replayed must have the same."""
        return tuple((k, v) for k, v in sorted(vars(self).items()) if not k.startswith("_"))

    def _build_update(self, step: Step, pairs: list, iterations, global_step) -> None:
        """Records the updates of `pairs` and the iteration counts into `step`."""
        self._constants = {}
        with step.graph.as_default():
            self._update(step, [(step_tensor(step, g), v) for g, v in pairs],
                         math_ops.cast(iterations + 1, dtypes.float32))
            iterations.assign_add(np.int64(1))
            if global_step is not None:
                global_step.assign_add(np.ones((), global_step.dtype.np_dtype))

    def constant(self, value: float, like):
        """`value` as a scalar of `like`'s dtype in the update's graph, made once per update: the variables'
        updates share it (a Python number in each would be a constant op of its own, every step)."""
        key = (value, like.dtype)
        if key not in self._constants:
            self._constants[key] = array_ops.constant(value, like.dtype)
        return self._constants[key]

    def _update(self, step: Step, pairs: list, local_step):
        raise NotImplementedError(f"{type(self).__name__} must define _update")


def step_tensor(step: Step, value):
    """A gradient (eager tensor or array) as a tensor of `step`."""
    return context().convert(value) if not hasattr(value, "op") else value


def _momentum_update(step, optimizer, variable, increment, momentum: float, nesterov: bool = False) -> None:
    """accumulator = momentum · accumulator + increment; var -= accumulator (or, Nesterov,
    var -= momentum · accumulator + increment): the heavy-ball step TF1 and Keras share."""
    accumulator = optimizer.slot(variable, "momentum")
    accumulator.assign(momentum * step.variable_tensor(accumulator) + increment)
    new = step.variable_tensor(accumulator)
    variable.assign_sub(momentum * new + increment if nesterov else new)


# -- TF2 Keras -------------------------------------------------------------------------------------------


class SGD(Optimizer):
    """var -= learning_rate · g; with momentum, Keras's velocity (the same as TF1's momentum for a fixed rate)."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD"):
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be a float between [0, 1], got {momentum}")
        super().__init__(name)
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, nesterov

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            if self.momentum or self.nesterov:
                _momentum_update(step, self, variable, self.learning_rate * g, self.momentum, self.nesterov)
            else:
                variable.assign_sub(self.learning_rate * g)


class Adam(Optimizer):
    """TF2's Adam: m += (g - m)(1 - β1), v += (g² - v)(1 - β2), var -= lr·√(1-β2ᵗ)/(1-β1ᵗ) · m / (√v + ε)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name="Adam"):
        super().__init__(name)
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon

    def _update(self, step, pairs, local_step):
        beta_1_power = math_ops.pow(self.beta_1, local_step)
        beta_2_power = math_ops.pow(self.beta_2, local_step)
        lr = self.learning_rate * math_ops.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)
        for g, variable in pairs:
            m, v = self.slot(variable, "m"), self.slot(variable, "v")
            m.assign_add((g - step.variable_tensor(m)) * self.constant(1.0 - self.beta_1, g))
            v.assign_add((math_ops.square(g) - step.variable_tensor(v)) * self.constant(1.0 - self.beta_2, g))
            m_t, v_t = step.variable_tensor(m), step.variable_tensor(v)
            variable.assign_sub(lr * m_t / (math_ops.sqrt(v_t) + self.constant(self.epsilon, g)))


class RMSprop(Optimizer):
    """TF2's RMSprop: ms = ρ·ms + (1 - ρ)·g² (from zeros).

    Plain: var -= lr · g / (√ms + ε). With momentum or centered (mg = ρ·mg + (1 - ρ)·g, ms - mg² in
    place of ms), ε moves inside the root as in TF: mom = momentum·mom + lr · g / √(ms + ε), var -= mom.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="RMSprop"):
        super().__init__(name)
        self.learning_rate, self.rho, self.momentum, self.epsilon, self.centered = (
            learning_rate, rho, momentum, epsilon, centered)

    initial_ms = 0.0

    def _plain(self) -> bool:
        """Whether the update is the plain one (ε outside the root, no momentum slot)."""
        return not (self.momentum or self.centered)

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            ms = self.slot(variable, "rms", self.initial_ms)
            ms.assign(self.rho * step.variable_tensor(ms) + (1.0 - self.rho) * math_ops.square(g))
            denominator = step.variable_tensor(ms)
            if self._plain():
                variable.assign_sub(self.learning_rate * g / (math_ops.sqrt(denominator) + self.epsilon))
                continue
            if self.centered:
                mg = self.slot(variable, "mg")
                mg.assign(self.rho * step.variable_tensor(mg) + (1.0 - self.rho) * g)
                denominator = denominator - math_ops.square(step.variable_tensor(mg))
            increment = self.learning_rate * g / math_ops.sqrt(denominator + self.epsilon)
            _momentum_update(step, self, variable, increment, self.momentum)


class Adagrad(Optimizer):
    """TF2's Adagrad: acc += g² (from `initial_accumulator_value`), var -= lr · g / (√acc + ε)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="Adagrad"):
        super().__init__(name)
        self.learning_rate, self.initial, self.epsilon = learning_rate, initial_accumulator_value, epsilon

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            accumulator = self.slot(variable, "accumulator", self.initial)
            accumulator.assign_add(math_ops.square(g))
            variable.assign_sub(self.learning_rate * g /
                                (math_ops.sqrt(step.variable_tensor(accumulator)) + self.epsilon))


# -- TF1 tf.train, eager ---------------------------------------------------------------------------------


class TrainOptimizer(Optimizer):
    """A TF1 `tf.train` optimizer in eager mode: `minimize(loss_fn)`, `apply_gradients(.., global_step=)`."""

    def minimize(self, loss, global_step=None, var_list=None, name=None, **kwargs):
        """Differentiates `loss` (a callable, as TF1's eager mode requires) and applies the gradients."""
        if not callable(loss):
            raise RuntimeError("`loss` passed to Optimizer.compute_gradients should be a function when eager "
                               "execution is enabled.")
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step=global_step)

    def get_name(self) -> str:
        return self.name

    def compute_gradients(self, loss, var_list=None, **kwargs):
        """[(gradient or None, variable)] of `loss()` for `var_list` (default: the trainable variables it read)."""
        with GradientTape() as tape:
            value = loss()
        variables = list(var_list) if var_list is not None else list(tape.watched_variables())
        if not variables:
            raise ValueError("No variables to optimize.")
        return list(zip(tape.gradient(value, variables), variables))


class GradientDescentOptimizer(TrainOptimizer):
    """TF1's GradientDescentOptimizer: var -= learning_rate · g."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(name)
        self.learning_rate = learning_rate

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            variable.assign_sub(self.learning_rate * g)


class MomentumOptimizer(TrainOptimizer):
    """TF1's MomentumOptimizer: accumulation = momentum · accumulation + g; var -= lr · accumulation."""

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(name)
        self.learning_rate, self.momentum, self.nesterov = learning_rate, momentum, use_nesterov

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            _momentum_update(step, self, variable, self.learning_rate * g, self.momentum, self.nesterov)


class AdamOptimizer(TrainOptimizer, Adam):
    """TF1's AdamOptimizer: Adam's formula with TF1's ε = 1e-8."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, use_locking=False, name="Adam"):
        Adam.__init__(self, learning_rate, beta1, beta2, epsilon, name)


class AdagradOptimizer(TrainOptimizer):
    """TF1's AdagradOptimizer: acc += g² (from 0.1); var -= lr · g / √acc (no ε)."""

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        super().__init__(name)
        self.learning_rate, self.initial = learning_rate, initial_accumulator_value

    def _update(self, step, pairs, local_step):
        for g, variable in pairs:
            accumulator = self.slot(variable, "accumulator", self.initial)
            accumulator.assign_add(math_ops.square(g))
            variable.assign_sub(self.learning_rate * g * math_ops.rsqrt(step.variable_tensor(accumulator)))


class RMSPropOptimizer(TrainOptimizer, RMSprop):
    """TF1's RMSPropOptimizer: ms from ones, ε (1e-10) inside the root, always through the momentum slot."""

    initial_ms = 1.0

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False, centered=False,
                 name="RMSProp"):
        RMSprop.__init__(self, learning_rate, decay, momentum, epsilon, centered, name)

    def _plain(self) -> bool:
        return False
