"""The on-disk cache: a second process skips compilation; damaged entries are rebuilt; its size is bounded."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from graphc import errors

PROGRAM = textwrap.dedent("""
    import os, sys
    import numpy as np
    import graphc as tf
    from graphc.backend import toolchain
    if os.environ.get("FORBID_COMPILE"):
        def refuse(*args, **kwargs):
            raise SystemExit("compiled although the cache should have been used")
        toolchain.compile_modules = toolchain.Compilation = refuse
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones([3, 2]))
    y = tf.reduce_sum(tf.matmul(x, w))
    sess = tf.Session()
    sess.run(w.initializer)
    print(sess.run(y, {x: np.ones((4, 3))}))
""")


def run_program(cache_dir, forbid_compile=False, program=PROGRAM):
    _seed_libraries(cache_dir)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir))
    if forbid_compile:
        env["FORBID_COMPILE"] = "1"
    # A time limit: a FIFO in the cache once made every run hang.
    return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=300)


def _seed_libraries(cache_dir):
    """Copies the runtime and GEMM libraries (built once per machine) into a fresh cache."""
    from graphc.backend import libraries

    if not cache_dir.exists():
        cache_dir.mkdir(mode=0o700)
    for find in (libraries.runtime_library, libraries.gemm_library):
        with find() as library:
            for source in (library.path, library.path.with_suffix(".sha256")):
                if not (cache_dir / source.name).exists():
                    shutil.copy2(source, cache_dir / source.name)


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
    with pytest.raises(errors.PermissionDeniedError, match="belongs to user 65534"):
        cache.cache_dir()


def _step_libraries(cache_dir) -> list:
    return sorted(p for p in cache_dir.glob("*.so") if not p.name.startswith("libgraphc_"))


def test_empty_library_with_matching_checksum_is_rebuilt(tmp_path):
    # A full disk can leave one: dlopen said "file too short" on every run, and it was never rebuilt.
    assert run_program(tmp_path).returncode == 0
    for library in _step_libraries(tmp_path):
        library.write_bytes(b"")
        library.with_suffix(".sha256").write_text("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    result = run_program(tmp_path)
    assert result.returncode == 0 and result.stdout == "24.0\n", result.stderr
    assert all(library.stat().st_size > 0 for library in _step_libraries(tmp_path))


def test_fifo_in_place_of_a_library_is_replaced_not_read(tmp_path):
    # Reading it waited forever for a writer.
    assert run_program(tmp_path).returncode == 0
    for library in _step_libraries(tmp_path):
        library.unlink()
        os.mkfifo(library)
    result = run_program(tmp_path)
    assert result.returncode == 0 and result.stdout == "24.0\n", result.stderr
    assert all(stat.S_ISREG(library.stat().st_mode) for library in _step_libraries(tmp_path))


def test_directory_in_place_of_a_library_is_an_internal_error_naming_it(tmp_path):
    assert run_program(tmp_path).returncode == 0
    library = _step_libraries(tmp_path)[0]
    library.unlink()
    library.mkdir()
    result = run_program(tmp_path)
    assert result.returncode != 0
    assert f"InternalError: graphc's cache entry {library} is a directory, not a file: remove it" in result.stderr


RANDOM_PROGRAM = textwrap.dedent("""
    import os
    import graphc as tf
    from graphc.backend import toolchain
    if os.environ.get("FORBID_COMPILE"):
        def refuse(*args, **kwargs):
            raise SystemExit("compiled although the cache should have been used")
        toolchain.compile_modules = toolchain.Compilation = refuse
    noise = tf.random_normal([2, 3])  # no seed: each process draws new ones
    print(tf.Session().run(tf.random_uniform([4]) + tf.reduce_sum(noise)).shape)
