"""A compile never takes the user's process down (issue 12, item 10).

LLVM aborts the process it runs in when it runs out of memory (`LLVM ERROR:
out of memory` under an address-space limit), so it runs in worker processes
(backend/toolchain.py): whatever ends a worker, the session raises and goes
on. Each scenario runs in a process of its own, with a pool of workers of its
own; the workers run a `python` of the test's making (sys.executable) that
sets their limit, crashes or leaves.
"""

import os
import shlex
import shutil
import subprocess
import sys
import textwrap

import pytest

from graphc.compiler import driver
from graphc.runtime import cache

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# 40 layers with weights of their own, their kernels kept in one module of about 4 MB of LLVM IR
# (its instructions alone would spread them over small modules as they are emitted). LLVM needs more
# than 16 MB beyond what a worker has mapped when it starts to compile it, and less than 4 MB for a
# small step: the workers get 8 MB.
BIG_STEP = """
    from graphc.backend import codegen
    codegen.MODULE_COST = 1 << 30
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [64, 64])
    y = x
    for _ in range(40):
        y = tf.tanh(tf.matmul(y, tf.constant(rng.rand(64, 64).astype(np.float32))))
    feed = {x: np.ones((64, 64), np.float32)}
"""


def _python(tmp_path, name: str, prelude: str) -> str:
    """An executable that runs `python -c CODE` as this Python does, after running `prelude`."""
    code = f"import sys\nsys.path.insert(0, {REPOSITORY!r})\n{textwrap.dedent(prelude)}\n" \
           "exec(compile(sys.argv[1], '<worker>', 'exec'))"
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(code)} \"$2\"\n")
    path.chmod(0o755)
    return str(path)


