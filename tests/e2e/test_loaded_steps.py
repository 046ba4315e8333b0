"""A session keeps at most GRAPHC_MAX_LOADED_STEPS compiled steps loaded: the least recently used is unloaded
(its library unmapped), and loaded again, with the same answers, when its signature runs again."""

import numpy as np

import graphc as tf
from graphc.compiler import driver


def _mapped_libraries(directory) -> set:
    """The files under `directory` mapped into this process (what the dynamic loader keeps loaded)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split(maxsplit=5)[5].strip() for line in maps if len(line.split(maxsplit=5)) == 6}
    return {path for path in paths if path.startswith(f"{directory}/")}


def _sums(sess, total, x, sizes):
    return [float(sess.run(total, {x: np.arange(n, dtype=np.float32)})) for n in sizes]


def test_a_session_keeps_at_most_the_configured_number_of_steps_loaded(tmp_path, setenv):
    # 2,000 batch sizes once kept 2,000 libraries mapped (RSS 220 -> 612 MiB, 10,291 mappings).
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    setenv("GRAPHC_MAX_LOADED_STEPS", "2")
    x = tf.placeholder(tf.float32, [None])
    total = tf.reduce_sum(x * 2)
    sess = tf.Session()
    assert _sums(sess, total, x, range(1, 6)) == [0, 2, 6, 12, 20]  # n (n - 1)
    assert len(_mapped_libraries(tmp_path)) == 2
    assert _sums(sess, total, x, [1, 2]) == [0, 2]  # unloaded before: loaded again
    assert len(_mapped_libraries(tmp_path)) == 2
    sess.close()
    assert not _mapped_libraries(tmp_path)


def test_a_step_run_since_is_not_the_one_unloaded(tmp_path, setenv, monkeypatch):
    # Runs through a call's fast path mark their step used; the least recently used is unloaded.
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    setenv("GRAPHC_MAX_LOADED_STEPS", "2")
    compiled = []
    compile_step = driver.compile_step
    monkeypatch.setattr(driver, "compile_step", lambda *args: compiled.append(args[1]) or compile_step(*args))
    x = tf.placeholder(tf.float32, [None])
    total = tf.reduce_sum(x * 2)
    sess = tf.Session()
    assert _sums(sess, total, x, [1, 2, 1, 3, 1]) == [0, 2, 0, 6, 0]  # 1 ran after 2: 2 is unloaded for 3
    assert len(compiled) == 3
    assert _sums(sess, total, x, [2]) == [2]
    assert len(compiled) == 4


def test_a_call_looked_up_before_its_step_was_unloaded_loads_it_again(tmp_path, setenv):
    # Another thread may unload the step between a call's look-up and its run: the run loads it again.
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    setenv("GRAPHC_MAX_LOADED_STEPS", "1")
    x = tf.placeholder(tf.float32, [None])
    total = tf.reduce_sum(x * 2)
    sess = tf.Session()
    _sums(sess, total, x, [3])
    [runner] = sess._runners.values()
    looked_up = runner.by_shapes[((3,),)]
    _sums(sess, total, x, [4])
    assert not looked_up.step.executable.loaded
    assert float(looked_up([np.arange(3, dtype=np.float32)])) == 6
