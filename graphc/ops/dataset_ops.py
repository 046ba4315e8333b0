"""Iterator ops: what a graph holds of tf.data (graphc/data builds the datasets and iterators).

Both ops have role INPUT: the session runs their `input_function` on the host
before the compiled step, and the values IteratorGetNext gives become the
step's feeds. The iterator itself (attr `iterator`, graphc.data's Iterator)
keeps the dataset; the session keeps each iterator's position (its `states`),
as TF keeps an iterator resource per session.
"""

from __future__ import annotations

from graphc.core import registry
from graphc.core.registry import NOT_DIFFERENTIABLE, OpDef, Role, TensorType
from graphc.frontend.graph import get_default_graph


def _get_next_infer(types, attrs):
    return [TensorType(dtype, dims) for dtype, dims in zip(attrs["output_types"], attrs["output_shapes"])]


def _next_element(op, states, fed):
    return op.attrs["iterator"]._next_element(op, states, fed)


iterator_get_next_p = registry.register(OpDef(
    name="iterator_get_next", tf_type="IteratorGetNext", infer=_get_next_infer, role=Role.INPUT,
    gradient=NOT_DIFFERENTIABLE, input_function=_next_element))


def _initialize(op, states, fed):
    op.attrs["iterator"]._initialize(op.attrs["dataset"], states, fed)
    return []


make_iterator_p = registry.register(OpDef(
    name="make_iterator", tf_type="MakeIterator", infer=lambda types, attrs: [], role=Role.INPUT,
    gradient=NOT_DIFFERENTIABLE, input_function=_initialize))


def iterator_get_next(iterator, output_types, output_shapes, name=None):
    """The next element of `iterator` as tensors (flat), one per component."""
    op = get_default_graph().create_op(iterator_get_next_p, [], {
        "iterator": iterator, "output_types": tuple(output_types), "output_shapes": tuple(output_shapes)},
        name=name or "IteratorGetNext")
    return op.outputs


def make_iterator(iterator, dataset, name=None):
    """The op that (re)starts `iterator` on `dataset` when run."""
    return get_default_graph().create_op(make_iterator_p, [], {"iterator": iterator, "dataset": dataset},
                                         name=name or "MakeIterator")
