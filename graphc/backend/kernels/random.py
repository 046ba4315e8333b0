"""Random ops: call the Philox generators of runtime_c with the op's state, then advance its run count.

The state (`registry.RNG_*`: run count, seed, seed2) is a variable the session
passes at run time, so the seeds are not in the code: one library serves any.
"""

from __future__ import annotations

from graphc.backend import lowering
from graphc.backend.kernel_builder import I32, KernelBuilder, i64, runtime_function
from graphc.core import dtypes
from graphc.core.registry import RNG_RUN, RNG_SEED, RNG_SEED2

_RUNTIME_NAMES = {"random_uniform": "graphc_random_uniform", "random_normal": "graphc_random_normal",
                  "truncated_normal": "graphc_truncated_normal"}


def lower_random(module, name, inst):
    out_type = inst.result.type
    suffix = "f32" if out_type.dtype.size == 4 else "f64"
    kb = KernelBuilder(module, name, ["out", "state", "status"])
    generate = runtime_function(module, f"{_RUNTIME_NAMES[inst.op]}_{suffix}")
    state = kb.arg("state")
    run = kb.load(state, dtypes.int64, i64(RNG_RUN))
    keys = [kb.b.trunc(kb.load(state, dtypes.int64, i64(field)), I32) for field in (RNG_SEED, RNG_SEED2)]
    kb.b.call(generate, [kb.arg("out"), i64(out_type.num_elements), *keys, run])
    kb.store(state, dtypes.int64, i64(RNG_RUN), kb.b.add(run, i64(1)))
    return kb.finish()


lowering.register_kernels({op: lower_random for op in _RUNTIME_NAMES})
