"""`tf.nn.rnn_cell`: TF1's recurrent cells, with TF1's formulas and variable names.

A cell is a layer (layers/base.py) called as `cell(inputs, state) -> (output, new_state)` once per
time step: its first call creates its variables in its scope (`rnn/basic_lstm_cell/kernel`), later
calls share them, so a checkpoint of TF1's graph restores into graphc's. The formulas, gate order and
initialisers are TF 1.15's rnn_cell_impl.py:

- BasicRNNCell: h = tanh([x, h] @ kernel + bias).
- BasicLSTMCell: [i, j, f, o] = [x, h] @ kernel + bias; c = c * sigmoid(f + forget_bias) +
  sigmoid(i) * tanh(j); h = tanh(c) * sigmoid(o).
- LSTMCell: the same, with peepholes (w_i_diag, w_f_diag, w_o_diag), cell_clip, a projection of h
  (projection/kernel, num_proj) and proj_clip.
- GRUCell: [r, u] = sigmoid([x, h] @ gates/kernel + gates/bias) (bias 1.0); c = tanh([x, r * h] @
  candidate/kernel + candidate/bias); h = u * h + (1 - u) * c.

States are tensors or nested tuples of them (LSTMStateTuple(c, h)); `state_size` and `output_size`
describe them as ints.
"""

from __future__ import annotations

import collections

from graphc.core import dtypes
from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.layers.base import Layer
from graphc.ops import array_ops, clip_ops, init_ops, layout_ops, math_ops, nn_ops
from graphc.ops.variable_scope import variable_scope


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM's state: the cell state `c` and the output `h` (TF1's order)."""

    __slots__ = ()

    @property
    def dtype(self):
        if self.c.dtype is not self.h.dtype:
            raise TypeError(f"Inconsistent internal state: {self.c.dtype} vs {self.h.dtype}")
        return self.c.dtype


def flatten(structure) -> list:
    """The leaves of a nested tuple (or list) structure, depth first."""
    if isinstance(structure, (tuple, list)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_like(structure, leaves):
    """`leaves` (a flat sequence) arranged in `structure`'s nesting (namedtuples keep their type)."""
    leaves = iter(leaves)

    def pack(item):
        if isinstance(item, (tuple, list)):
            packed = [pack(x) for x in item]
            if isinstance(item, tuple) and hasattr(item, "_fields"):
                return type(item)(*packed)
            return type(item)(packed)
        return next(leaves)

    return pack(structure)


def _zeros_for(size, batch_size, dtype):
    """Zeros of [batch_size, size] (size an int, or a shape as a list)."""
    dims = list(size) if isinstance(size, (list, tuple)) else [size]
    if isinstance(batch_size, int):
        return array_ops.zeros([batch_size] + dims, dtype=dtype)
    zeros = array_ops.zeros(layout_ops.stack([batch_size] + dims), dtype=dtype)
    zeros.set_shape([None] + dims)  # the batch size is known when the step compiles, the rest now
    return zeros


class RNNCell(Layer):
    """The base of every cell: `__call__(inputs, state) -> (output, new_state)`, `state_size`, `output_size`,
    `zero_state`."""

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    def __call__(self, inputs, state, scope=None):
        return super().__call__(inputs, state, scope=scope) if scope is not None else super().__call__(inputs, state)

    def zero_state(self, batch_size, dtype):
        """Zeros in the shape of the state, for `batch_size` rows (an int or a scalar tensor)."""
        with name_scope(f"{type(self).__name__}ZeroState", values=[batch_size]):
            dtype = dtypes.as_dtype(dtype)
            if isinstance(self.state_size, (tuple, list)):
                return pack_like(self.state_size, [_zeros_for(size, batch_size, dtype)
                                                   for size in flatten(self.state_size)])
            return _zeros_for(self.state_size, batch_size, dtype)


def _input_depth(input_shape, cell) -> int:
    depth = input_shape.as_list()[-1] if input_shape.ndims else None
    if depth is None:
        raise ValueError(f"Expected inputs.shape[-1] to be known, saw shape: {input_shape} (cell {cell.name})")
    return depth


