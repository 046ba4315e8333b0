"""Keras models: `Sequential` and subclassed `Model`, trained and run as compiled steps.

A model builds its graph the first time it sees data, in the default graph
(so `tf.set_random_seed` seeds its initial weights), and runs it in a session of
its own. The graph holds one forward pass for training (`training=True`) and one
for inference sharing the same weights; `compile` adds the loss, the metrics'
per-batch sums and the optimizer's update. Each batch of `fit`, `evaluate` or
`predict` is then one `Session.run`: one native call; with
`compile(steps_per_execution=N)`, `fit` and `evaluate` run N batches per native
call (`Session.run(..., steps=N)` on the batches stacked). So that their logs
cover every batch whatever N, the step itself adds each batch's loss, metric
sums and size into float64 totals (variables of the graph), as the host did
before, in the same order and precision.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, convert_to_tensor, get_default_graph
from graphc.keras import losses as losses_module
from graphc.keras import metrics as metrics_module
from graphc.keras import optimizers as optimizers_module
from graphc.keras.layers import Layer, takes_training
from graphc.ops import array_ops, state_ops
from graphc.ops.variables import Variable, variables_initializer

DEFAULT_BATCH_SIZE = 32


class History:
    """What `fit` returns: `history[name]` lists the value of each logged quantity per epoch."""

    def __init__(self):
        self.history: dict = {}
        self.epoch: list = []

    def record(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)


class _Compiled:
    """What `compile` fixed: the loss, metrics and optimizer, and the graph ops they added."""

    def __init__(self, optimizer, loss, metrics, steps_per_execution):
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics = [metrics_module.get(m, self.loss) for m in (metrics or [])]
        self.steps_per_execution = steps_per_execution
        self.labels = None  # the labels placeholder, once built
        self.train_op = None
        self.train_totals = None  # _Totals of the training pass (an epoch's)
        self.eval_totals = None  # _Totals of the inference pass (an evaluation's)


class _Totals:
    """Float64 variables the step adds each batch's loss * size, metric sums and size to: `fetches` gives
    the totals after the batch, `reset` sets them to zero. The loss times the size is computed in
    float32, then added in float64: the host's arithmetic before the totals moved into the step."""

    def __init__(self, name: str, loss, labels, outputs, metrics: list):
        examples = array_ops.cast(array_ops.shape(labels)[0], dtypes.float32)
        batch_sums = [loss(labels, outputs) * examples] + [m.batch_sum(labels, outputs) for m in metrics] + [
            examples]
        totals = [Variable(0.0, trainable=False, collections=[GraphKeys.LOCAL_VARIABLES], dtype=dtypes.float64,
                           name=f"{name}_{part}") for part in ["loss"] + [m.name for m in metrics] + ["examples"]]
        self.fetches = [state_ops.assign_add(total, array_ops.cast(value, dtypes.float64))
                        for total, value in zip(totals, batch_sums)]
        self.reset = variables_initializer(totals)


