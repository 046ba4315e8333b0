"""Graph functions over dataset elements (`Dataset.map`, `Dataset.filter`), each compiled as a step.

TF1 traces a map function into a function graph whose arguments are the
element's components; graphc does the same into a graph of its own, with one
placeholder per component, and runs it as a compiled step of a session private
to the function: one native call per element (per batch, after `batch`).
"""

from __future__ import annotations

import numpy as np

from graphc.core.dtypes import DType
from graphc.core.tensor_shape import as_dims
from graphc.data import structure
from graphc.frontend.graph import Graph, Tensor, convert_to_tensor
from graphc.ops.array_ops import placeholder
from graphc.session import Session


class GraphFunction:
    """`fn` traced on an element structure (its dtypes, dims and template); `outputs` the result's template
    of tensors, `output_types` and `output_dims` per flat component."""

    def __init__(self, fn, template, types: list[DType], dims: list, what: str):
        self.graph = Graph()
        with self.graph.as_default():
            self.arguments = [placeholder(dtype, shape, name=f"arg{i}")
                              for i, (dtype, shape) in enumerate(zip(types, dims))]
            element = structure.pack(template, self.arguments)
            # TF1 passes a tuple's components as separate arguments, anything else as one (StructuredFunction).
            result = fn(*element) if type(element) is tuple else fn(element)
            if isinstance(result, list):  # TF1 reads a returned list as a tuple
                result = tuple(result)
            if result is None:
                raise ValueError(f"The function passed to {what} returned None: it must return tensors")
            self.outputs = structure.map_structure(convert_to_tensor, result)
        self.flat_outputs: list[Tensor] = structure.flatten(self.outputs)
        self.output_types = [t.dtype for t in self.flat_outputs]
        self.output_dims = [as_dims(t.shape) for t in self.flat_outputs]
        self._session = None

    def __call__(self, components: list) -> list:
        """The function's flat outputs for an element's flat components, computed by its compiled step."""
        if self._session is None:  # opened with the first element: a function never run compiles nothing
            self._session = Session(graph=self.graph)
        values = self._session.run(self.flat_outputs, dict(zip(self.arguments, components)))
        return [np.asarray(value) for value in values]
