"""The on-disk cache: a second process skips compilation; damaged entries are rebuilt."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent("""
    import os, sys
    import numpy as np
    import graphc as tf
    from graphc.backend import toolchain
    if os.environ.get("FORBID_COMPILE"):
        def refuse(*args, **kwargs):
            raise SystemExit("compiled although the cache should have been used")
        toolchain.compile_modules = refuse
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
    from graphc.compiler import driver
    from graphc.runtime import cache

    driver.load_runtime()
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


def test_processes_compiling_one_signature_at_once_all_load_a_whole_library(tmp_path):
    # Each writes its library under a temporary name and renames it into place, so no process
    # ever opens a half-written file; all of them must print the right answer.
    _seed_libraries(tmp_path)
    go = tmp_path / "go"
    waiting = f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path))
    processes = [subprocess.Popen([sys.executable, "-c", waiting + PROGRAM], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    go.touch()
    results = [p.communicate(timeout=300) + (p.returncode,) for p in processes]
    for stdout, stderr, code in results:
        assert code == 0 and stdout == "24.0\n", stderr
    go.unlink()
    libraries = [p for p in tmp_path.glob("*.so") if not p.name.startswith("libgraphc_")]
    assert libraries and all(p.with_suffix(".sha256").exists() for p in libraries)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()], "temporary build directories left behind"
    assert run_program(tmp_path, forbid_compile=True).stdout == "24.0\n"


def test_cache_owned_by_another_user_is_refused(tmp_path, setenv):
    from graphc.runtime import cache

    if os.getuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, -1)
    setenv("GRAPHC_CACHE_DIR", str(foreign))
    with pytest.raises(PermissionError, match="belongs to user 65534"):
        cache.cache_dir()
