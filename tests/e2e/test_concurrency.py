"""Session.run from several Python threads at once: right answers, no lost updates, one compile per signature."""

from __future__ import annotations

import threading

import numpy as np

import graphc as tf
from graphc.compiler import driver

THREADS = 4
RUNS = 50


def run_in_threads(work, threads: int = THREADS) -> list:
    """work(index) in `threads` threads released together; re-raises the first failure."""
    barrier = threading.Barrier(threads)
    results, failures = [None] * threads, []

    def body(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as error:  # reported to the test below
            failures.append(error)

    workers = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers), "a thread hung"
    if failures:
        raise failures[0]
    return results


def _product_graph():
    # Big enough for the GEMM library, which packs panels into per-thread scratch memory.
    x = tf.placeholder(tf.float32, [None, 300])
    w = tf.Variable(np.random.RandomState(0).uniform(-1, 1, (300, 100)).astype(np.float32))
    return x, w, tf.nn.relu(tf.matmul(x, w))


def test_threads_sharing_one_session_get_their_own_answers(monkeypatch):
    compiles = []
    original = driver.compile_step
    monkeypatch.setattr(driver, "compile_step", lambda *a: compiles.append(1) or original(*a))
    x, w, y = _product_graph()
    sess = tf.Session()
    sess.run(w.initializer)
    weights = sess.run(w)

    def work(index):
        rng = np.random.RandomState(index)
        for run in range(RUNS):
            batch = rng.uniform(-1, 1, (64 + 8 * (run % 2), 300)).astype(np.float32)  # two signatures
            expected = np.maximum(batch @ weights, 0)
            np.testing.assert_allclose(sess.run(y, {x: batch}), expected, rtol=1e-4, atol=1e-4)
        return RUNS

    assert sum(run_in_threads(work)) == THREADS * RUNS
    assert len(compiles) == 4  # the initializer, reading w, and two batch sizes: each compiled once


def test_threads_with_their_own_sessions_run_at_the_same_time():
    # Sessions do not share a lock, so their GEMMs overlap: scratch memory must be per thread.
    x, w, y = _product_graph()
    sessions = [tf.Session() for _ in range(THREADS)]
    for sess in sessions:
        sess.run(w.initializer)
    weights = sessions[0].run(w)

    def work(index):
        rng = np.random.RandomState(100 + index)
        for _ in range(RUNS):
            batch = rng.uniform(-1, 1, (96, 300)).astype(np.float32)
            np.testing.assert_allclose(sessions[index].run(y, {x: batch}), np.maximum(batch @ weights, 0),
                                       rtol=1e-4, atol=1e-4)
        return RUNS

    assert sum(run_in_threads(work)) == THREADS * RUNS


def test_concurrent_updates_are_never_lost():
    counter = tf.Variable(0, name="counter")
    total = tf.Variable(0.0, dtype=tf.float64, name="total")
    amount = tf.placeholder(tf.float64, [])
    update = [tf.assign_add(counter, 1), tf.assign_add(total, amount)]
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())

    def work(index):
        for _ in range(RUNS):
            sess.run(update, {amount: float(index + 1)})

    run_in_threads(work)
    assert sess.run(counter) == THREADS * RUNS
    assert sess.run(total) == RUNS * sum(range(1, THREADS + 1))