class Model(Layer):
    """A layer with `compile`, `fit`, `evaluate` and `predict`.

    Subclass it and define `call(inputs, training=None)` using layers assigned
    as attributes in `__init__` (after `super().__init__()`), as in Keras.
    """

    def __init__(self, name: Optional[str] = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._layers: list = []
        self._compiled: Optional[_Compiled] = None
        self._graph = None
        self._session = None
        self._inputs = None
        self._outputs = {}

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name != "_compiled":
            self.__dict__.setdefault("_layers", []).append(value)
        super().__setattr__(name, value)

    def __call__(self, inputs, training=None):
        # No name scope of the model's own: its layers' weights are `dense/kernel`, as in Keras.
        self.built = True
        inputs = convert_to_tensor(inputs)
        return self.call(inputs, training=training) if takes_training(self.call) else self.call(inputs)

    @property
    def layers(self) -> list:
        return list(self.__dict__.get("_layers", []))

    @property
    def trainable_weights(self) -> list:
        """The layers' trainable weights, layer by layer (`weights` puts them before the others, as Keras)."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    # -- building the graph ----------------------------------------------------------------------------

    def _build_for(self, x: np.ndarray) -> None:
        """The graph for inputs like `x`: a placeholder and the inference pass, weights initialised."""
        if self._graph is not None:
            expected = self._inputs.shape.as_list()[1:]
            if list(x.shape[1:]) != expected:
                raise ValueError(f"Input 0 of {self.name} is incompatible: expected shape (None, "
                                 f"{', '.join(map(str, expected))}), found {x.shape}")
            return
        from graphc.session import Session  # the session module imports the whole frontend
        self._graph = get_default_graph()
        with self._graph.as_default():
            self._inputs = array_ops.placeholder(dtypes.float32, (None,) + tuple(x.shape[1:]), name=f"{self.name}_input")
            self._outputs[False] = self(self._inputs, training=False)
            self.built = True
            self._session = Session(graph=self._graph)
            self._session.run(variables_initializer(self.weights))

    def _build_training(self, y: np.ndarray) -> _Compiled:
        """Adds the training pass, loss, metrics and update for what `compile` chose (once)."""
        compiled = self._require_compiled()
        if compiled.train_op is not None:
            expected = compiled.labels.shape.as_list()[1:]
            if list(y.shape[1:]) != expected:
                raise ValueError(f"Labels for {self.name} are incompatible: expected shape (None"
                                 f"{''.join(f', {d}' for d in expected)}), found {y.shape}")
            return compiled
        graph_variables = set(self._graph.get_collection("variables"))
        with self._graph.as_default():
            compiled.labels = array_ops.placeholder(compiled.loss.label_dtype, (None,) + y.shape[1:],
                                                    name=f"{self.name}_labels")
            if True not in self._outputs:
                self._outputs[True] = self(self._inputs, training=True)
            train_loss = compiled.loss(compiled.labels, self._outputs[True])
            compiled.train_op = compiled.optimizer.tf_optimizer().minimize(train_loss,
                                                                           var_list=self.trainable_weights)
            compiled.train_totals = _Totals(f"{self.name}_train_total", compiled.loss, compiled.labels,
                                            self._outputs[True], compiled.metrics)
            compiled.eval_totals = _Totals(f"{self.name}_eval_total", compiled.loss, compiled.labels,
                                           self._outputs[False], compiled.metrics)
            new_variables = [v for v in self._graph.get_collection("variables") if v not in graph_variables]
            self._session.run(variables_initializer(new_variables))  # the optimizer's slots
        return compiled

    # What fit, evaluate and predict run: Session.runs of the graph's fetches, `steps_per_execution` batches a
    # call (graphc.keras.eager's models run a compiled tf.function a batch instead).

    def _prepare(self, x: np.ndarray, y: Optional[np.ndarray] = None) -> None:
        """Builds what running on inputs like `x` (and training on labels like `y`) needs."""
        self._build_for(x)
        if y is not None:
            self._build_training(y)

    def _train_calls(self, x, y, order, batch_size: int, loss, metrics: list):
        """Trains on the examples of `order` in batches, setting `loss` and `metrics` to the epoch's so far
        after each native call; yields the batches each call ran."""
        compiled = self._compiled
        return self._run_executions([compiled.train_op], compiled.train_totals, x, y, order, batch_size, loss, metrics)

    def _test_calls(self, x, y, batch_size: int, loss, metrics: list):
        """As `_train_calls`, on the inference pass over (x, y) in order."""
        return self._run_executions([], self._compiled.eval_totals, x, y, np.arange(len(x)), batch_size, loss,
                                    metrics)

    def _predict_batch(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(self._outputs[False], {self._inputs: x})

    def _require_compiled(self) -> _Compiled:
        if self._compiled is None:
            raise RuntimeError("You must compile your model before training/testing. "
                               "Use `model.compile(optimizer, loss)`.")
        return self._compiled

    # -- the Keras API ---------------------------------------------------------------------------------

    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, steps_per_execution: int = 1) -> None:
        """Chooses the optimizer, the loss and the metrics `fit` and `evaluate` use; `fit` and `evaluate` run
        `steps_per_execution` batches per native call (`predict` one)."""
        if loss is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, (int, np.integer)):
            raise TypeError(f"steps_per_execution must be an int, got {steps_per_execution!r}")
        if steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be at least 1, got {steps_per_execution}")
        self._compiled = _Compiled(optimizer, loss, metrics, int(steps_per_execution))

    def fit(self, x, y, batch_size: Optional[int] = None, epochs: int = 1, verbose: int = 1,
            validation_data=None, shuffle: bool = True, initial_epoch: int = 0) -> History:
        """Trains for `epochs` passes over (x, y) in batches; one native call per `steps_per_execution`
        batches (the last, partial batch in a call of its own)."""
        compiled = self._require_compiled()
        x, y = _inputs_array(x), _labels_array(y, x, compiled.loss.label_dtype)
        self._prepare(x, y)
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        history = History()
        for epoch in range(initial_epoch, epochs):
            order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))
            loss = metrics_module.RunningMean("loss")
            with _progress(len(x), batch_size, f"Epoch {epoch + 1}/{epochs}", verbose) as bar:
                for batches in self._train_calls(x, y, order, batch_size, loss, compiled.metrics):
                    logs = _logs(loss, compiled.metrics)
                    bar.update(batches)
                    bar.set_postfix(logs, refresh=False)
                if validation_data is not None:
                    values = self.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                    values = values if isinstance(values, list) else [values]
                    logs.update({f"val_{name}": value for name, value in zip(self.metrics_names, values)})
                    bar.set_postfix(logs)
            history.record(epoch, logs)
        return history

    def _run_executions(self, ops: list, totals: _Totals, x, y, order, batch_size: int, loss, metrics: list):
        """Runs `ops` and the totals' updates over the examples of `order`, `steps_per_execution` batches a
        native call (see `_executions`), setting `loss` and `metrics` from the totals after each call;
        yields the batches each call ran."""
        self._session.run(totals.reset)
        for start, batches in _executions(len(x), batch_size, self._compiled.steps_per_execution):
            examples = order[start:start + batches * batch_size]
            inputs, labels = x[examples], y[examples]
            if batches > 1:  # stacked: the k-th batch for the k-th step of the call
                inputs = inputs.reshape((batches, batch_size) + inputs.shape[1:])
                labels = labels.reshape((batches, batch_size) + labels.shape[1:])
            values = self._session.run(ops + totals.fetches, {self._inputs: inputs, self._compiled.labels: labels},
                                       steps=batches)
            loss_total, *metric_totals, count = values[len(ops):]
            loss.assign(loss_total, count)
            for metric, total in zip(metrics, metric_totals):
                metric.assign(total, count)
            yield batches

    @property
    def metrics_names(self) -> list:
        compiled = self._require_compiled()
        return ["loss"] + [m.name for m in compiled.metrics]

    def evaluate(self, x, y, batch_size: Optional[int] = None, verbose: int = 1):
        """The loss (and metrics, as a list) over (x, y) on the inference pass."""
        compiled = self._require_compiled()
        x, y = _inputs_array(x), _labels_array(y, x, compiled.loss.label_dtype)
        self._prepare(x, y)
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        loss = metrics_module.RunningMean("loss")
        metrics = [metrics_module.RunningMean(m.name) for m in compiled.metrics]
        with _progress(len(x), batch_size, "Evaluate", verbose) as bar:
            for batches in self._test_calls(x, y, batch_size, loss, metrics):
                bar.update(batches)
                bar.set_postfix(_logs(loss, metrics), refresh=False)
        if not metrics:
            return float(loss.result())
        return [float(loss.result())] + [float(m.result()) for m in metrics]

    def predict(self, x, batch_size: Optional[int] = None, verbose: int = 0) -> np.ndarray:
        """The model's outputs for `x` on the inference pass, batch by batch."""
        x = _inputs_array(x)
        self._prepare(x)
        batch_size = batch_size or DEFAULT_BATCH_SIZE
        outputs = []
        with _progress(len(x), batch_size, "Predict", verbose) as bar:
            for start in range(0, len(x), batch_size):
                outputs.append(self._predict_batch(x[start:start + batch_size]))
                bar.update(1)
        return np.concatenate(outputs)

    def get_weights(self) -> list:
        """The weights' values as NumPy arrays, in `weights` order."""
        return self._session.run(self.weights) if self._session is not None else []

    def set_weights(self, values) -> None:
        """Sets the weights from arrays in `weights` order."""
        if self._session is None:
            raise ValueError(f"Weights for model {self.name} have not yet been created: call the model on data first.")
        weights = self.weights
        if len(values) != len(weights):
            raise ValueError(f"You called `set_weights(weights)` on model {self.name} with {len(values)} arrays, "
                             f"but the model has {len(weights)} weights.")
        for weight, value in zip(weights, values):
            weight.load(np.asarray(value), self._session)

    def summary(self, print_fn=print) -> None:
        """Prints each layer's name, type and parameter count."""
        rows = [(layer.name, type(layer).__name__, layer.count_params()) for layer in self.layers]
        width = max([len(f"{n} ({t})") for n, t, _ in rows] + [20])
        print_fn(f'Model: "{self.name}"')
        print_fn(f"{'Layer (type)':<{width}}  {'Param #':>10}")
        for name, kind, count in rows:
            print_fn(f"{f'{name} ({kind})':<{width}}  {count:>10,}")
        print_fn(f"Total params: {sum(c for _, _, c in rows):,}")


class Sequential(Model):
    """A model that applies its layers one after another."""

    def __init__(self, layers=None, name: Optional[str] = None):
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer!r}")
        if self._graph is not None:
            raise ValueError("graphc cannot add layers to a Sequential model after it has been built")
        self._layers.append(layer)

    def call(self, inputs, training=None):
        for layer in self._layers:
            inputs = layer(inputs, training=training) if takes_training(layer.call) else layer(inputs)
        return inputs


