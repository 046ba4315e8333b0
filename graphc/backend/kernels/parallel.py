"""Parallel loops in generated code: a range split across the runtime's thread pool.

`emit_parallel_for` packs the values a loop body needs into a context on the
caller's stack, emits a task function that unpacks them and runs the body over
its share of [0, extent), and calls `graphc_parallel_for` (runtime_c/threads.c).
Each index's work must not depend on which task runs it, so results are the
same whatever the thread count.
"""

from __future__ import annotations

import llvmlite.ir as ir

from graphc.backend.kernel_builder import I32, I64, PTR, VOID, KernelBuilder, i64, runtime_function

# Tasks per thread of the pool: the threads take tasks one at a time (runtime_c/threads.c), so a thread
# that starts late, or loses its core to another process for a while, leaves the rest to the others.
TASKS_PER_THREAD = 4


def emit_parallel_for(kb: KernelBuilder, name: str, extent: int, values: list, emit_range,
                      parallel: bool = True, max_tasks: int = 0, each_index: bool = False,
                      per_thread: int = TASKS_PER_THREAD) -> None:
    """Runs emit_range(task, task_values, (begin, end)) over [0, extent) on the thread pool.

    `values` (pointers or integers of the calling kernel) reach the task as
    `task_values`, in order; the task's `index` argument (below `max_tasks`, if
    given) and `thread` argument are there too. The range is cut into up to
    TASKS_PER_THREAD tasks per thread, or with `each_index` one task per index
    (few, equal and long ones, such as a convolution's images: the threads then
    share them out one at a time, where 8 tasks of 12 or 13 images left one of
    two threads 52 images and the other 48). `per_thread` = 1 gives each thread
    one equal share (the caller the first), the rows a product split by rows
    gives it (see elementwise.ALIGNED_MIN_WORK). With `parallel` false (too
    little work to wake the pool) the whole range runs as one task on the caller.
    """
    module, b = kb.module, kb.b
    context_type = ir.LiteralStructType([v.type for v in values] + [I64])  # ..., task count

    task = KernelBuilder(module, name, ["context", "index", "thread"], [PTR, I64, I64], VOID)
    tb = task.b

    def field(index):
        return tb.load(tb.gep(task.arg("context"), [ir.Constant(I32, 0), ir.Constant(I32, index)],
                              source_etype=context_type), typ=context_type.elements[index])

    task_values = [field(i) for i in range(len(values))]
    count, index = field(len(values)), task.arg("index")
    begin = tb.udiv(tb.mul(i64(extent), index), count)
    end = tb.udiv(tb.mul(i64(extent), tb.add(index, i64(1))), count)
    emit_range(task, task_values, (begin, end))
    task_function = task.finish()

    if parallel and extent > 1 and each_index:
        count = i64(extent)
    elif parallel and extent > 1:
        threads = b.sext(b.call(runtime_function(module, "graphc_num_threads"), []), I64)
        tasks = b.mul(threads, i64(per_thread))
        limit = min(extent, max_tasks) if max_tasks else extent
        count = b.select(b.icmp_signed("<", tasks, i64(limit)), tasks, i64(limit))
    else:
        count = i64(1)
    context = kb.variable(context_type)
    for i, value in enumerate(values + [count]):
        b.store(value, b.gep(context, [ir.Constant(I32, 0), ir.Constant(I32, i)], source_etype=context_type))
    parallel_for = runtime_function(module, "graphc_parallel_for")
    b.call(parallel_for, [task_function, context, count])
