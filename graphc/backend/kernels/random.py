"""Random ops: call the Philox generators of runtime_c with the op's state (uniform and normal ones in
chunks on the thread pool), then advance its run count.

The state (`registry.RNG_*`: run count, seed, seed2) is a variable the session
passes at run time, so the seeds are not in the code: one library serves any.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from graphc import errors
from graphc.backend import lowering
from graphc.backend.kernel_builder import F64, I1, I32, I64, KernelBuilder, i64, runtime_function
from graphc.backend.kernels.parallel import emit_parallel_for
from graphc.core import dtypes
from graphc.core.messages import sampler_exhausted
from graphc.core.registry import RNG_RUN, RNG_SEED, RNG_SEED2
from graphc.core.sampling import sampler_pool_size

_RUNTIME_NAMES = {"random_uniform": "graphc_random_uniform", "random_normal": "graphc_random_normal",
                  "truncated_normal": "graphc_truncated_normal"}
# The uniform and normal generators fill any range of their result (each Philox block serves the same
# elements whoever computes it), so the pool's tasks share it out in chunks of this many elements (a
# multiple of the 4 a block serves); truncated normals, whose draws retry, fill the result whole.
_CHUNK_ELEMENTS = 4096
_RANGED = ("random_uniform", "random_normal")


def lower_random(module, name, inst):
    out_type = inst.result.type
    suffix = "f32" if out_type.dtype.size == 4 else "f64"
    kb = KernelBuilder(module, name, ["out", "state", "status"])
    generate = runtime_function(module, f"{_RUNTIME_NAMES[inst.op]}_{suffix}")
    state = kb.arg("state")
    run = kb.load(state, dtypes.int64, i64(RNG_RUN))
    keys = [kb.b.trunc(kb.load(state, dtypes.int64, i64(field)), I32) for field in (RNG_SEED, RNG_SEED2)]
    count = out_type.num_elements
    if inst.op in _RANGED:
        def chunk_range(task, values, outer):
            tb = task.b
            out, key0, key1, task_run = values
            end = tb.mul(outer[1], i64(_CHUNK_ELEMENTS))
            end = tb.select(tb.icmp_signed("<", end, i64(count)), end, i64(count))
            tb.call(generate, [out, tb.mul(outer[0], i64(_CHUNK_ELEMENTS)), end, key0, key1, task_run])

        emit_parallel_for(kb, f"{name}_chunks", -(-count // _CHUNK_ELEMENTS), [kb.arg("out"), *keys, run],
                          chunk_range, parallel=count >= 2 * _CHUNK_ELEMENTS)
    else:
        kb.b.call(generate, [kb.arg("out"), i64(count), *keys, run])
    kb.store(state, dtypes.int64, i64(RNG_RUN), kb.b.add(run, i64(1)))
    return kb.finish()


lowering.register_kernels({op: lower_random for op in _RUNTIME_NAMES})


def lower_log_uniform_sampled(module, name, inst):
    """The log-uniform sampler (ops/candidate_sampling_ops.py): a pool of float64 uniforms from the op's
    Philox stream in the workspace, mapped to ids and taken in order (skipping repeats when `unique`)
    until num_sampled; the number of draws used goes last."""
    num_sampled, range_max = int(inst.attrs["num_sampled"]), int(inst.attrs["range_max"])
    pool = sampler_pool_size(num_sampled)
    kb = KernelBuilder(module, name, ["out", "state", "workspace", "status"])
    b, out, uniforms, state = kb.b, kb.arg("out"), kb.arg("workspace"), kb.arg("state")
    run = kb.load(state, dtypes.int64, i64(RNG_RUN))
    keys = [b.trunc(kb.load(state, dtypes.int64, i64(field)), I32) for field in (RNG_SEED, RNG_SEED2)]
    b.call(runtime_function(module, "graphc_random_uniform_f64"), [uniforms, i64(0), i64(pool), *keys, run])
    kb.store(state, dtypes.int64, i64(RNG_RUN), b.add(run, i64(1)))
    found, tries = kb.variable(I64, i64(0)), kb.variable(I64, i64(0))
    log_range = ir.Constant(F64, float(np.log1p(float(range_max))))
    with kb.loop(pool, "draw") as draw:
        with kb.if_(b.icmp_signed("<", kb.get(found, I64), i64(num_sampled))):
            scaled = kb.intrinsic("exp", dtypes.float64, [b.fmul(kb.load(uniforms, dtypes.float64, draw), log_range)])
            candidate = b.sub(b.fptosi(kb.intrinsic("floor", dtypes.float64, [scaled]), I64), i64(1))
            candidate = b.select(b.icmp_signed("<", candidate, i64(range_max)), candidate, i64(range_max - 1))
            fresh = kb.variable(I1, ir.Constant(I1, 1))
            if inst.attrs["unique"]:
                with kb.loop(kb.get(found, I64), "seen") as earlier:
                    repeated = b.icmp_signed("==", kb.load(out, dtypes.int64, earlier), candidate)
                    kb.set(fresh, b.and_(kb.get(fresh, I1), b.not_(repeated)))
            with kb.if_(kb.get(fresh, I1)):
                kb.store(out, dtypes.int64, kb.get(found, I64), candidate)
                kb.set(found, b.add(kb.get(found, I64), i64(1)))
                kb.set(tries, b.add(draw, i64(1)))
    with kb.if_(b.icmp_signed("<", kb.get(found, I64), i64(num_sampled))):
        message = sampler_exhausted(num_sampled, "%lld", pool) + f" (op {inst.source or inst.op})"
        kb.fail(errors.INVALID_ARGUMENT, message, kb.get(found, I64))
    kb.store(out, dtypes.int64, i64(num_sampled), kb.get(tries, I64))
    return kb.finish()


lowering.register_kernels({"log_uniform_sampled": lower_log_uniform_sampled})
