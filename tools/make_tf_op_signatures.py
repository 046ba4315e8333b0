"""Writes graphc/core/tf_op_signatures.py: TensorFlow's OpDef signatures of the op types graphc has.

Run with TensorFlow installed (the `[tf-oracle]` extra), after adding ops:

    PYTHONPATH=. python tools/make_tf_op_signatures.py

The table says, for each TF op type graphc's registry names (and the few the
`.meta` save subgraph uses), how TensorFlow types its inputs and outputs
(which attr holds their dtype) and which attrs it has, required or not. The
`.meta` writer fills in TF's type attrs (`T`, `Tidx` ...) from it, so that
TensorFlow's importer accepts graphc's NodeDefs; graphc never imports TF.
"""

import os
import pprint

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from tensorflow.python.framework import dtypes as tf_dtypes  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402
from tensorflow.python.framework import tensor_util as tf_tensor_util  # noqa: E402

import graphc.ops.all  # noqa: E402,F401  registers every op
from graphc.core import registry  # noqa: E402

SAVE_SUBGRAPH_TYPES = ("PlaceholderWithDefault", "SaveV2", "RestoreV2")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "graphc", "core", "tf_op_signatures.py")

HEADER = '''"""TensorFlow's OpDef signatures of the op types graphc has (generated: tools/make_tf_op_signatures.py).

TF type -> (inputs, outputs, attrs). An input or output is how TF types it:
"T" (the type attr T), "N*T" (number attr N of type attr T), "[T]" (the type
list attr T) or a fixed dtype name ("int32"). `attrs` maps every attr that is
not a type or number attr bound by an input to its default (a dtype by its
name), None when it has none (it is required). Generated from TensorFlow {version}; a TensorFlow fact graphc needs
to write NodeDefs TensorFlow's importer accepts.
"""

SIGNATURES = '''


def argument(arg) -> str:
    if arg.number_attr:
        return f"{arg.number_attr}*{arg.type_attr or tf_dtypes.as_dtype(arg.type).name}"
    if arg.type_list_attr:
        return f"[{arg.type_list_attr}]"
    if arg.type_attr:
        return arg.type_attr
    return tf_dtypes.as_dtype(arg.type).name


def default(attr):
    """The attr's default as a Python value (a dtype by its name, a shape as a dims list), None if required."""
    if not attr.HasField("default_value"):
        return None
    value = attr.default_value
    kind = value.WhichOneof("value")
    if kind == "type":
        return tf_dtypes.as_dtype(value.type).name
    if kind == "s":
        return value.s.decode()
    if kind == "list":
        return list(value.list.i) or list(value.list.f) or [s.decode() for s in value.list.s]
    if kind == "tensor":
        return tf_tensor_util.MakeNdarray(value.tensor).tolist()
    if kind == "shape":
        return None if value.shape.unknown_rank else [d.size for d in value.shape.dim]
    return getattr(value, kind)


def main():
    import tensorflow as tf
    types = sorted({op.tf_type for op in registry.all_ops() if op.tf_type} | set(SAVE_SUBGRAPH_TYPES))
    table = {}
    for name in types:
        op_def = op_def_registry.get(name)
        if op_def is None:
            continue
        bound = {a.type_attr for a in op_def.input_arg} | {a.number_attr for a in op_def.input_arg}
        bound |= {a.type_list_attr for a in op_def.input_arg}
        attrs = {a.name: default(a) for a in op_def.attr if a.name not in bound - {""}}
        table[name] = (tuple(argument(a) for a in op_def.input_arg), tuple(argument(a) for a in op_def.output_arg),
                       attrs)
    with open(OUT, "w") as file:
        file.write(HEADER.format(version=tf.__version__) + pprint.pformat(table, width=116, sort_dicts=True) + "\n")


if __name__ == "__main__":
    main()
