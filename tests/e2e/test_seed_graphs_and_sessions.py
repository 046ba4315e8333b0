"""Seed document 004's snippets (tests/e2e/seed_programs/graphs_and_sessions.py) run as a program, unmodified
but for `import graphc as tf`, and print what TensorFlow 2.21 prints.

The oracle test runs the same file with `import tensorflow.compat.v1 as tf`
(when TF is installed); the expected output below is TF's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.tf_oracle import skip_without_tensorflow

PROGRAM = Path(__file__).parent / "seed_programs" / "graphs_and_sessions.py"
_CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"

# What TF 2.21 prints (its placement log included: log_device_placement=True).
EXPECTED = [
    'Tensor("Const:0", shape=(), dtype=float32)',
    'Tensor("Const_1:0", shape=(), dtype=float32)',
    'Tensor("Add:0", shape=(), dtype=float32)',
    "True True",
    'Tensor("Const:0", shape=(), dtype=float32) True True',
    "answer:0 answer_1:0",
    "/device:GPU:0 /device:GPU:0",
    "True",
    f"Add: (AddV2): {_CPU0}",
    f"sum_ma: (AddV2): {_CPU0}",
    f"Const: (Const): {_CPU0}",
    f"Const_1: (Const): {_CPU0}",
    f"answer: (Const): {_CPU0}",
    f"answer_1: (Const): {_CPU0}",
    f"Placeholder: (Placeholder): {_CPU0}",
    "[np.float32(11.0), np.float32(11.0), np.float32(5.0), np.float32(6.0), array([[1., 2., 3.],",
    "       [4., 5., 6.]], dtype=float32)]",
    "InvalidArgumentError: Cannot assign a device for operation sum_ma: {{node sum_ma}} was explicitly assigned to "
    f"/device:GPU:0 but available devices are [ {_CPU0} ]. Make sure the device specification refers to a valid "
    "device. The requested device appears to be a GPU, but CUDA is not enabled.",
    "(2, 3) (3, 2) int32",
    "ValueError",
    "my_scope1/var1:0 True name/var2:0 True",
    "[b'v' b'my_scope1/var1' b'name/var2']",
    "3.0 10.0 (2, 3)",
]


def _run(program: Path, logdir: Path) -> list:
    result = subprocess.run([sys.executable, str(program), str(logdir)], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]),
                                                                              os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_the_program_prints_what_tensorflow_prints(tmp_path):
    assert _run(PROGRAM, tmp_path / "logs") == EXPECTED
    events = EventAccumulator(str(tmp_path / "logs"))
    events.Reload()
    devices = {node.name: node.device for node in events.Graph().node}
    assert devices["sum_ma"] == "/device:GPU:0" and devices["Add"] == ""


def test_tensorflow_2_21_prints_what_the_table_says(tmp_path):
    skip_without_tensorflow()
    program = tmp_path / PROGRAM.name
    text = PROGRAM.read_text()
    assert text.count("import graphc as tf") == 1
    program.write_text(text.replace("import graphc as tf", "import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()"))
    assert _run(program, tmp_path / "logs") == EXPECTED
