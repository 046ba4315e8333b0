"""Asynchronous data parallel training: a parameter server on MPI one-sided communication.

    opt = graphc.distribute.AsyncOptimizer(tf.train.MomentumOptimizer(0.01, 0.9))
    train_op = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with opt.join(sess) as worker:                # rank 0's values become the shared parameters
            for x, y in my_shard_of_the_data:
                worker.run(train_op, {images: x, labels: y})
        # here every rank's variables hold the final shared parameters

See parameter_server.py for the protocol and its staleness semantics.
"""

from graphc.distribute.parameter_server import AsyncOptimizer, AsyncWorker

__all__ = ["AsyncOptimizer", "AsyncWorker"]
