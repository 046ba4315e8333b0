"""`tf.TensorArray`: a fixed number of same-shaped elements, written and read by a run-time index.

graphc's TensorArray is a value, not a resource: it holds one tensor of rows,
[size, *element_shape], and `write` returns a new TensorArray whose rows have one
replaced (a `row_write`, computed in place when nothing reads the old rows
afterwards: in a while_loop it writes straight into the loop variable). `read` is
a `row_read`, `stack` the rows themselves, `unstack` makes rows of a tensor. As a
while_loop variable it is carried as its rows (frontend/nest.py's components), so
a loop writing one row per step (dynamic_rnn's outputs) compiles to a native loop
that writes each row once. Gradients flow through the row ops.

An element shape whose sizes are known only when the step runs (a batch of None)
can be given as scalar tensors in `element_shape` (graphc's extension: TF infers it
from the writes): graphc compiles a step per concrete feed shape, so the rows have
one shape in each step.

Not done (UnimplementedError, naming the missing piece): a size not known when the
graph is built, `dynamic_size=True` (the rows are one buffer of a fixed shape), an
element shape first known from a write inside a loop, `concat`, `split`, `scatter`.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes
from graphc.core.tensor_shape import TensorShape, as_dims, is_fully_defined, merge_dims
from graphc.frontend.graph import Tensor, convert_to_tensor, name_scope
from graphc.frontend.static_value import static_value
from graphc.ops import array_ops, control_flow_ops, layout_ops


class TensorArray:
    """TF1's `tf.TensorArray` (see the module docstring for what graphc's is)."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None, _rows=None):
        self._dtype = dtypes.as_dtype(dtype)
        self._name = name or tensor_array_name or "TensorArray"
        if _rows is not None:
            self._rows = _rows
            self._size = _rows.shape.as_list()[0]
            self._element_shape = tuple(_rows.shape.as_list()[1:])
            return
        if dynamic_size:
            raise errors.UnimplementedError(None, None, "graphc's TensorArray has a size fixed when the graph is "
                                                        "built: dynamic_size=True is not implemented")
        known = static_value(convert_to_tensor(size, dtype=dtypes.int32), lambda t: t._dims) if size is not None \
            else None
        if known is None:
            raise errors.UnimplementedError(None, None, "graphc's TensorArray needs a size known when the graph is "
                                                        "built (its rows are one buffer)")
        self._size = int(known)
        self._rows = None
        if element_shape is not None and any(isinstance(d, Tensor) for d in element_shape):
            # graphc's extension: sizes as scalar tensors (a batch known when the step runs, tf.shape(x)[1]),
            # so that rows of an unknown batch can enter a loop (dynamic_rnn's outputs).
            sizes = [convert_to_tensor(d, dtype=dtypes.int32) for d in element_shape]
            self._element_shape = tuple(None if isinstance(d, Tensor) else int(d) for d in element_shape)
            self._rows = array_ops.zeros(layout_ops.stack([self._size, *sizes]), self._dtype, name=self._name)
            self._rows.set_shape((self._size,) + self._element_shape)
            return
        self._element_shape = None if element_shape is None else as_dims(element_shape)
        if self._element_shape is not None and is_fully_defined(self._element_shape):
            self._rows = array_ops.zeros([self._size, *self._element_shape], self._dtype, name=self._name)

    # -- the components a while_loop carries (frontend/nest.py) ---------------------------------------------

    def _graphc_components(self) -> list:
        if self._rows is None:
            raise errors.UnimplementedError(
                None, None, f"TensorArray {self._name} enters a loop before its element shape is known: give "
                            "element_shape= (graphc's loop variables have one shape)")
        return [self._rows]

    def _graphc_rebuild(self, components: list) -> "TensorArray":
        return TensorArray(self._dtype, name=self._name, _rows=components[0])

    # -- TF1's API ---------------------------------------------------------------------------------------------

    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self) -> TensorShape:
        return TensorShape(self._element_shape)

    @property
    def flow(self) -> Tensor:
        return self._rows

    def size(self, name=None) -> Tensor:
        return array_ops.constant(self._size, dtypes.int32, name=name or "size")

    def identity(self) -> "TensorArray":
        return self

    def close(self, name=None):
        return array_ops.identity(self._rows) if self._rows is not None else None

    def write(self, index, value, name=None) -> "TensorArray":
        """A TensorArray whose element `index` is `value`."""
        with name_scope(name, "TensorArrayWrite", [value]):
            value = convert_to_tensor(value, dtype=self._dtype)
            rows = self._rows
            if rows is None:
                shape = merge_dims(self._element_shape, value._dims) if self._element_shape is not None else value._dims
                if shape is None or not is_fully_defined(shape):
                    raise errors.UnimplementedError(
                        None, None, f"TensorArray {self._name}: the element shape must be known when the graph is "
                                    "built")
                rows = array_ops.zeros([self._size, *shape], self._dtype)
            elif merge_dims(tuple(self._element_shape), value._dims) is None:
                raise ValueError(f"Could not write to TensorArray index {index} because the value shape is "
                                 f"{TensorShape(value._dims)} which is incompatible with the TensorArray's "
                                 f"inferred element shape: {TensorShape(self._element_shape)}")
            index = convert_to_tensor(index, dtype=dtypes.int32)
            return TensorArray(self._dtype, name=self._name, _rows=control_flow_ops.write_row(rows, index, value))

    def read(self, index, name=None) -> Tensor:
        """Element `index`."""
        return control_flow_ops.read_row(self._needed_rows(), convert_to_tensor(index, dtype=dtypes.int32),
                                         name=name or "TensorArrayRead")

    def stack(self, name=None) -> Tensor:
        """Every element, stacked on a new first dimension."""
        return array_ops.identity(self._needed_rows(), name=name or "TensorArrayStack")

    def gather(self, indices, element_shape=None, name=None) -> Tensor:
        """The elements at `indices` (known when the graph is built), stacked."""
        known = static_value(convert_to_tensor(indices, dtype=dtypes.int32), lambda t: t._dims)
        if known is None:
            raise errors.UnimplementedError(None, None, "graphc's TensorArray.gather needs indices known when the "
                                                        "graph is built")
        rows = self._needed_rows()
        return array_ops.identity(rows) if list(np.ravel(known)) == list(range(self._size)) else \
            layout_ops.stack([rows[int(i)] for i in np.ravel(known)], name=name or "TensorArrayGather")

    def unstack(self, value, name=None) -> "TensorArray":
        """A TensorArray whose elements are `value`'s rows."""
        value = convert_to_tensor(value, dtype=self._dtype)
        if value._dims is None or value._dims[0] != self._size:
            raise ValueError(f"Cannot unstack a tensor of shape {TensorShape(value._dims)} into a TensorArray of "
                             f"size {self._size}")
        return TensorArray(self._dtype, name=self._name, _rows=array_ops.identity(value, name=name or "unstack"))

    def scatter(self, indices, value, name=None):
        raise errors.UnimplementedError(None, None, "graphc's TensorArray has no scatter yet")

    def concat(self, name=None):
        raise errors.UnimplementedError(None, None, "graphc's TensorArray has no concat yet")

    def split(self, value, lengths, name=None):
        raise errors.UnimplementedError(None, None, "graphc's TensorArray has no split yet")

    def _needed_rows(self) -> Tensor:
        if self._rows is None:
            raise errors.UnimplementedError(None, None, f"TensorArray {self._name} is read before any write: its "
                                                        "element shape is unknown")
        return self._rows