""")


def test_processes_running_unseeded_random_ops_compile_once(tmp_path):
    # The seeds are data passed at run time, not code: the second process finds the first one's library.
    first = run_program(tmp_path, program=RANDOM_PROGRAM)
    assert first.returncode == 0, first.stderr
    second = run_program(tmp_path, forbid_compile=True, program=RANDOM_PROGRAM)
    assert second.returncode == 0 and second.stdout == first.stdout == "(4,)\n", second.stderr


def _fake_entry(cache_dir, stem: str, size: int, last_use: float) -> None:
    (cache_dir / f"{stem}.so").write_bytes(b"\x7fELF" + bytes(size - 4))
    (cache_dir / f"{stem}.sha256").write_text("0" * 64)
    for suffix in (".so", ".sha256"):
        os.utime(cache_dir / f"{stem}{suffix}", (last_use, last_use))


def test_storing_an_entry_deletes_the_least_recently_used_beyond_the_bound(tmp_path, setenv):
    from graphc.runtime import cache

    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    setenv("GRAPHC_CACHE_DIR", str(directory))
    setenv("GRAPHC_CACHE_MAX_BYTES", "2500")  # two entries of 1,000 + 64 bytes fit, three do not
    now = time.time()
    for stem, last_use in (("oldest", now - 300), ("older", now - 200), ("recent", now - 100)):
        _fake_entry(directory, stem, 1000, last_use)
    assert cache.cached_file("oldest.so") is None  # a miss (no valid checksum) is no use
    stored = cache.store_file("new.so", lambda path: path.write_bytes(bytes(1000)))
    stored.close()
    assert sorted(p.name for p in directory.iterdir()) == ["new.sha256", "new.so", "recent.sha256", "recent.so"]


def test_a_cache_hit_counts_as_a_use(tmp_path, setenv):
    from graphc.runtime import cache

    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    setenv("GRAPHC_CACHE_DIR", str(directory))
    setenv("GRAPHC_CACHE_MAX_BYTES", "2500")
    cache.store_file("oldest.so", lambda path: path.write_bytes(bytes(1000))).close()
    os.utime(directory / "oldest.sha256", (time.time() - 300,) * 2)
    _fake_entry(directory, "recent", 1000, time.time() - 100)
    with cache.cached_file("oldest.so") as hit:  # verified: now the most recently used
        assert hit.path == directory / "oldest.so"
    cache.store_file("new.so", lambda path: path.write_bytes(bytes(1000))).close()
    assert sorted(p.name for p in directory.iterdir()) == ["new.sha256", "new.so", "oldest.sha256", "oldest.so"]


def test_a_library_evicted_from_disk_keeps_running_in_the_process_that_loaded_it(tmp_path, setenv):
    # Eviction unlinks the file; on Linux a mapped file lives on, unnamed, until it is unmapped, so the
    # session that loaded it keeps running it (and a process that wants it later builds it again).
    import numpy as np

    import graphc as tf
    from graphc.compiler import driver

    driver.load_runtime()  # from the usual cache: only the steps' libraries go to this one
    setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    setenv("GRAPHC_CACHE_MAX_BYTES", "1")  # every entry stored evicts all the others
    x = tf.placeholder(tf.float32, [None])
    total = tf.reduce_sum(x * 2)
    sess = tf.Session()
    assert float(sess.run(total, {x: np.ones(3, np.float32)})) == 6
    [first] = _step_libraries(tmp_path)
    assert float(sess.run(total, {x: np.ones(4, np.float32)})) == 8  # a second library: the first is deleted
    assert not first.exists() and len(_step_libraries(tmp_path)) == 1
    with open("/proc/self/maps") as maps:
        assert f"{first} (deleted)" in maps.read()  # still mapped
    compiled = driver.compile_step
    try:
        driver.compile_step = None  # a recompile would fail: the loaded step runs
        assert float(sess.run(total, {x: np.full(3, 2, np.float32)})) == 12
    finally:
        driver.compile_step = compiled


def test_a_process_looks_at_the_cache_size_on_its_first_store_then_after_each_sixteenth_of_the_bound(
        tmp_path, setenv):
    # Looking reads every entry's size; after each store, it cost seconds a compile in a cache of many entries.
    from graphc.runtime import cache

    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    setenv("GRAPHC_CACHE_DIR", str(directory))
    setenv("GRAPHC_CACHE_MAX_BYTES", "16000")  # looks 1,000 bytes apart; frees down to 15,000
    _fake_entry(directory, "old", 20000, time.time() - 300)
    cache.store_file("first.so", lambda path: path.write_bytes(bytes(100))).close()  # the first store: looks
    assert not (directory / "old.so").exists()
    _fake_entry(directory, "old", 20000, time.time() - 300)
    cache.store_file("second.so", lambda path: path.write_bytes(bytes(800))).close()  # 800 since: no look
    assert (directory / "old.so").exists()
    cache.store_file("third.so", lambda path: path.write_bytes(bytes(300))).close()  # 1,100 since: looks
    assert sorted(p.name for p in directory.iterdir()) == [
        "first.sha256", "first.so", "second.sha256", "second.so", "third.sha256", "third.so"]
