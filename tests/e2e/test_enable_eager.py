"""`tf.enable_eager_execution()` in the TF1 namespace switches a TF 1.x program to eager execution, as TF 1.x.

The switch is process-wide, so each case runs as its own program. The program
(`eager_programs/tf1_enable_eager.py`) runs under graphc and, when installed,
TensorFlow: both must print the same; what TF 2.21 prints is pinned too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import tf_oracle

PROGRAM = Path(__file__).parent / "eager_programs" / "tf1_enable_eager.py"
ROOT = Path(__file__).resolve().parents[2]

# TensorFlow 2.21's output (tf.compat.v1 after enable_eager_execution).
TF_OUTPUT = """\
eager True
matmul [[7.0, 10.0], [15.0, 22.0]]
reduce_prod 24.0 cumsum [[1.0, 3.0], [3.0, 7.0]]
softmax [[0.26894, 0.73106], [0.26894, 0.73106]]
GradientDescentOptimizer [1.296, 0.092] 3
MomentumOptimizer [0.873, -0.358] 3
MomentumOptimizer [4.3117, 4.6562] 3
AdamOptimizer [1.0257, -0.4103] 3
AdagradOptimizer [1.0306, -0.4227] 3
RMSPropOptimizer [1.0293, -0.4501] 3
RMSPropOptimizer [1.0415, -0.4254] 3
tape [4.0, 6.0] [-1.0, -2.0]
assign_add [0.0, -1.0]
RuntimeError tf.placeholder() is not compatible with eager execution.
"""


test_graphc_prints_what_tensorflow_2_21_prints, test_tensorflow_2_21_prints_the_pinned_output = \
    tf_oracle.program_tests(PROGRAM, TF_OUTPUT)


def _run_source(source: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)


def test_switching_after_graph_ops_is_a_value_error():
    result = _run_source("import graphc as tf\ntf.constant(1.0)\ntry:\n    tf.enable_eager_execution()\n"
                  "except ValueError as e:\n    print('ValueError', e)\nprint(tf.executing_eagerly())")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "ValueError tf.enable_eager_execution must be called at program startup.\nFalse\n"


def test_graph_mode_is_untouched_without_the_switch():
    result = _run_source("import graphc as tf\nx = tf.constant(2.0)\nprint(tf.executing_eagerly(), type(x).__name__, "
                  "tf.Session().run(x * 3.0))")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == "False Tensor 6.0\n"


def test_what_eager_mode_lacks_is_named():
    result = _run_source("import graphc as tf\ntf.enable_eager_execution()\ntry:\n    tf.get_variable('w', [2])\n"
                         "except tf.errors.UnimplementedError as e:\n    print(e.message)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tf.get_variable is not supported in graphc's eager mode" in result.stdout
