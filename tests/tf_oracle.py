"""TensorFlow as an oracle for tests: what TF 2.21 (tensorflow.compat.v1, v2 behaviour off) does with a case.

The tests pin TF's answers as literals; these helpers let them also ask TF itself
when it is installed, and skip, saying `pip install tensorflow-cpu`, when it is
not. TF runs in a child process: its LLVM and llvmlite's do not share one.
graphc itself never imports TensorFlow. TF's oneDNN rewrites are off
(TF_ENABLE_ONEDNN_OPTS=0): on CPUs where TF turns them on by default (AVX-512
ones) they answer some cases differently from TF's own kernels — an AvgPool
across depth returns an empty tensor instead of TF's UnimplementedError.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

_ROOT = pathlib.Path(__file__).resolve().parent.parent

_CHILD = """
import importlib.util, json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
spec = importlib.util.spec_from_file_location("cases", sys.argv[1])
module = sys.modules["cases"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
cases = getattr(module, sys.argv[2])
answers = {}
for name, entry in cases.items():
    build = entry[0] if isinstance(entry, tuple) else entry
    tf.reset_default_graph()
    try:
        answers[name] = ["OK", repr(build(tf))]
    except Exception as e:
        answers[name] = [type(e).__name__, str(getattr(e, "message", None) or e)]
print(json.dumps(answers))
"""


def skip_without_tensorflow() -> None:
    """Skips the test, naming the extra that installs TensorFlow, when it is not installed."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed to compare graphc with: the [tf-oracle] extra, pip install -e .[tf-oracle]")


def tensorflow_answers(path: str, table: str) -> dict:
    """{name: [exception class name, or "OK"; message, or the repr of what it returned]} for each
    `build(tf)` in the dict `table` (name -> build, or a tuple that starts with it) of the test module at
    `path`, run with TensorFlow as `tf`."""
    skip_without_tensorflow()
    result = subprocess.run([sys.executable, "-c", _CHILD, path, table], capture_output=True, text=True,
                            cwd=_ROOT, timeout=900, check=False)
    if result.returncode != 0:
        raise AssertionError(f"TensorFlow's run of {table} in {path} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_tensorflow(script: str, *args: str) -> str:
    """The standard output of `script` (Python source using TensorFlow) run in a child process with
    `args` as sys.argv[1:]; skips, naming the extra, when TensorFlow is not installed."""
    skip_without_tensorflow()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")  # TF's own kernels
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=_ROOT,
                            timeout=900, check=False, env=environment)
    if result.returncode != 0:
        raise AssertionError(f"TensorFlow's run failed:\n{result.stderr[-3000:]}")
    return result.stdout


def table_tests(path: str, table_name: str, table: dict):
    """The two tests of a table {name: (build(tf), TF 2.21's answer)} in the test module at `path`, to assign
    to two module names: graphc answers as the table says (each build in a new default graph), and so does
    TensorFlow (when it is installed; one child process runs the whole table)."""
    names = sorted(table)

    @pytest.mark.parametrize("name", names)
    def test_graphc_answers_as_tensorflow_2_21(name):
        import graphc

        build, expected = table[name]
        with graphc.Graph().as_default():
            assert repr(build(graphc)) == repr(expected)

    answers = functools.cache(lambda: tensorflow_answers(path, table_name))

    @pytest.mark.parametrize("name", names)
    def test_tensorflow_2_21_answers_as_the_table_says(name):
        assert tuple(answers()[name]) == ("OK", repr(table[name][1]))

    return test_graphc_answers_as_tensorflow_2_21, test_tensorflow_2_21_answers_as_the_table_says


def run_program(path, *args: str) -> subprocess.CompletedProcess:
    """`path` (a Python program) run in a child process with `args`, with graphc from this tree."""
    environment = dict(os.environ, PYTHONPATH=str(_ROOT), TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0")
    return subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=_ROOT,
                          timeout=900, env=environment, check=False)


def program_tests(path, expected_stdout: str):
    """The two tests of a program that imports graphc, or TensorFlow when its first argument is `tensorflow`:
    graphc's run prints `expected_stdout` (TF 2.21's output, pinned), and so does TensorFlow's (when
    installed). Assign them to two module names."""

    def test_graphc_prints_what_tensorflow_2_21_prints():
        result = run_program(path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout == expected_stdout

    def test_tensorflow_2_21_prints_the_pinned_output():
        skip_without_tensorflow()
        result = run_program(path, "tensorflow")
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout == expected_stdout

    return test_graphc_prints_what_tensorflow_2_21_prints, test_tensorflow_2_21_prints_the_pinned_output
