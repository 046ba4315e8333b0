"""`tf.enable_eager_execution()`: the TF1 namespace switched to eager execution, as TF 1.x did.

The switch rebinds the names of `graphc` and `graphc.compat.v1` (a process-wide
change, as TF's): the op builders become eager ops (`graphc.eager`), `tf.Variable`
the eager variable, `tf.GradientTape` and `tf.function` appear, `tf.train`'s
optimizers are the eager ones with TF1's formulas (`minimize` takes the loss as a
callable), and the names that only make sense in a graph (`placeholder`,
`Session`) raise RuntimeError as in TF 1.x eager mode; `get_variable` raises
UnimplementedError (not there yet: `tf.Variable` is). A program must switch
before it builds any graph op: TF's ValueError otherwise.
"""

from __future__ import annotations

import inspect
import sys
import types

from graphc import errors
from graphc.eager import optimizers
from graphc.eager.context import constant, convert_to_tensor, eager_function
from graphc.eager.function import TensorSpec, function
from graphc.eager.printing import print_
from graphc.eager.tape import GradientTape
from graphc.eager.tensor import EagerTensor
from graphc.eager.variables import EagerVariable
from graphc.frontend.graph import get_default_graph
from graphc.keras import eager as keras_eager

# The op builders made eager ops; the variable and state modules have eager counterparts instead.
_OP_MODULES = "graphc.ops."
_NOT_OPS = ("graphc.ops.variables", "graphc.ops.variable_scope", "graphc.ops.state_ops")
_GRAPH_ONLY = ("placeholder", "Session", "InteractiveSession", "global_variables_initializer",
               "initialize_all_variables", "local_variables_initializer", "get_default_session")
_NOT_YET = ("get_variable",)  # TF 1.x eager has them; graphc's eager mode not yet
_TRAIN = {name: getattr(optimizers, name) for name in ("GradientDescentOptimizer", "MomentumOptimizer",
                                                       "AdamOptimizer", "AdagradOptimizer", "RMSPropOptimizer")}

_enabled = False


def enabled() -> bool:
    """Whether the TF1 namespace executes eagerly."""
    return _enabled


def enable(v1: types.ModuleType) -> None:
    """Switches graphc's TF1 namespace, `v1` (graphc.compat.v1, which graphc mirrors), to eager mode;
    ValueError once graph ops exist (TF's rule)."""
    global _enabled
    if _enabled:
        return
    if get_default_graph().get_operations():
        raise ValueError("tf.enable_eager_execution must be called at program startup.")
    names = {name: _eager(name, value) for name, value in vars(v1).items()
             if not name.startswith("_") and not inspect.ismodule(value)}
    names.update(constant=constant, convert_to_tensor=convert_to_tensor, function=function, TensorSpec=TensorSpec,
                 GradientTape=GradientTape, Tensor=EagerTensor, Variable=EagerVariable, keras=keras_eager.namespace,
                 executing_eagerly=_executing_eagerly, print=print_)
    names.update({name: _graph_only(name) for name in _GRAPH_ONLY})
    names.update({name: _not_yet(name) for name in _NOT_YET})
    names.update(assign=_variable_method("assign"), assign_add=_variable_method("assign_add"),
                 assign_sub=_variable_method("assign_sub"))
    names.update(nn=EagerModule(v1.nn, {}), train=EagerModule(v1.train, _TRAIN),
                 math=EagerModule(v1.math, {}))
    package = sys.modules["graphc"]
    for module in (v1, package):
        for name, value in names.items():
            setattr(module, name, value)
    _enabled = True


def _executing_eagerly() -> bool:
    """True: the TF1 namespace was switched to eager execution."""
    return True


def _eager(name: str, value):
    """An op builder of the TF1 namespace as an eager op; anything else as it is."""
    module = getattr(value, "__module__", None) or ""
    if inspect.isfunction(value) and module.startswith(_OP_MODULES) and module not in _NOT_OPS:
        return eager_function(value, name)
    return value


def _graph_only(name: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"tf.{name}() is not compatible with eager execution.")
    refuse.__name__ = name
    return refuse


def _not_yet(name: str):
    def refuse(*args, **kwargs):
        raise errors.UnimplementedError(None, None, f"tf.{name} is not supported in graphc's eager mode "
                                        "(tf.enable_eager_execution): create variables with tf.Variable")
    refuse.__name__ = name
    return refuse


def _variable_method(method: str):
    """`tf.assign(ref, value)` and friends on an eager variable: its method."""
    def update(ref, value, use_locking=None, name=None, **kwargs):
        return getattr(ref, method)(value)
    update.__name__ = method
    return update


class EagerModule(types.ModuleType):
    """A TF1 module (`tf.nn`, `tf.train`) in eager mode: `overrides` first, then the module's op builders
    made eager ops, then its other names."""

    def __init__(self, module, overrides: dict):
        super().__init__(module.__name__, module.__doc__)
        self._module, self._overrides = module, dict(overrides)

    def __getattr__(self, name):
        if name in self._overrides:
            return self._overrides[name]
        value = getattr(self._module, name)
        module = getattr(value, "__module__", None) or ""
        if inspect.isfunction(value) and module.startswith((_OP_MODULES, "graphc.nn", "graphc.math")):
            value = self._overrides[name] = eager_function(value, name)
        return value

    def __dir__(self):
        return sorted(set(dir(self._module)) | set(self._overrides))