def _activation(activation):
    return math_ops.tanh if activation is None else activation


class BasicRNNCell(RNNCell):
    """The Elman cell: output = new_state = activation([inputs, state] @ kernel + bias)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    state_size = property(lambda self: self._num_units)
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        depth = _input_depth(inputs_shape, self)
        self.kernel = self.add_weight("kernel", shape=[depth + self._num_units, self._num_units])
        self.bias = self.add_weight("bias", shape=[self._num_units], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        gate_inputs = nn_ops.bias_add(math_ops.matmul(layout_ops.concat([inputs, state], 1), self.kernel), self.bias)
        output = self._activation(gate_inputs)
        return output, output


class BasicLSTMCell(RNNCell):
    """TF1's basic LSTM: gates i, j, f, o from one matmul; `forget_bias` added to f; no peepholes."""

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, name=None,
                 dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        depth = _input_depth(inputs_shape, self)
        self.kernel = self.add_weight("kernel", shape=[depth + self._num_units, 4 * self._num_units])
        self.bias = self.add_weight("bias", shape=[4 * self._num_units], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        c, h = state if self._state_is_tuple else layout_ops.split(state, 2, axis=1)
        gate_inputs = nn_ops.bias_add(math_ops.matmul(layout_ops.concat([inputs, h], 1), self.kernel), self.bias)
        i, j, f, o = layout_ops.split(gate_inputs, 4, axis=1)
        forget_bias = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        new_c = c * math_ops.sigmoid(f + forget_bias) + math_ops.sigmoid(i) * self._activation(j)
        new_h = self._activation(new_c) * math_ops.sigmoid(o)
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else layout_ops.concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(RNNCell):
    """TF1's full LSTM: BasicLSTMCell's gates with optional peepholes, cell clipping and a projection of
    the output (`num_proj`, clipped by `proj_clip`)."""

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs):
        if num_unit_shards is not None or num_proj_shards is not None:
            raise ValueError("graphc's LSTMCell has no sharded weights (num_unit_shards, num_proj_shards)")
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        output = self._num_proj or self._num_units
        return LSTMStateTuple(self._num_units, output) if self._state_is_tuple else self._num_units + output

    output_size = property(lambda self: self._num_proj or self._num_units)

    def build(self, inputs_shape):
        depth = _input_depth(inputs_shape, self)
        n, h_depth = self._num_units, self._num_proj or self._num_units
        self.kernel = self.add_weight("kernel", shape=[depth + h_depth, 4 * n], initializer=self._initializer)
        self.bias = self.add_weight("bias", shape=[4 * n], initializer=init_ops.zeros_initializer())
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", shape=[n], initializer=self._initializer)
            self._w_i_diag = self.add_weight("w_i_diag", shape=[n], initializer=self._initializer)
            self._w_o_diag = self.add_weight("w_o_diag", shape=[n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_weight("projection/kernel", shape=[n, self._num_proj],
                                                initializer=self._initializer)

    def call(self, inputs, state):
        n = self._num_units
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev, m_prev = state[:, :n], state[:, n:]
        lstm_matrix = nn_ops.bias_add(math_ops.matmul(layout_ops.concat([inputs, m_prev], 1), self.kernel), self.bias)
        i, j, f, o = layout_ops.split(lstm_matrix, 4, axis=1)
        forget_bias = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        if self._use_peepholes:
            c = (math_ops.sigmoid(f + forget_bias + self._w_f_diag * c_prev) * c_prev
                 + math_ops.sigmoid(i + self._w_i_diag * c_prev) * self._activation(j))
        else:
            c = math_ops.sigmoid(f + forget_bias) * c_prev + math_ops.sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = clip_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = math_ops.sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = math_ops.sigmoid(o) * self._activation(c)
        if self._num_proj is not None:
            m = math_ops.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = clip_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else layout_ops.concat([c, m], 1)
        return m, new_state


class GRUCell(RNNCell):
    """TF1's gated recurrent unit (Cho et al. 2014): reset and update gates, then a candidate."""

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    state_size = property(lambda self: self._num_units)
    output_size = property(lambda self: self._num_units)

    def build(self, inputs_shape):
        depth, n = _input_depth(inputs_shape, self), self._num_units
        self._gate_kernel = self.add_weight("gates/kernel", shape=[depth + n, 2 * n],
                                            initializer=self._kernel_initializer)
        self._gate_bias = self.add_weight("gates/bias", shape=[2 * n], initializer=(
            self._bias_initializer if self._bias_initializer is not None else init_ops.constant_initializer(1.0)))
        self._candidate_kernel = self.add_weight("candidate/kernel", shape=[depth + n, n],
                                                 initializer=self._kernel_initializer)
        self._candidate_bias = self.add_weight("candidate/bias", shape=[n], initializer=(
            self._bias_initializer if self._bias_initializer is not None else init_ops.zeros_initializer()))

    def call(self, inputs, state):
        gate_inputs = nn_ops.bias_add(math_ops.matmul(layout_ops.concat([inputs, state], 1), self._gate_kernel),
                                      self._gate_bias)
        r, u = layout_ops.split(math_ops.sigmoid(gate_inputs), 2, axis=1)
        candidate = nn_ops.bias_add(math_ops.matmul(layout_ops.concat([inputs, r * state], 1),
                                                    self._candidate_kernel), self._candidate_bias)
        c = self._activation(candidate)
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """Cells stacked: each one's output is the next one's input, in scopes `cell_0`, `cell_1` ..."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not state_is_tuple:
            raise ValueError("graphc's MultiRNNCell keeps its states as a tuple (state_is_tuple=True)")
        self._cells = list(cells)

    state_size = property(lambda self: tuple(cell.state_size for cell in self._cells))
    output_size = property(lambda self: self._cells[-1].output_size)

    def zero_state(self, batch_size, dtype):
        with name_scope(f"{type(self).__name__}ZeroState", values=[batch_size]):
            return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

    def call(self, inputs, state):
        current, new_states = inputs, []
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                current, new_state = cell(current, state[i])
            new_states.append(new_state)
        return current, tuple(new_states)


class DropoutWrapper(RNNCell):
    """Dropout on a cell's inputs, outputs and (`state_keep_prob`) state, a fresh mask at each step.
    TF1's variational recurrent dropout (one mask for every step) is not built."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent=False, input_size=None, dtype=None, seed=None,
                 dropout_state_filter_visitor=None):
        if variational_recurrent:
            raise NotImplementedError("graphc's DropoutWrapper has no variational_recurrent dropout (one mask for "
                                      "every time step)")
        if dropout_state_filter_visitor is not None:
            raise NotImplementedError("graphc's DropoutWrapper has no dropout_state_filter_visitor")
        super().__init__(dtype=dtype)
        self._cell = cell
        self._keep = {"input": input_keep_prob, "output": output_keep_prob, "state": state_keep_prob}
        self._seed = seed

    state_size = property(lambda self: self._cell.state_size)
    output_size = property(lambda self: self._cell.output_size)

    def zero_state(self, batch_size, dtype):
        return self._cell.zero_state(batch_size, dtype)

    def _dropout(self, values, which):
        keep = self._keep[which]
        if isinstance(keep, (int, float)) and keep == 1:
            return values
        leaves = [nn_ops.dropout(v, keep_prob=keep, seed=self._seed) for v in flatten(values)]
        return pack_like(values, leaves)

    def __call__(self, inputs, state, scope=None):
        """The wrapped cell, called in the caller's scope (the wrapper adds none to the variable names)."""
        inputs = self._dropout(convert_to_tensor(inputs), "input")
        output, new_state = self._cell(inputs, state, scope=scope)
        if isinstance(new_state, LSTMStateTuple):  # TF1's default filter: an LSTM's c is never dropped, only h
            new_state = LSTMStateTuple(new_state.c, self._dropout(new_state.h, "state"))
        else:
            new_state = self._dropout(new_state, "state")
        return self._dropout(output, "output"), new_state


__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell", "LSTMStateTuple",
           "MultiRNNCell", "RNNCell"]
