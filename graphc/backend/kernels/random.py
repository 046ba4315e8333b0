"""Random ops: call the Philox generators of runtime_c, then advance the op's run counter."""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, I64, KernelBuilder, i64, runtime_function

_RUNTIME_NAMES = {"random_uniform": "graphc_random_uniform", "random_normal": "graphc_random_normal",
                  "truncated_normal": "graphc_truncated_normal"}


def lower_random(module, name, inst):
    out_type = inst.result.type
    suffix = "f32" if out_type.dtype.size == 4 else "f64"
    kb = KernelBuilder(module, name, ["out", "counter", "status"])
    generate = runtime_function(module, f"{_RUNTIME_NAMES[inst.op]}_{suffix}")
    counter = kb.arg("counter")
    run = kb.b.load(counter, typ=I64)
    seed, seed2 = inst.attrs["seed"], inst.attrs["seed2"]
    kb.b.call(generate, [kb.arg("out"), i64(out_type.num_elements), ir.Constant(I32, seed & 0xFFFFFFFF),
                         ir.Constant(I32, seed2 & 0xFFFFFFFF), run])
    kb.b.store(kb.b.add(run, i64(1)), counter)
    return kb.finish()


lowering.register_kernels({op: lower_random for op in _RUNTIME_NAMES})