def _executions(examples: int, batch_size: int, per_execution: int):
    """(first example, batches) of each native call of an epoch: `per_execution` full batches a call while
    there are that many, the full batches left in one call, then the partial batch in one of its own."""
    start = 0
    while start < examples:
        batches = min(per_execution, (examples - start) // batch_size) or 1
        yield start, batches
        start += batches * batch_size


def _inputs_array(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"Model inputs must be numeric arrays, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.float32)


def _labels_array(y, x: np.ndarray, dtype) -> np.ndarray:
    """Labels as the loss takes them: integer class labels flattened to (batch,)."""
    y = np.asarray(y)
    if len(y) != len(x):
        raise ValueError(f"Data cardinality is ambiguous: x sizes: {len(x)}, y sizes: {len(y)}. "
                         f"Make sure all arrays contain the same number of samples.")
    if dtype.is_integer:
        if y.ndim > 1 and y.shape[1:] != (1,) * (y.ndim - 1):
            raise ValueError(f"Sparse labels must have shape (batch,) or (batch, 1), got {y.shape}")
        y = y.reshape(len(y))
    return np.ascontiguousarray(y, dtype=dtype.np_dtype)


def _logs(loss, metrics) -> dict:
    return {"loss": float(loss.result()), **{m.name: float(m.result()) for m in metrics}}


def _progress(count: int, batch_size: int, description: str, verbose: int):
    """A tqdm bar over the batches (a silent one with verbose=0)."""
    from tqdm import tqdm  # imported when a model trains, not with graphc
    return tqdm(total=-(-count // batch_size), desc=description, unit="batch", disable=not verbose,
                dynamic_ncols=True, leave=True)
