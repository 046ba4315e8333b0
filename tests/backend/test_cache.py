"""The on-disk cache: a second process skips compilation; damaged entries are rebuilt."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent("""
    import os, sys
    import numpy as np
    import graphc as tf
    from graphc.backend import toolchain
    if os.environ.get("FORBID_COMPILE"):
        def refuse(*args, **kwargs):
            raise SystemExit("compiled although the cache should have been used")
        toolchain.compile_to_objects = refuse
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones([3, 2]))
    y = tf.reduce_sum(tf.matmul(x, w))
    sess = tf.Session()
    sess.run(w.initializer)
    print(sess.run(y, {x: np.ones((4, 3))}))
""")


def run_program(cache_dir, forbid_compile=False):
    _seed_libraries(cache_dir)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir))
    if forbid_compile:
        env["FORBID_COMPILE"] = "1"
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True)


def _seed_libraries(cache_dir):
    """Copies the runtime and GEMM libraries (built once per machine) into a fresh cache."""
    from graphc.backend import cache, runtime

    runtime.ensure_loaded()
    if not cache_dir.exists():
        cache_dir.mkdir(mode=0o700)
    for library in cache.cache_dir().glob("libgraphc_*"):
        target = cache_dir / library.name
        if not target.exists():
            shutil.copy2(library, target)


def test_second_process_loads_from_disk(tmp_path):
    first = run_program(tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_program(tmp_path, forbid_compile=True)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout == "24.0\n"


def test_damaged_library_is_rebuilt_not_loaded(tmp_path):
    assert run_program(tmp_path).returncode == 0
    for library in tmp_path.glob("*.so"):
        library.write_bytes(library.read_bytes()[:100])
    assert run_program(tmp_path, forbid_compile=True).returncode != 0  # it had to compile again
    result = run_program(tmp_path)
    assert result.returncode == 0 and result.stdout == "24.0\n"


def test_cache_directory_is_private(tmp_path):
    cache = tmp_path / "fresh"
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache))
    assert subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True).returncode == 0
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0


def test_cache_writable_by_others_is_refused(tmp_path):
    _seed_libraries(tmp_path)
    tmp_path.chmod(0o777)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "other users can write" in result.stderr
