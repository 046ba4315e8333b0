"""One rank of `make bench-distributed` (benchmarks/distributed.py starts it under mpirun).

    distributed_worker.py graphc|torch mlp|cnn sync|async STEPS

Trains the workload's model (workloads.py: the benchmark's MLP with SGD, or the
tutorial CNN with Adam) on batches of 100 per rank, each rank on its own
batches, one thread per rank: graphc with hvd.DistributedOptimizer (sync) or
graphc.distribute.AsyncOptimizer (async), or PyTorch DistributedDataParallel
(gloo; sync only). After warm-up steps, all ranks start together and rank 0
prints the images per second of all ranks from the first timed step to the
last rank's end, as a JSON line.
"""

import json
import os
import sys
import time

os.environ["GRAPHC_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

import workloads  # noqa: E402

WARMUP_STEPS = 3


def graphc_step(model: str, mode: str, rank: int, size: int):
    """(run one step on batch i, barrier) for graphc."""
    import graphc as tf
    import graphc.distribute
    import graphc.horovod as hvd
    import graphc_steps

    hvd.init()
    workload = workloads.mlp_workload(1) if model == "mlp" else workloads.cnn_workload(1)
    inputs = tf.placeholder(tf.float32, [None] + list(workload.batches[0][0].shape[1:]))
    labels = tf.placeholder(tf.int32, [None])
    variables = [(tf.Variable(weights), tf.Variable(biases)) for weights, biases in workload.params]
    loss = (graphc_steps._mlp_loss if model == "mlp" else graphc_steps._cnn_loss)(inputs, labels, variables)
    if workload.optimizer == "adam":
        optimizer = tf.train.AdamOptimizer(workload.learning_rate, workloads.ADAM_BETA1, workloads.ADAM_BETA2,
                                           workloads.ADAM_EPSILON)
    else:
        optimizer = tf.train.GradientDescentOptimizer(workload.learning_rate)
    optimizer = hvd.DistributedOptimizer(optimizer) if mode == "sync" else graphc.distribute.AsyncOptimizer(optimizer)
    train_op = optimizer.minimize(loss)
    session = tf.Session()
    session.run(tf.global_variables_initializer())
    session.run(hvd.broadcast_global_variables(0))
    feeds = [{inputs: x, labels: y} for x, y in workload.batches[rank::size]]
    if mode == "sync":
        def step(i):
            session.run(train_op, feeds[i % len(feeds)])
    else:
        worker = optimizer.join(session)

        def step(i):
            worker.run(train_op, feeds[i % len(feeds)])
    return step, graphc.horovod.world.world().communicator.Barrier


def torch_step(model: str, mode: str, rank: int, size: int):
    """(run one step on batch i, barrier) for PyTorch DistributedDataParallel over gloo."""
    import torch
    import torch.distributed as dist
    import torch_steps

    if mode != "sync":
        raise SystemExit("PyTorch DDP is synchronous only")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}", rank=rank,
                            world_size=size)
    workload = workloads.mlp_workload(1) if model == "mlp" else workloads.cnn_workload(1)
    trainer = (torch_steps.mlp_trainer if model == "mlp" else torch_steps.cnn_trainer)(workload)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.params = torch.nn.ParameterList([torch.nn.Parameter(p.detach().clone()) for p in trainer.params])

        def forward(self, images, labels):
            return trainer.loss_of(list(self.params), images, labels)

    ddp = torch.nn.parallel.DistributedDataParallel(Model())
    if workload.optimizer == "adam":
        optimizer = torch.optim.Adam(ddp.parameters(), lr=workload.learning_rate,
                                     betas=(workloads.ADAM_BETA1, workloads.ADAM_BETA2), eps=workloads.ADAM_EPSILON)
    else:
        optimizer = torch.optim.SGD(ddp.parameters(), lr=workload.learning_rate)
    batches = [trainer.prepare(x, y) for x, y in workload.batches[rank::size]]

    def step(i):
        optimizer.zero_grad(set_to_none=True)
        ddp(*batches[i % len(batches)]).backward()
        optimizer.step()

    return step, dist.barrier


def main(framework: str, model: str, mode: str, steps: int) -> None:
    from mpi4py import MPI

    rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
    step, barrier = (graphc_step if framework == "graphc" else torch_step)(model, mode, rank, size)
    for i in range(WARMUP_STEPS):
        step(i)
    barrier()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        images = size * steps * workloads.MLP_BATCH_SIZE
        print(json.dumps({"framework": framework, "model": model, "mode": mode, "ranks": size,
                          "images_per_second": images / seconds, "step_ms": 1000 * seconds / steps}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