def _run(tmp_path, program: str, **environment) -> subprocess.CompletedProcess:
    """Runs `program` (after importing NumPy and graphc) in a new process with a cache of its own."""
    cache_dir = tmp_path / "cache"
    if not cache_dir.exists():  # the runtime and GEMM libraries, so that nothing compiles before the program
        driver.load_runtime()
        cache_dir.mkdir(mode=0o700)
        for library in cache.cache_dir().glob("libgraphc_*"):
            shutil.copy2(library, cache_dir / library.name)
    source = "import os, sys, time\nimport numpy as np\nimport graphc as tf\n" + textwrap.dedent(program)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir), PYTHONPATH=REPOSITORY, **environment)
    return subprocess.run([sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=600)


def test_llvm_running_out_of_memory_raises_resource_exhausted_and_the_process_goes_on(tmp_path):
    limited = _python(tmp_path, "limited_python", """
        import os, resource
        import llvmlite.binding
        mapped = int(open('/proc/self/statm').read().split()[0]) * os.sysconf('SC_PAGE_SIZE')
        resource.setrlimit(resource.RLIMIT_AS, (mapped + (8 << 20), resource.RLIM_INFINITY))
    """)
    result = _run(tmp_path, f"""
        sys.executable = {limited!r}
        {textwrap.indent(textwrap.dedent(BIG_STEP), "        ").strip()}
        with tf.Session() as sess:
            try:
                sess.run(y, feed)
            except tf.errors.ResourceExhaustedError as error:
                print("ResourceExhaustedError:", error)
            print(sess.run(x[0, 0] * 2.0, feed))  # a small step still compiles, under the same limit
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ResourceExhaustedError: out of memory: the process compiling an LLVM module")
    assert result.stdout.endswith("\n2.0\n")


def test_a_worker_that_crashes_raises_internal_error_and_the_next_compile_starts_another(tmp_path):
    crashing = _python(tmp_path, "crashing_python", "import os; os.abort()")
    result = _run(tmp_path, f"""
        x = tf.placeholder(tf.float32, [3])
        with tf.Session() as sess:
            real, sys.executable = sys.executable, {crashing!r}
            try:
                sess.run(x * 2.0, {{x: np.ones(3)}})
            except tf.errors.InternalError as error:
                print("InternalError:", error)
            sys.executable = real
            print(sess.run(x * 2.0, {{x: np.ones(3)}}))
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = result.stdout.splitlines()
    assert first == "InternalError: the process compiling an LLVM module was killed by SIGABRT"
    assert second == "[2. 2. 2.]"


def test_workers_leave_when_idle_and_come_back_when_needed(tmp_path):
    starts = tmp_path / "starts"
    impatient = _python(tmp_path, "impatient_python", f"""
        from graphc.backend import llvm_worker
        llvm_worker.IDLE_SECONDS = 0.2
        open({str(starts)!r}, "a").write("started\\n")
    """)
    result = _run(tmp_path, f"""
        sys.executable = {impatient!r}
        x = tf.placeholder(tf.float32, [3])
        with tf.Session() as sess:
            print(sess.run(x * 2.0, {{x: np.ones(3)}}))
            time.sleep(1)  # the workers have left
            print(sess.run(x * 3.0, {{x: np.ones(3)}}))
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["[2. 2. 2.]", "[3. 3. 3.]"]
    assert starts.read_text() == "started\n" * 2  # one worker for each one-kernel step


def test_a_worker_that_always_leaves_without_answering_is_replaced_once(tmp_path):
    leaving = _python(tmp_path, "leaving_python", "sys.stdin.buffer.read(1); sys.exit(0)")
    result = _run(tmp_path, f"""
        sys.executable = {leaving!r}
        x = tf.placeholder(tf.float32, [3])
        with tf.Session() as sess:
            try:
                sess.run(x * 2.0, {{x: np.ones(3)}})
            except tf.errors.InternalError as error:
                print("InternalError:", error)
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "InternalError: the process compiling an LLVM module exited with status 0\n"


def test_compiling_in_process_checks_the_address_space_limit_first(tmp_path):
    result = _run(tmp_path, f"""
        import resource
        from graphc.backend import toolchain
        compile_modules = toolchain.compile_modules

        def compile_near_the_limit(*args, **kwargs):  # a process that has used all but 4 MB of its limit
            mapped = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            resource.setrlimit(resource.RLIMIT_AS, (mapped + (4 << 20), resource.RLIM_INFINITY))
            try:
                return compile_modules(*args, **kwargs)
            finally:
                resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        toolchain.compile_modules = compile_near_the_limit
        {textwrap.indent(textwrap.dedent(BIG_STEP), "        ").strip()}
        with tf.Session() as sess:
            try:
                sess.run(y, feed)
            except tf.errors.ResourceExhaustedError as error:
                print("ResourceExhaustedError:", error)
            toolchain.compile_modules = compile_modules
            print(sess.run(x[0, 0] * 2.0, feed))
    """, GRAPHC_PARALLEL_COMPILE="0")
    assert result.returncode == 0, result.stdout + result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("ResourceExhaustedError: out of memory: LLVM needs about")
    assert second == "2.0"


def test_a_stage_running_out_of_memory_raises_resource_exhausted(monkeypatch):
    import graphc as tf

    def exhausted(build):
        raise MemoryError()

    stages = [driver.Stage(stage.name, exhausted) if stage.name == "fuse" else stage for stage in driver.STAGES]
    monkeypatch.setattr(driver, "STAGES", stages)
    x = tf.placeholder(tf.float32, [3])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.ResourceExhaustedError, match=r"out of memory compiling .* \(stage fuse\)"):
            sess.run(x * 2.0, {x: [1.0, 2.0, 3.0]})


def test_a_forked_child_compiles_with_workers_of_its_own(tmp_path):
    # The parent forks while one of its threads holds the compile lock (as in the middle of a
    # compile), then compiles at the same time as the child: the child neither waits for a lock
    # no thread of its own will release nor shares its parent's workers.
    result = _run(tmp_path, """
        import signal
        from graphc.backend import toolchain
        x = tf.placeholder(tf.float32, [3])
        feed = {x: np.ones(3)}
        with tf.Session() as sess:
            sess.run(x * 2.0, feed)  # the workers are started
            toolchain._COMPILE_LOCK.acquire()
            pid = os.fork()
            if pid == 0:
                signal.alarm(30)  # a child left waiting for the lock ends instead
                print("child", sess.run(x * 3.0, feed), flush=True)
                os._exit(0)
            toolchain._COMPILE_LOCK.release()
            print("parent", sess.run(x * 4.0, feed), flush=True)
            print("child status", os.waitpid(pid, 0)[1])
    """)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(result.stdout.splitlines()) == ["child [3. 3. 3.]", "child status 0", "parent [4. 4. 4.]"]
