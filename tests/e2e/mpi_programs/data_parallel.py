"""Run under mpirun by tests/e2e/test_data_parallel.py: Horovod's API on graphc, on 2 ranks.

`python data_parallel.py OUT` (under mpirun) trains `model` with hvd.DistributedOptimizer, each rank on
its own half of the batch, and saves each rank's final weights and the collective ops' values (compiled
and reference interpreter) to OUT/rank<r>.npz. `train` also serves the test's single-process run.
"""

import sys
from pathlib import Path

import numpy as np

import graphc as tf

BATCH, FEATURES, HIDDEN, CLASSES, STEPS = 16, 12, 8, 4, 5
OPTIMIZERS = {"sgd": lambda: tf.train.GradientDescentOptimizer(0.5),
              "momentum": lambda: tf.train.MomentumOptimizer(0.3, 0.9),
              "adam": lambda: tf.train.AdamOptimizer(0.05)}


def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(BATCH, FEATURES)).astype(np.float32), rng.randint(0, CLASSES, BATCH).astype(np.int32)


def train(rows, optimizer_name, wrap=None, start=None, seed=1):
    """Weights after STEPS steps on `rows` of the data: {name: array}. `wrap` wraps the optimizer;
    `start`, a function of the session, runs after initialisation (a broadcast)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        images, labels, train_op = _model(optimizer_name, wrap)
        x, y = data()
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            if start is not None:
                start(session)
            for _ in range(STEPS):
                session.run(train_op, {images: x[rows], labels: y[rows]})
            variables = tf.trainable_variables()
            return dict(zip([v.op.name for v in variables], session.run(variables)))


def _model(optimizer_name, wrap=None, batch=None):
    """(images, labels, train_op) of the MLP in the default graph."""
    images = tf.placeholder(tf.float32, [batch, FEATURES])
    labels = tf.placeholder(tf.int32, [batch])
    hidden = tf.layers.dense(images, HIDDEN, activation=tf.nn.relu)
    logits = tf.layers.dense(hidden, CLASSES)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    optimizer = OPTIMIZERS[optimizer_name]()
    return images, labels, (wrap(optimizer) if wrap else optimizer).minimize(loss)


def fused_step_kernels(hvd):
    """Of the Adam step with hvd.DistributedOptimizer, as compiled: its allreduces, and the concat, slice and
    reshape instructions that still run a kernel (none: the fused buffer is built and read in place)."""
    from graphc.compiler.lower import lower
    from graphc.ir.program import walk
    from graphc.passes.pipeline import run_pipeline
    from tests.helpers import feed_types

    half = BATCH // hvd.size()
    with tf.Graph().as_default():
        images, labels, train_op = _model("adam", hvd.DistributedOptimizer, half)
        feeds = feed_types({images: np.zeros((half, FEATURES)), labels: np.zeros(half)})
        program = run_pipeline(lower([train_op], feeds).program)
    instructions = list(walk(program.instructions))
    copies = [inst.op for inst in instructions if inst.op in ("concat", "slice", "reshape")
              and inst.result.id not in program.memory_plan.elided]
    return sum(inst.op == "mpi_allreduce" for inst in instructions), copies


def collective_values(hvd):
    """hvd.allreduce/allgather/broadcast of rank-dependent tensors, compiled and interpreted."""
    from tests.helpers import interpret_graph

    with tf.Graph().as_default():
        value = tf.placeholder(tf.float32, [2, 3])
        count = tf.placeholder(tf.int64, [3])
        fetches = [hvd.allreduce(value), hvd.allreduce(value, op=hvd.Sum), hvd.allgather(value),
                   hvd.broadcast(value, 1), hvd.allreduce(count, op=hvd.Sum), hvd.allgather(count)]
        gradient = tf.gradients(tf.reduce_sum(hvd.allgather(value) * hvd.allgather(value)), value)[0]
        fetches.append(gradient)
        rank = hvd.rank()
        feeds = {value: np.arange(6, dtype=np.float32).reshape(2, 3) + 10 * rank, count: [rank, 1, 2 ** 40]}
        compiled = tf.Session().run(fetches, feeds)
        interpreted = interpret_graph(fetches, feeds)
    return compiled, interpreted


def _broadcast_hook(session):
    import graphc.horovod as hvd

    hook = hvd.BroadcastGlobalVariablesHook(0)
    hook.begin()
    hook.after_create_session(session, None)


def main(out: Path):
    import graphc.horovod as hvd

    hvd.init()
    half = BATCH // hvd.size()
    rows = slice(hvd.rank() * half, (hvd.rank() + 1) * half)
    results = {}
    for name in OPTIMIZERS:
        # Each rank initialises its own way (seed 1 + rank): only the broadcast of rank 0's values (the op, or
        # the hook for momentum) makes them start where the single process (seed 1) starts.
        weights = train(rows, name, wrap=hvd.DistributedOptimizer, start=_broadcast_hook if name == "momentum"
                        else lambda session: session.run(hvd.broadcast_global_variables(0)), seed=1 + hvd.rank())
        results.update({f"{name}:{key}": value for key, value in weights.items()})
    results["allreduces"], results["copies"] = fused_step_kernels(hvd)
    compiled, interpreted = collective_values(hvd)
    results.update({f"compiled:{i}": v for i, v in enumerate(compiled)})
    results.update({f"interpreted:{i}": v for i, v in enumerate(interpreted)})
    results["size"], results["rank"] = hvd.size(), hvd.rank()
    results["local"] = np.array([hvd.local_size(), hvd.local_rank()])
    np.savez(out / f"rank{hvd.rank()}.npz", **results)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
