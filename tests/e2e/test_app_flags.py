"""`tf.app.flags` and `tf.app.run` in a TF1 program, run as a program, against TF 2.21's (absl's) behaviour.

The same script runs with `import graphc as tf` here (compared with TF's output,
pinned below) and, in the oracle test, with `tensorflow.compat.v1` when it is
installed: the same stdout, the same exit status, the same exception.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.tf_oracle import skip_without_tensorflow

SCRIPT = '''
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
IMPORT_LINE
flags = tf.app.flags
FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "/tmp/data", "Directory for data.")
flags.DEFINE_integer("max_steps", 2000, "Number of steps to run trainer.", lower_bound=0)
flags.DEFINE_float("learning_rate", 0.01, "Initial learning rate.")
flags.DEFINE_boolean("fake_data", False, "If true, uses fake data for unit testing.")
flags.DEFINE_bool("log", True, "Log things.")


def main(argv):
    print("argv", argv[1:])
    print("values", FLAGS.data_dir, FLAGS.max_steps, FLAGS.learning_rate, FLAGS.fake_data, FLAGS.log)
    try:
        flags.DEFINE_string("data_dir", "x", "again")
    except Exception as e:
        print(type(e).__name__, e)
    FLAGS.max_steps = 5
    print("set", FLAGS.max_steps, tf.flags is flags)
    return 3


if __name__ == "__main__":
    tf.app.run()
'''

RUNS = {
    "flags and positional arguments": ["--max_steps=10", "--fake_data", "--nolog", "--learning_rate", "0.5", "pos1",
                                       "--unknown=3", "pos2"],
    "--help": ["--help"],
    "a bad integer": ["--max_steps=abc"],
    "an integer below its bound": ["--max_steps", "-1"],
}

# TF 2.21's answers: (exit status, stdout, the last line of stderr).
EXPECTED = {
    "flags and positional arguments": (3, [
        "argv ['pos1', '--unknown=3', 'pos2']",
        "values /tmp/data 10 0.5 True False",
        "DuplicateFlagError The flag 'data_dir' is defined twice. First from train.py, second from train.py. "
        "Description from first occurrence: Directory for data.",
        "set 5 True"], ""),
    "--help": (1, [
        "",
        "       USAGE: train.py [flags]",
        "flags:",
        "",
        "train.py:",
        "  --data_dir: Directory for data.",
        "    (default: '/tmp/data')",
        "  --[no]fake_data: If true, uses fake data for unit testing.",
        "    (default: 'false')",
        "  --learning_rate: Initial learning rate.",
        "    (default: '0.01')",
        "    (a number)",
        "  --[no]log: Log things.",
        "    (default: 'true')",
        "  --max_steps: Number of steps to run trainer.",
        "    (default: '2000')",
        "    (a non-negative integer)",
        "",
        "Try --helpfull to get a list of all flags."], ""),
    "a bad integer": (1, [], "IllegalFlagValueError: flag --max_steps=abc: invalid literal for int() with base 10: "
                             "'abc'"),
    "an integer below its bound": (1, [], "IllegalFlagValueError: flag --max_steps=-1: -1 is not a non-negative "
                                          "integer"),
}


def _start(directory, import_line: str, arguments: list) -> subprocess.Popen:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "train.py")
    with open(path, "w") as f:
        f.write(SCRIPT.replace("IMPORT_LINE", import_line))
    return subprocess.Popen([sys.executable, "train.py", *arguments], cwd=directory, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [os.getcwd(), os.environ.get("PYTHONPATH", "")])})


def _outcome(process: subprocess.Popen):
    stdout, stderr = process.communicate(timeout=300)
    last_error = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return process.returncode, stdout.splitlines(), last_error.rpartition(".")[2] if "Error:" in last_error else ""


@pytest.mark.parametrize("name", sorted(RUNS))
def test_graphc_runs_the_program_as_tensorflow_does(name, tmp_path):
    outcome = _outcome(_start(tmp_path, "import graphc as tf", RUNS[name]))
    assert outcome == EXPECTED[name]


def test_tensorflow_2_21_runs_it_as_the_table_says(tmp_path):
    skip_without_tensorflow()
    started = {name: _start(tmp_path / str(i), "import tensorflow.compat.v1 as tf", arguments)
               for i, (name, arguments) in enumerate(sorted(RUNS.items()))}
    assert {name: _outcome(process) for name, process in started.items()} == EXPECTED
